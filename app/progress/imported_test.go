package progress_test

import (
	"context"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/stride"
)

// fromOf is where the progress step of event id moved from (nil: unknown).
func fromOf(t *testing.T, h *testkit.Harness, site *stride.Site, id string) *float64 {
	t.Helper()
	var out []struct{ PercentBefore *float64 }
	if err := h.DB.Gorm().Raw("SELECT percent_before FROM learner_events WHERE site_id = ? AND event_id = ?", site.ID, id).Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("no step for %s", id)
	}
	return out[0].PercentBefore
}

func wantFrom(t *testing.T, what string, got *float64, want any) {
	t.Helper()
	switch w := want.(type) {
	case nil:
		if got != nil {
			t.Fatalf("%s: moved from %v, want unknown", what, *got)
		}
	case float64:
		if got == nil {
			t.Fatalf("%s: moved from an unknown point, want %v", what, w)
		}
		if *got != w {
			t.Fatalf("%s: moved from %v, want %v", what, *got, w)
		}
	}
}

// TestStepsAfterAnImport: the import's reading of an enrollment is a point of the learner's
// way, not a step: a step after it moves from it, steps arriving out of order around it
// still move from their real neighbours, and a reading taken just after a step (REST's
// updated_at comes a moment before the event's time) does not make that step "from X to X".
func TestStepsAfterAnImport(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		ctx := context.Background()
		now := h.Clock.Now()
		imported := func(learner, course int64, percent float64, asOf time.Time) {
			t.Helper()
			p := percent
			err := h.Worker.ApplyImported(ctx, site.ID, []progress.Imported{{ID: learner*100 + course, LearnerID: learner, CourseID: course,
				LearnerEmail: "l@example.com", Percent: &p, UpdatedAt: asOf}})
			if err != nil {
				t.Fatal(err)
			}
		}
		deliver := func(id string, at time.Time, learner int64, percent string) {
			t.Helper()
			if code, body := h.Deliver("school", testkit.ProgressEvent(id, testkit.PublishedGID, at, learner, 70, percent), testkit.ClientSecret); code != 200 {
				t.Fatalf("%s: %d %s", id, code, body)
			}
		}

		// Learner 1: imported at 50 %; two later steps arrive newest first.
		imported(1, 70, 50, now.Add(-3*time.Hour))
		deliver("one-70", now.Add(-time.Hour), 1, "70.0")
		h.Drain()
		deliver("one-60", now.Add(-2*time.Hour), 1, "60.0")
		h.Drain()
		wantFrom(t, "after the reading, late", fromOf(t, h, site, "one-60"), 50.0)
		wantFrom(t, "the newest step", fromOf(t, h, site, "one-70"), 60.0)

		// Learner 2: at 30 % by webhook; the import reads 40 % a moment before the 30→40
		// step's own event arrives.
		deliver("two-30", now.Add(-time.Hour), 2, "30.0")
		h.Drain()
		imported(2, 70, 40, now.Add(-time.Second))
		deliver("two-40", now, 2, "40.0")
		h.Drain()
		wantFrom(t, "the step the reading already showed", fromOf(t, h, site, "two-40"), 30.0)

		// Learner 3: only the import before; the reading already shows the step: unknown.
		imported(3, 70, 20, now.Add(-time.Second))
		deliver("three-20", now, 3, "20.0")
		h.Drain()
		wantFrom(t, "no step known before the reading", fromOf(t, h, site, "three-20"), nil)

		// Learner 4: imported at 10 %, then moves on in order.
		imported(4, 70, 10, now.Add(-time.Hour))
		deliver("four-25", now, 4, "25.0")
		h.Drain()
		wantFrom(t, "in order after the reading", fromOf(t, h, site, "four-25"), 10.0)
	})
}
