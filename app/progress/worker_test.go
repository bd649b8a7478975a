package progress_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
)

// refuseLearner installs a trigger that makes the database refuse writing learner id, with
// the PostgreSQL error code given (SQLite refuses with a constraint error whatever the code).
func refuseLearner(t *testing.T, h *testkit.Harness, id int64, pgCode string) (drop func()) {
	return refuse(t, h, "learners", id, pgCode)
}

func refuse(t *testing.T, h *testkit.Harness, table string, id int64, pgCode string) (drop func()) {
	t.Helper()
	g := h.DB.Gorm()
	name := fmt.Sprintf("refuse_%s_%d", table, id)
	var stmts []string
	if h.DB.Postgres() {
		stmts = []string{
			fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
				IF NEW.id = %d THEN RAISE EXCEPTION '%s %d refused' USING ERRCODE = '%s'; END IF; RETURN NEW; END $$`, name, id, table[:len(table)-1], id, pgCode),
			fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()`, name, table, name),
		}
	} else {
		stmts = []string{fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON %s WHEN NEW.id = %d BEGIN SELECT RAISE(ABORT, '%s %d refused'); END`, name, table, id, table[:len(table)-1], id)}
	}
	for _, s := range stmts {
		if err := g.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		if err := g.Exec("DROP TRIGGER " + name + map[bool]string{true: " ON " + table, false: ""}[h.DB.Postgres()]).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// One event the database refuses is parked alone, every time: the events beside it in its
// batch, other sites' among them, are applied, and the refused one is not claimed forever.
// Odd but real input — a NUL in a name, a lesson position beyond int32, a position or
// free_trial spelled as text — is applied, not failed.
func TestPoisonEventParkedAlone(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		school := h.School()
		other := h.SaveSite("other", "gid-other")
		now := h.Clock.Now()
		nul := testkit.JSON(map[string]any{"id": "nul", "resource": "lesson", "action": "completed", "tenant_global_id": testkit.PublishedGID,
			"created_at": now.UTC().Format(time.RFC3339), "payload": map[string]any{
				"course": map[string]any{"id": 70, "name": "Co\u0000urse"}, "enrollment": map[string]any{"id": 1},
				"lesson": map[string]any{"id": 700, "name": "L\u0000", "position": 99999999999, "type": "Text"},
				"user":   map[string]any{"id": 1, "email": "a@example.com", "first_name": "An\u0000na"}}})
		odd := testkit.JSON(map[string]any{"id": "odd", "resource": "enrollment", "action": "progress", "tenant_global_id": testkit.PublishedGID,
			"created_at": now.UTC().Format(time.RFC3339), "payload": map[string]any{"id": 2, "course_id": 70,
				"user": map[string]any{"id": 2}, "percentage_completed": 1, "free_trial": "false", "started_at": "not a date"}})
		deliveries := []struct {
			sub  string
			body []byte
		}{
			{"school", testkit.LessonEventFor("before", testkit.PublishedGID, now, 5, 70, 700)},
			{"school", testkit.LessonEventFor("refused", testkit.PublishedGID, now, 666, 70, 700)},
			{"school", testkit.LessonEventFor("unlucky", testkit.PublishedGID, now, 667, 70, 700)},
			{"school", nul},
			{"school", odd},
			{"other", testkit.LessonEventFor("elsewhere", "gid-other", now, 5, 70, 700)},
		}
		defer refuseLearner(t, h, 666, "22023")() // a value the database cannot take: failed at once
		defer refuseLearner(t, h, 667, "P0001")() // any other error: retried later
		for _, d := range deliveries {
			if code, body := h.Deliver(d.sub, d.body, testkit.ClientSecret); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
		}
		if _, err := h.Worker.Drain(context.Background()); err != nil {
			t.Fatalf("drain: %v", err)
		}
		for _, e := range []string{"before", "nul", "odd"} {
			if status, _, lastErr := h.InboxRow(school.ID, e); status != store.StatusProcessed {
				t.Errorf("%s: %s %s", e, status, lastErr)
			}
		}
		if status, _, _ := h.InboxRow(other.ID, "elsewhere"); status != store.StatusProcessed {
			t.Errorf("another site's event: %s", status)
		}
		if status, attempts, lastErr := h.InboxRow(school.ID, "refused"); status != store.StatusFailed || attempts != 1 || !strings.Contains(lastErr, "learner 666 refused") {
			t.Errorf("refused event: %s after %d attempts: %q", status, attempts, lastErr)
		}
		if status, attempts, lastErr := h.InboxRow(school.ID, "unlucky"); h.DB.Postgres() && (status != store.StatusAccepted || attempts != 1 || lastErr == "") {
			t.Errorf("failing event: %s after %d attempts: %q", status, attempts, lastErr)
		}
		// Names lose their NUL, the position that fits nothing is left out, 1 is 1 %.
		checks := []struct {
			q    string
			want int64
		}{
			{"SELECT COUNT(*) FROM learners WHERE site_id = ? AND id = 1 AND first_name = 'Anna'", 1},
			{"SELECT COUNT(*) FROM courses WHERE site_id = ? AND id = 70 AND name = 'Course'", 1},
			{"SELECT COUNT(*) FROM lessons WHERE site_id = ? AND id = 700 AND position = 0", 1},
			{"SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 2 AND percent = 1 AND started_at IS NULL", 1},
		}
		for _, c := range checks {
			if got := h.Count(c.q, school.ID); got != c.want {
				t.Errorf("%s: %d, want %d", c.q, got, c.want)
			}
		}
		// Draining again leaves the parked event alone.
		if _, err := h.Worker.Drain(context.Background()); err != nil {
			t.Fatalf("second drain: %v", err)
		}
		if status, attempts, _ := h.InboxRow(school.ID, "refused"); status != store.StatusFailed || attempts != 1 {
			t.Errorf("refused event claimed again: %s after %d attempts", status, attempts)
		}
	})
}

// A database that fails for a moment (here a serialization failure while writing the
// enrollment) is not the event's fault: nothing is counted against it, and it applies once
// the database is back.
func TestTransientFailureCountsNothing(t *testing.T) {
	h := testkit.New(t, testdb.Postgres(t))
	school := h.School()
	drop := refuse(t, h, "enrollments", 66870, "40001")
	h.Deliver("school", testkit.ProgressEvent("busy", testkit.PublishedGID, h.Clock.Now(), 668, 70, "10.0"), testkit.ClientSecret)
	for range 3 {
		if _, err := h.Worker.Drain(context.Background()); err == nil {
			t.Fatal("drain succeeded against a failing database")
		}
	}
	if status, attempts, _ := h.InboxRow(school.ID, "busy"); status != store.StatusAccepted || attempts != 0 {
		t.Fatalf("after transient failures: %s, %d attempts", status, attempts)
	}
	drop()
	h.Drain()
	if status, _, _ := h.InboxRow(school.ID, "busy"); status != store.StatusProcessed {
		t.Fatalf("once the database is back: %s", status)
	}
}

// TestDrainSpeed prints how fast one worker applies a backlog (set STRIDE_DRAIN_SPEED=1).
func TestDrainSpeed(t *testing.T) {
	if os.Getenv("STRIDE_DRAIN_SPEED") == "" {
		t.Skip("set STRIDE_DRAIN_SPEED=1 to measure")
	}
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := backlog(t, dbURL)
		start := time.Now()
		n, err := h.Worker.Drain(context.Background())
		took := time.Since(start)
		fmt.Printf("%s: drained %d events in %v: %.0f events/s\n", t.Name(), n, took, float64(n)/took.Seconds())
		if err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkDrain reports how fast one worker applies a backlog on PostgreSQL, in events/s:
// go test -run '^$' -bench Drain -benchtime 3x ./app/progress/
func BenchmarkDrain(b *testing.B) {
	var events int
	var took time.Duration
	for range b.N {
		b.StopTimer()
		h := backlog(b, testdb.Postgres(b))
		b.StartTimer()
		start := time.Now()
		n, err := h.Worker.Drain(context.Background())
		took += time.Since(start)
		events += n
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)/took.Seconds(), "events/s")
}

// backlog is a site with the ground-truth journeys delivered and none applied.
func backlog(t testing.TB, dbURL string) *testkit.Harness {
	h := testkit.New(t, dbURL)
	h.School()
	g := testkit.Journeys(7, testkit.PublishedGID, 40, 3)
	ch := make(chan []byte)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for b := range ch {
				h.Deliver("school", b, testkit.ClientSecret)
			}
		})
	}
	for _, b := range g.Bodies {
		ch <- b
	}
	close(ch)
	wg.Wait()
	return h
}
