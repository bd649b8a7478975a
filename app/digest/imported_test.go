package digest_test

import (
	"context"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
)

// TestDigestCountsAsEveryPage: an enrollment imported at 0 % and never started did not
// "become stalled" when its import-stamped activity aged past the threshold — the pages call
// it not started — while one imported part way did.
func TestDigestCountsAsEveryPage(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		ctx := context.Background()
		now := h.Clock.Now()
		asOf := now.Add(-18 * 24 * time.Hour) // past the 15-day threshold 3 days ago
		zero, part := 0.0, 40.0
		err := h.Worker.ApplyImported(ctx, site.ID, []progress.Imported{
			{ID: 101, LearnerID: 1, CourseID: 70, LearnerEmail: "zero@example.com", Percent: &zero, UpdatedAt: asOf},
			{ID: 102, LearnerID: 2, CourseID: 70, LearnerEmail: "part@example.com", Percent: &part, UpdatedAt: asOf},
		})
		if err != nil {
			t.Fatal(err)
		}
		week, err := h.DB.View(site.ID).DigestWeek(ctx, now.Add(-7*24*time.Hour), now, 15*24*time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if week.StalledCount != 1 || len(week.Stalled) != 1 || week.Stalled[0].LearnerID != 2 {
			t.Fatalf("became stalled: %d %+v, want learner 2 alone", week.StalledCount, week.Stalled)
		}
	})
}
