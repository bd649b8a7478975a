package progress_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
)

// TestPaceCountsLateCommits: a learner's events whose transaction commits after a count
// that already saw a higher event id (another worker's) are counted by the next refresh,
// not only at the learner's next event. The late commit is replayed by taking the events
// (and the completions they counted) out before the count and putting them back after.
func TestPaceCountsLateCommits(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		ctx := context.Background()
		now := h.Clock.Now()
		learnerPath := func(learner int64, first time.Time) {
			t.Helper()
			for i, lesson := range []int64{701, 702, 703} {
				at := first.Add(time.Duration(i) * 24 * time.Hour)
				for _, b := range [][]byte{
					testkit.LessonEventFor(fmt.Sprintf("l%d-%d", learner, lesson), testkit.PublishedGID, at, learner, 70, lesson),
					testkit.ProgressEvent(fmt.Sprintf("p%d-%d", learner, lesson), testkit.PublishedGID, at, learner, 70, fmt.Sprintf("%d.0", 10*(i+1))),
				} {
					if code, out := h.Deliver("school", b, testkit.ClientSecret); code != 200 {
						t.Fatalf("%d %s", code, out)
					}
				}
			}
			h.Drain()
		}
		learnerPath(2, now.Add(-20*24*time.Hour)) // the late one: lower ids
		learnerPath(1, now.Add(-10*24*time.Hour))

		g := h.DB.Gorm()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := g.Exec(q, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		journeys := func() int64 {
			return h.Count("SELECT COUNT(*) FROM pace_journeys WHERE site_id = ? AND course_id = 70 AND learner_id = 2 AND gaps <> ''", site.ID)
		}
		// Not yet committed: neither learner 2's events nor the completions counted with them.
		exec("CREATE TABLE late_events AS SELECT * FROM learner_events WHERE site_id = ? AND learner_id = 2", site.ID)
		if h.Count("SELECT COUNT(*) FROM late_events") == 0 {
			t.Fatal("learner 2 has no events")
		}
		exec("DELETE FROM learner_events WHERE site_id = ? AND learner_id = 2", site.ID)
		exec("UPDATE lesson_stats SET learners = learners - 1 WHERE site_id = ? AND lesson_id IN (701, 702, 703)", site.ID)
		if err := h.DB.CountCoursePace(ctx, site.ID, 70, true); err != nil {
			t.Fatal(err)
		}
		if n := journeys(); n != 0 {
			t.Fatalf("learner 2 counted before their events were: %d", n)
		}
		// The transaction commits.
		if dbURL != "" {
			exec("INSERT INTO learner_events OVERRIDING SYSTEM VALUE SELECT * FROM late_events")
		} else {
			exec("INSERT INTO learner_events SELECT * FROM late_events")
		}
		exec("UPDATE lesson_stats SET learners = learners + 1 WHERE site_id = ? AND lesson_id IN (701, 702, 703)", site.ID)
		if err := h.DB.RefreshPace(ctx); err != nil {
			t.Fatal(err)
		}
		if n := journeys(); n != 1 {
			t.Fatal("the refresh after the late commit did not count learner 2's journey")
		}
	})
}
