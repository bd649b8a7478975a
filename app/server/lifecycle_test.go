package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

func uninstallEvent(id string, gid string, at time.Time) []byte {
	return mustJSON(map[string]any{"id": id, "resource": "app", "action": "uninstalled", "tenant_id": "1001",
		"tenant_global_id": gid, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z"), "payload": map[string]any{}})
}

// app.uninstalled: locked out at once, tokens gone, sessions void, data deleted after the
// grace period unless the site reinstalls, and an audit row for each step.
func TestUninstall(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		admin := browser()
		if resp, _ := h.installVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		site := mustSite(t, h)
		h.deliver("acme", lessonEvent("before-uninstall", h.site.GID(), time.Now()), clientSecret)
		h.drain()

		code, body := h.deliver("acme", uninstallEvent("u1", h.site.GID(), h.clock.Now()), clientSecret)
		if code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		// At once: before any worker ran.
		if s, _ := h.db.Site(context.Background(), site.ID); s.Installed() {
			t.Fatal("still installed")
		}
		if _, err := h.db.Tokens(context.Background(), site.ID); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("tokens kept: %v", err)
		}
		if resp, _ := get(t, admin, h.url+"/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("session still works: %d", resp.StatusCode)
		}
		// Later deliveries for the site are held, not applied: a reinstall would take them.
		if _, body := h.deliver("acme", lessonEvent("after", h.site.GID(), time.Now()), clientSecret); !strings.Contains(body, "held") {
			t.Fatalf("after uninstall: %s", body)
		}
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("data deleted before the grace period: %d", n)
		}
		h.clock.Advance(h.cfg.UninstallGrace + time.Hour)
		if n, err := h.db.PurgeUninstalled(context.Background()); err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		for _, table := range []string{"inbox", "learner_events", "learners", "courses", "lessons", "enrollments"} {
			if n := h.count("SELECT COUNT(*) FROM "+table+" WHERE site_id = ?", site.ID); n != 0 {
				t.Errorf("%s keeps %d rows", table, n)
			}
		}
		trail, _ := h.db.AuditTrail(context.Background(), site.ID)
		var actions []string
		for _, a := range trail {
			actions = append(actions, a.Action)
		}
		if got := strings.Join(actions, ","); got != "installed,uninstalled,data_deleted" {
			t.Fatalf("audit trail %s", got)
		}
	})
}

// Reinstalling within the grace period keeps the data; an old uninstall retried by Thinkific
// after the reinstall changes nothing.
func TestReinstallCancelsPurge(t *testing.T) {
	h := newHarness(t, "")
	h.installVia(browser(), "acme")
	site := mustSite(t, h)
	h.deliver("acme", lessonEvent("kept", h.site.GID(), time.Now()), clientSecret)
	h.drain()
	uninstall := uninstallEvent("u1", h.site.GID(), h.clock.Now())
	h.deliver("acme", uninstall, clientSecret)
	h.clock.Advance(time.Hour)
	if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("reinstall: %d", resp.StatusCode)
	}
	// Thinkific retries the old uninstall (a different delivery of it is a duplicate, and the
	// event is older than the reinstall anyway).
	h.deliver("acme", uninstall, clientSecret)
	h.deliver("acme", uninstallEvent("u1-replayed-as-new", h.site.GID(), h.clock.Now().Add(-30*time.Minute)), clientSecret)
	h.drain()
	if s, _ := h.db.Site(context.Background(), site.ID); !s.Installed() {
		t.Fatal("an old uninstall undid the reinstall")
	}
	h.clock.Advance(h.cfg.UninstallGrace + time.Hour)
	if n, _ := h.db.PurgeUninstalled(context.Background()); n != 0 {
		t.Fatalf("purged %d sites", n)
	}
	if n := h.count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
		t.Fatalf("%d learner events", n)
	}
}

func lessonEvent(id, gid string, at time.Time) []byte {
	return lessonEventFor(id, gid, at, 7, 70, 700)
}

func lessonEventFor(id, gid string, at time.Time, learner, course, lesson int64) []byte {
	return mustJSON(map[string]any{"id": id, "resource": "lesson", "action": "completed", "tenant_id": "1001",
		"tenant_global_id": gid, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z"), "payload": map[string]any{
			"chapter": map[string]any{"id": 1, "name": "One"}, "course": map[string]any{"id": course, "name": "Course"},
			"enrollment": map[string]any{"id": learner*100 + course},
			"lesson":     map[string]any{"id": lesson, "name": fmt.Sprint("Lesson ", lesson), "position": 0, "type": "Text"},
			"user":       map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner), "first_name": "A", "last_name": "B"}}})
}

func progressEvent(id, gid string, at time.Time, learner, course int64, percent string) []byte {
	return mustJSON(map[string]any{"id": id, "resource": "enrollment", "action": "progress", "tenant_id": "1001",
		"tenant_global_id": gid, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z"), "payload": map[string]any{
			"id": learner*100 + course, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course,
			"user": map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner)}, "percentage_completed": percent}})
}

// Events apply by event time: a late older progress never overwrites a newer percentage.
func TestLateOlderEventDoesNotOverwrite(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		site := h.school()
		t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		h.deliver("school", progressEvent("p2", publishedGID, t0.Add(time.Minute), 7, 70, "40.0"), clientSecret)
		h.drain()
		h.deliver("school", progressEvent("p1", publishedGID, t0, 7, 70, "30.0"), clientSecret)
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 770 AND percent = 40", site.ID); n != 1 {
			t.Fatal("the older event overwrote the percentage")
		}
		// The late step still takes its place in the timeline: 30 → 40 follows it.
		if n := h.count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND percent_before = 30 AND percent_after = 40", site.ID); n != 1 {
			t.Fatal("the later step does not move from the late step's percentage")
		}
		// A real decrease (an admin removed a lesson) is newer, so it applies.
		h.deliver("school", progressEvent("p3", publishedGID, t0.Add(2*time.Minute), 7, 70, "35.0"), clientSecret)
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id IS NULL AND percent_before = 40 AND percent_after = 35", site.ID); n != 1 {
			t.Fatal("the decrease is not a step of its own")
		}
	})
}

// With the workers stopped, deliveries are still accepted, and applied when a worker runs.
func TestIngestDoesNotNeedWorkers(t *testing.T) {
	h := newHarness(t, "")
	site := h.school()
	t0 := time.Now().Add(-time.Minute)
	for i := range 20 {
		if code, _ := h.deliver("school", lessonEventFor(fmt.Sprint("l", i), publishedGID, t0.Add(time.Duration(i)*time.Second), 7, 70, int64(700+i)), clientSecret); code != 200 {
			t.Fatalf("answered %d", code)
		}
	}
	if counts, _ := h.db.InboxCount(context.Background(), site.ID); counts["accepted"] != 20 {
		t.Fatalf("inbox %v", counts)
	}
	h.drain()
	if n := h.count("SELECT COUNT(*) FROM steps WHERE site_id = ?", site.ID); n != 20 {
		t.Fatalf("%d steps", n)
	}
}

// Waiting for the lesson, opt-in: a progress event is answered 409 until its lesson is in.
func TestWaitForLessonMode(t *testing.T) {
	h := newHarness(t, "", func(_ *thinkificdouble.Config, env map[string]string) { env["PAIRING_WAIT_FOR_LESSON"] = "true" })
	site := h.school()
	at := h.clock.Now().Add(-time.Second)
	progress := progressEvent("p1", publishedGID, at, 7, 70, "10.0")
	if code, _ := h.deliver("school", progress, clientSecret); code != http.StatusConflict {
		t.Fatalf("progress before its lesson: %d", code)
	}
	if n := h.count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 0 {
		t.Fatal("a 409 stored the event")
	}
	h.deliver("school", lessonEventFor("l1", publishedGID, at.Add(3*time.Millisecond), 7, 70, 700), clientSecret)
	h.drain()
	if code, _ := h.deliver("school", progress, clientSecret); code != 200 {
		t.Fatalf("progress after its lesson: %d", code)
	}
	h.drain()
	if n := h.count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id = 700 AND percent_after = 10", site.ID); n != 1 {
		t.Fatal("not paired")
	}
	// A progress with no lesson ever (an admin removed one) is taken once it is an hour old,
	// before Thinkific's retries run out.
	lone := progressEvent("p2", publishedGID, h.clock.Now().Add(-61*time.Minute), 7, 70, "20.0")
	if code, _ := h.deliver("school", lone, clientSecret); code != 200 {
		t.Fatalf("old lone progress: %d", code)
	}
}

// The dashboard lists deliveries and replays a quarantined one of its own site only;
// a cross-site form post is refused.
func TestDashboardReplay(t *testing.T) {
	h := newHarness(t, "")
	admin := browser()
	h.installVia(admin, "acme")
	acme := mustSite(t, h)
	school := h.school()
	h.deliver("acme", []byte(`{"broken": `), clientSecret)
	h.deliver("school", []byte(`{"also broken": `), clientSecret)
	_, page := get(t, admin, h.url+"/connection")
	mustContain(t, page, "quarantined", `action="/deliveries/`)
	if strings.Contains(page, "also broken") {
		t.Fatal("another site's delivery is listed")
	}
	acmeLog, _ := h.db.DeliveryLog(context.Background(), acme.ID, time.Now().Add(time.Hour), 5)
	schoolLog, _ := h.db.DeliveryLog(context.Background(), school.ID, time.Now().Add(time.Hour), 5)

	post := func(id int64, header map[string]string) int {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/deliveries/%d/replay", h.url, id), nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		c := *admin
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(acmeLog[0].ID, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", code)
	}
	if code := post(schoolLog[0].ID, nil); code != http.StatusNotFound {
		t.Fatalf("replaying another site's delivery: %d", code)
	}
	if code := post(acmeLog[0].ID, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusSeeOther {
		t.Fatalf("replay: %d", code)
	}
	if counts, _ := h.db.InboxCount(context.Background(), acme.ID); counts["accepted"] != 1 {
		t.Fatalf("after replay: %v", counts)
	}
	if code := post(acmeLog[0].ID, nil); code != http.StatusNotFound {
		t.Fatalf("replaying a delivery that is not failed or quarantined: %d", code)
	}
}
