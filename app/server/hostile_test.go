package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// refuseLearner installs a trigger that makes the database refuse writing learner id, with
// the PostgreSQL error code given (SQLite refuses with a constraint error whatever the code).
func refuseLearner(t *testing.T, h *harness, id int64, pgCode string) (drop func()) {
	return refuse(t, h, "learners", id, pgCode)
}

func refuse(t *testing.T, h *harness, table string, id int64, pgCode string) (drop func()) {
	t.Helper()
	g := h.db.Gorm()
	name := fmt.Sprintf("refuse_%s_%d", table, id)
	var stmts []string
	if h.db.Postgres() {
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
		if err := g.Exec("DROP TRIGGER " + name + map[bool]string{true: " ON " + table, false: ""}[h.db.Postgres()]).Error; err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) inboxRow(siteID int64, eventID string) (status string, attempts int, lastError string) {
	h.t.Helper()
	var rows []struct {
		Status    string
		Attempts  int
		LastError string
	}
	h.db.Gorm().Raw("SELECT status, attempts, last_error FROM inbox WHERE site_id = ? AND event_id = ?", siteID, eventID).Scan(&rows)
	if len(rows) != 1 {
		h.t.Fatalf("inbox row %s: %d rows", eventID, len(rows))
	}
	return rows[0].Status, rows[0].Attempts, rows[0].LastError
}

// One event the database refuses is parked alone, every time: the events beside it in its
// batch, other sites' among them, are applied, and the refused one is not claimed forever.
// Odd but real input — a NUL in a name, a lesson position beyond int32, a position or
// free_trial spelled as text — is applied, not failed.
func TestPoisonEventParkedAlone(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		school := h.school()
		other, _, err := h.db.SaveInstall(context.Background(), store.Install{Subdomain: "other", GID: "gid-other",
			Tokens: stride.Tokens{Access: "a", Refresh: "r", Expiry: time.Now().Add(time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		now := h.clock.Now()
		nul := mustJSON(map[string]any{"id": "nul", "resource": "lesson", "action": "completed", "tenant_global_id": publishedGID,
			"created_at": now.UTC().Format(time.RFC3339), "payload": map[string]any{
				"course": map[string]any{"id": 70, "name": "Co\u0000urse"}, "enrollment": map[string]any{"id": 1},
				"lesson": map[string]any{"id": 700, "name": "L\u0000", "position": 99999999999, "type": "Text"},
				"user":   map[string]any{"id": 1, "email": "a@example.com", "first_name": "An\u0000na"}}})
		odd := mustJSON(map[string]any{"id": "odd", "resource": "enrollment", "action": "progress", "tenant_global_id": publishedGID,
			"created_at": now.UTC().Format(time.RFC3339), "payload": map[string]any{"id": 2, "course_id": 70,
				"user": map[string]any{"id": 2}, "percentage_completed": 1, "free_trial": "false", "started_at": "not a date"}})
		deliveries := []struct {
			sub  string
			body []byte
		}{
			{"school", lessonEventFor("before", publishedGID, now, 5, 70, 700)},
			{"school", lessonEventFor("refused", publishedGID, now, 666, 70, 700)},
			{"school", lessonEventFor("unlucky", publishedGID, now, 667, 70, 700)},
			{"school", nul},
			{"school", odd},
			{"other", lessonEventFor("elsewhere", "gid-other", now, 5, 70, 700)},
		}
		defer refuseLearner(t, h, 666, "22023")() // a value the database cannot take: failed at once
		defer refuseLearner(t, h, 667, "P0001")() // any other error: retried later
		for _, d := range deliveries {
			if code, body := h.deliver(d.sub, d.body, clientSecret); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
		}
		if _, err := h.worker.Drain(context.Background()); err != nil {
			t.Fatalf("drain: %v", err)
		}
		for _, e := range []string{"before", "nul", "odd"} {
			if status, _, lastErr := h.inboxRow(school.ID, e); status != store.StatusProcessed {
				t.Errorf("%s: %s %s", e, status, lastErr)
			}
		}
		if status, _, _ := h.inboxRow(other.ID, "elsewhere"); status != store.StatusProcessed {
			t.Errorf("another site's event: %s", status)
		}
		if status, attempts, lastErr := h.inboxRow(school.ID, "refused"); status != store.StatusFailed || attempts != 1 || !strings.Contains(lastErr, "learner 666 refused") {
			t.Errorf("refused event: %s after %d attempts: %q", status, attempts, lastErr)
		}
		if status, attempts, lastErr := h.inboxRow(school.ID, "unlucky"); h.db.Postgres() && (status != store.StatusAccepted || attempts != 1 || lastErr == "") {
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
			if got := h.count(c.q, school.ID); got != c.want {
				t.Errorf("%s: %d, want %d", c.q, got, c.want)
			}
		}
		// Draining again leaves the parked event alone.
		if _, err := h.worker.Drain(context.Background()); err != nil {
			t.Fatalf("second drain: %v", err)
		}
		if status, attempts, _ := h.inboxRow(school.ID, "refused"); status != store.StatusFailed || attempts != 1 {
			t.Errorf("refused event claimed again: %s after %d attempts", status, attempts)
		}
	})
}

// A database that fails for a moment (here a serialization failure while writing the
// enrollment) is not the event's fault: nothing is counted against it, and it applies once
// the database is back.
func TestTransientFailureCountsNothing(t *testing.T) {
	h := newHarness(t, testdb.Postgres(t))
	school := h.school()
	drop := refuse(t, h, "enrollments", 66870, "40001")
	h.deliver("school", progressEvent("busy", publishedGID, h.clock.Now(), 668, 70, "10.0"), clientSecret)
	for range 3 {
		if _, err := h.worker.Drain(context.Background()); err == nil {
			t.Fatal("drain succeeded against a failing database")
		}
	}
	if status, attempts, _ := h.inboxRow(school.ID, "busy"); status != store.StatusAccepted || attempts != 0 {
		t.Fatalf("after transient failures: %s, %d attempts", status, attempts)
	}
	drop()
	h.drain()
	if status, _, _ := h.inboxRow(school.ID, "busy"); status != store.StatusProcessed {
		t.Fatalf("once the database is back: %s", status)
	}
}

// The site is the one the signed body names; the unsigned header is a hint. A signed
// delivery no installed site can take is held and applied once its site is installed, and a
// reinstall is seen at once.
func TestRoutedBySignedSite(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		school := h.school()
		if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		acme, _ := h.db.SiteBySubdomain(context.Background(), "acme")
		now := h.clock.Now()
		// The header names acme, the signed body school: school's.
		if code, body := h.deliver("acme", lessonEventFor("to-school", publishedGID, now, 1, 70, 700), clientSecret); code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		if n := h.count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND event_id = 'to-school'", school.ID); n != 1 {
			t.Fatalf("not stored for the signed site: %d", n)
		}
		// Uninstalled: held. Reinstalled: the next delivery is taken at once, the held one
		// follows.
		h.deliver("acme", uninstallEvent("bye", acme.GID, now), clientSecret)
		if _, body := h.deliver("acme", lessonEventFor("between", acme.GID, now, 2, 70, 700), clientSecret); !strings.Contains(body, "held") {
			t.Fatalf("between uninstall and reinstall: %s", body)
		}
		h.clock.Advance(time.Minute)
		if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("reinstall failed")
		}
		if _, body := h.deliver("acme", lessonEventFor("after", acme.GID, h.clock.Now(), 2, 70, 701), clientSecret); !strings.Contains(body, "accepted") {
			t.Fatalf("right after the reinstall: %s", body)
		}
		// A site never installed: held under its signed id until it is.
		if _, body := h.deliver("newcomer", lessonEventFor("early", "gid-newcomer", now, 3, 70, 700), clientSecret); !strings.Contains(body, "held") {
			t.Fatalf("unknown site: %s", body)
		}
		newcomer, _, err := h.db.SaveInstall(context.Background(), store.Install{Subdomain: "newcomer", GID: "gid-newcomer",
			Tokens: stride.Tokens{Access: "a", Refresh: "r", Expiry: time.Now().Add(time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		h.worker.Adopt(context.Background())
		h.drain()
		for _, c := range []struct {
			site  int64
			event string
		}{{acme.ID, "between"}, {acme.ID, "after"}, {newcomer.ID, "early"}} {
			if status, _, _ := h.inboxRow(c.site, c.event); status != store.StatusProcessed {
				t.Errorf("%s: %s", c.event, status)
			}
		}
		if n := h.count("SELECT COUNT(*) FROM inbox_unrouted"); n != 0 {
			t.Errorf("%d deliveries still held", n)
		}
	})
}

// A delivery whose id cannot be stored is quarantined under its content's hash, and never
// fails the deliveries that share its commit.
func TestBadIDFailsNoNeighbour(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		school := h.school()
		now := h.clock.Now()
		var wg sync.WaitGroup
		codes := make([]int, 200)
		for i := range codes {
			wg.Go(func() {
				id := fmt.Sprint("good-", i)
				if i%40 == 0 {
					id = fmt.Sprint("bad\u0000", i)
				}
				codes[i], _ = h.deliver("school", lessonEventFor(id, publishedGID, now, int64(i+1), 70, 700), clientSecret)
			})
		}
		wg.Wait()
		for i, c := range codes {
			if c != 200 {
				t.Fatalf("delivery %d answered %d", i, c)
			}
		}
		counts, _ := h.db.InboxCount(context.Background(), school.ID)
		if counts[store.StatusAccepted] != 195 || counts[store.StatusQuarantined] != 5 {
			t.Fatalf("inbox %v", counts)
		}
		if n := h.count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'quarantined' AND event_id LIKE 'sha256:%'", school.ID); n != 5 {
			t.Fatalf("%d quarantined under their hash", n)
		}
	})
}

// If the inbox refuses one row of a group commit anyway, only that delivery fails.
func TestRefusedRowFailsOnlyItself(t *testing.T) {
	h := newHarness(t, testdb.Postgres(t))
	h.school()
	g := h.db.Gorm()
	for _, s := range []string{
		`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.event_id = 'refused' THEN RAISE EXCEPTION 'row refused' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse_row BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse_row()`,
	} {
		if err := g.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	now := h.clock.Now()
	var wg sync.WaitGroup
	codes := make([]int, 300)
	for i := range codes {
		wg.Go(func() {
			id := fmt.Sprint("ok-", i)
			if i == 150 {
				id = "refused"
			}
			codes[i], _ = h.deliver("school", lessonEventFor(id, publishedGID, now, int64(i+1), 70, 700), clientSecret)
		})
	}
	wg.Wait()
	for i, c := range codes {
		if want := map[bool]int{true: 503, false: 200}[i == 150]; c != want {
			t.Errorf("delivery %d answered %d, want %d", i, c, want)
		}
	}
}

// An event stamped far ahead is quarantined, so it cannot pin a learner's progress; real
// events go on applying. An uninstall stamped a little before the install (clocks differ)
// still counts.
func TestEventTimesFromTheFuture(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		school := h.school()
		now := h.clock.Now()
		ahead := progressEvent("ahead", publishedGID, now.AddDate(5, 0, 0), 7, 70, "90.0")
		if _, body := h.deliver("school", ahead, clientSecret); !strings.Contains(body, "quarantined") {
			t.Fatalf("five years ahead: %s", body)
		}
		h.deliver("school", progressEvent("real", publishedGID, now, 7, 70, "20.0"), clientSecret)
		h.drain()
		h.deliver("school", progressEvent("later", publishedGID, now.Add(time.Minute), 7, 70, "30.0"), clientSecret)
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 770 AND percent = 30", school.ID); n != 1 {
			t.Fatal("later real events did not apply")
		}
		// Replayed while still ahead: parked with its reason, not applied.
		log, _ := h.db.DeliveryLog(context.Background(), school.ID, now.Add(time.Hour), 10)
		for _, l := range log {
			if l.EventID == "ahead" {
				if err := h.db.Replay(context.Background(), school.ID, l.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.drain()
		if status, _, lastErr := h.inboxRow(school.ID, "ahead"); status != store.StatusFailed || !strings.Contains(lastErr, "ahead") {
			t.Fatalf("replayed ahead: %s %q", status, lastErr)
		}

		// The uninstall's clock is two minutes behind Stride's.
		h.clock.Advance(time.Hour)
		if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		acme, _ := h.db.SiteBySubdomain(context.Background(), "acme")
		h.deliver("acme", uninstallEvent("bye", acme.GID, h.clock.Now().Add(-2*time.Minute)), clientSecret)
		if s, _ := h.db.Site(context.Background(), acme.ID); s.Installed() {
			t.Fatal("an uninstall two minutes behind was void")
		}
	})
}

// Thinkific's test deliveries are confirmed in the delivery log and kept out of every
// figure and export. Statuses mean what a creator means.
func TestTestDeliveriesAndStatuses(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		admin := browser()
		if resp, _ := h.installVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		for _, name := range []string{"enrollment.created.json", "enrollment.progress.json"} {
			if _, body := h.deliver("acme", published(t, name), clientSecret); !strings.Contains(body, `"test"`) {
				t.Fatalf("%s: %s", name, body)
			}
		}
		gid := h.site.GID()
		now := h.clock.Now().UTC()
		started := mustJSON(map[string]any{"id": "s1", "resource": "enrollment", "action": "created", "tenant_global_id": gid,
			"created_at": now.Format(time.RFC3339), "payload": map[string]any{"id": 11, "course": map[string]any{"id": 70, "name": "Course"},
				"user": map[string]any{"id": 1, "email": "started@example.com"}, "percentage_completed": "0.0",
				"started_at": now.Format(time.RFC3339)}})
		lowCompleted := mustJSON(map[string]any{"id": "s2", "resource": "enrollment", "action": "progress", "tenant_global_id": gid,
			"created_at": now.Format(time.RFC3339), "payload": map[string]any{"id": 12, "course": map[string]any{"id": 70, "name": "Course"},
				"user": map[string]any{"id": 2, "email": "low@example.com"}, "percentage_completed": "20.0",
				"completed_at": now.Format(time.RFC3339)}})
		for _, b := range [][]byte{started, lowCompleted} {
			h.deliver("acme", b, clientSecret)
		}
		h.drain()
		_, page := get(t, admin, h.url+"/connection")
		mustContain(t, page, "Thinkific test event received")
		resp, body := get(t, admin, h.url+"/export/enrollments.csv")
		if resp.StatusCode != 200 {
			t.Fatalf("export: %d", resp.StatusCode)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, r := range rows[1:] {
			status[r[2]] = r[6]
			if strings.Contains(strings.Join(r, ","), "[TEST]") {
				t.Fatalf("a test delivery is in the export: %v", r)
			}
		}
		if len(status) != 2 || status["started@example.com"] != store.InProgress || status["low@example.com"] != store.InProgress {
			t.Fatalf("statuses %v", status)
		}
		if n := h.count("SELECT COUNT(*) FROM daily_stats WHERE completions > 0"); n != 0 {
			t.Fatalf("a completion counted at 20 %%: %d days", n)
		}
	})
}
