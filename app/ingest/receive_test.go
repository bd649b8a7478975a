package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// The published examples are Thinkific's test deliveries ("[TEST] lorem ipsum") but for the
// lesson.completed one, which names a real-looking learner: the test deliveries are logged
// and never applied; the lesson lands as the right records.
func TestPublishedExamplesLand(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		for name, want := range map[string]string{"enrollment.created.json": `"test"`, "enrollment.progress.json": `"test"`} {
			if status, body := h.Deliver("school", testkit.Published(t, name), testkit.ClientSecret); status != 200 || !strings.Contains(body, want) {
				t.Fatalf("%s: %d %s", name, status, body)
			}
		}
		if status, body := h.Deliver("school", testkit.Published(t, "lesson.completed.json"), testkit.ClientSecret); status != 200 || !strings.Contains(body, `"accepted"`) {
			t.Fatalf("lesson.completed: %d %s", status, body)
		}
		h.Drain()
		checks := []struct {
			q    string
			want int64
		}{
			{"SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'processed'", 1},
			{"SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'test'", 2},
			{"SELECT COUNT(*) FROM learners WHERE site_id = ?", 1},
			{"SELECT COUNT(*) FROM learners WHERE site_id = ? AND id = 123456 AND email = 'ninjas@thinkific.com' AND first_name = 'Robert'", 1},
			{"SELECT COUNT(*) FROM courses WHERE site_id = ?", 1},
			{"SELECT COUNT(*) FROM courses WHERE site_id = ? AND id = 123 AND name = 'Introduction to Webhooks'", 1},
			{"SELECT COUNT(*) FROM chapters WHERE site_id = ? AND id = 123 AND course_id = 123 AND name = 'Chapter 1'", 1},
			{"SELECT COUNT(*) FROM lessons WHERE site_id = ? AND id = 24220 AND chapter_id = 123 AND name = 'Getting started with Webhooks' AND lesson_type = 'Video'", 1},
			{"SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 4", 0}, // the test learner's
			{"SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 1084282 AND last_activity_at IS NOT NULL", 1},
			{"SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id = 24220 AND percent_after IS NULL", 1}, // a lesson whose progress never came
		}
		for _, c := range checks {
			if got := h.Count(c.q, site.ID); got != c.want {
				t.Errorf("%s: %d, want %d", c.q, got, c.want)
			}
		}
		if s, _ := h.DB.Site(context.Background(), site.ID); s.TenantID != "12345" {
			t.Errorf("tenant id learned: %q", s.TenantID)
		}
	})
}

func TestWebhookRejections(t *testing.T) {
	h := testkit.New(t, "")
	site := h.School()
	h.InstallVia(testkit.Browser(), "acme")
	body := testkit.Published(t, "lesson.completed.json")
	other := testkit.Published(t, "enrollment.progress.json")
	cases := []struct {
		name      string
		subdomain string
		body      []byte
		signature string
		want      int
	}{
		{"no signature", "school", body, "", 401},
		{"wrong secret", "school", body, testkit.Sign("not-the-secret", body), 401},
		{"signature of another body", "school", body, testkit.Sign(testkit.ClientSecret, other), 401},
		{"not hex", "school", body, "zz" + testkit.Sign(testkit.ClientSecret, body)[2:], 401},
		{"truncated", "school", body, testkit.Sign(testkit.ClientSecret, body)[:40], 401},
		{"no site named at all", "evil.com", other, testkit.Sign(testkit.ClientSecret, other), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := h.Post(tc.subdomain, tc.body, tc.signature)
			if status != tc.want {
				t.Fatalf("answered %d, want %d", status, tc.want)
			}
		})
	}
	if n := h.Count("SELECT COUNT(*) FROM inbox"); n != 0 {
		t.Fatalf("%d rows stored from refused deliveries", n)
	}
	if n := h.Count("SELECT COUNT(*) FROM inbox_unrouted"); n != 0 {
		t.Fatalf("%d rows held from refused deliveries", n)
	}
	if n := h.Receiver.Stats.BadSignature.Load(); n != 5 {
		t.Fatalf("bad signatures counted %d", n)
	}
	// The previous secret still signs during a rotation.
	h2 := testkit.New(t, "", func(_ *thinkificdouble.Config, env map[string]string) {
		env["THINKIFIC_CLIENT_SECRET_PREVIOUS"] = "old-secret"
	})
	h2.School()
	if status, _ := h2.Deliver("school", body, "old-secret"); status != 200 {
		t.Fatalf("previous secret: %d", status)
	}
	if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

// One event delivered again and again, three times at once, is stored once.
func TestDuplicateDeliveries(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		body := testkit.Published(t, "lesson.completed.json")
		var wg sync.WaitGroup
		statuses := make([]string, 3)
		for i := range statuses {
			wg.Go(func() {
				code, b := h.Deliver("school", body, testkit.ClientSecret)
				if code != 200 {
					t.Errorf("answered %d", code)
				}
				statuses[i] = b
			})
		}
		wg.Wait()
		if code, b := h.Deliver("school", body, testkit.ClientSecret); code != 200 || !strings.Contains(b, "duplicate") {
			t.Fatalf("a later repeat: %d %s", code, b)
		}
		accepted := 0
		for _, s := range statuses {
			if strings.Contains(s, `"accepted"`) {
				accepted++
			}
		}
		if accepted != 1 {
			t.Fatalf("accepted %d of 3 parallel deliveries: %v", accepted, statuses)
		}
		if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("%d inbox rows", n)
		}
		h.Drain()
		h.Deliver("school", body, testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("applied %d times", n)
		}
		// One row in the log, with its four repeats counted on it.
		log, err := h.DB.View(site.ID).DeliveryLog(context.Background(), time.Now().Add(time.Hour), 50)
		if err != nil || len(log) != 1 || log[0].Duplicates != 4 || log[0].LastDuplicateAt == nil || log[0].Topic != "lesson.completed" {
			t.Fatalf("delivery log %+v %v", log, err)
		}
	})
}

// Signed but unreadable: kept as quarantined, answered 2xx, replayable.
func TestQuarantine(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		for _, body := range []string{`{"id": not json`, `{"id":"77","resource":"lesson","action":"exploded","created_at":"2024-01-01T00:00:00Z","payload":{}}`} {
			if code, b := h.Deliver("school", []byte(body), testkit.ClientSecret); code != 200 || !strings.Contains(b, "quarantined") {
				t.Fatalf("%s: %d %s", body, code, b)
			}
		}
		h.Drain()
		counts, _ := h.DB.InboxCount(context.Background(), site.ID)
		if counts[store.StatusQuarantined] != 2 {
			t.Fatalf("counts %v", counts)
		}
		log, _ := h.DB.View(site.ID).DeliveryLog(context.Background(), time.Now().Add(time.Hour), 10)
		if err := h.DB.View(site.ID).Replay(context.Background(), log[0].ID); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		counts, _ = h.DB.InboxCount(context.Background(), site.ID)
		if counts[store.StatusFailed] != 1 {
			t.Fatalf("a replayed unreadable event should end failed, with its error: %v", counts)
		}
		if err := h.DB.View(site.ID+1).Replay(context.Background(), log[1].ID); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("replay through another site: %v", err)
		}
	})
}

func TestUnavailableDatabaseIs503(t *testing.T) {
	h := testkit.New(t, "")
	h.School()
	body := testkit.Published(t, "lesson.completed.json")
	h.DB.Close()
	start := time.Now()
	code, _ := h.Deliver("nobody-cached", body, testkit.ClientSecret)
	if code != http.StatusServiceUnavailable || time.Since(start) > 3*time.Second {
		t.Fatalf("answered %d after %v", code, time.Since(start))
	}
}

// With the workers stopped, deliveries are still accepted, and applied when a worker runs.
func TestIngestDoesNotNeedWorkers(t *testing.T) {
	h := testkit.New(t, "")
	site := h.School()
	t0 := time.Now().Add(-time.Minute)
	for i := range 20 {
		if code, _ := h.Deliver("school", testkit.LessonEventFor(fmt.Sprint("l", i), testkit.PublishedGID, t0.Add(time.Duration(i)*time.Second), 7, 70, int64(700+i)), testkit.ClientSecret); code != 200 {
			t.Fatalf("answered %d", code)
		}
	}
	if counts, _ := h.DB.InboxCount(context.Background(), site.ID); counts["accepted"] != 20 {
		t.Fatalf("inbox %v", counts)
	}
	h.Drain()
	if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ?", site.ID); n != 20 {
		t.Fatalf("%d steps", n)
	}
}

// Waiting for the lesson, opt-in: a progress event is answered 409 until its lesson is in.
func TestWaitForLessonMode(t *testing.T) {
	h := testkit.New(t, "", func(_ *thinkificdouble.Config, env map[string]string) { env["PAIRING_WAIT_FOR_LESSON"] = "true" })
	site := h.School()
	at := h.Clock.Now().Add(-time.Second)
	progress := testkit.ProgressEvent("p1", testkit.PublishedGID, at, 7, 70, "10.0")
	if code, _ := h.Deliver("school", progress, testkit.ClientSecret); code != http.StatusConflict {
		t.Fatalf("progress before its lesson: %d", code)
	}
	if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 0 {
		t.Fatal("a 409 stored the event")
	}
	h.Deliver("school", testkit.LessonEventFor("l1", testkit.PublishedGID, at.Add(3*time.Millisecond), 7, 70, 700), testkit.ClientSecret)
	h.Drain()
	if code, _ := h.Deliver("school", progress, testkit.ClientSecret); code != 200 {
		t.Fatalf("progress after its lesson: %d", code)
	}
	h.Drain()
	if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id = 700 AND percent_after = 10", site.ID); n != 1 {
		t.Fatal("not paired")
	}
	// A progress with no lesson ever (an admin removed one) is taken once it is an hour old,
	// before Thinkific's retries run out.
	lone := testkit.ProgressEvent("p2", testkit.PublishedGID, h.Clock.Now().Add(-61*time.Minute), 7, 70, "20.0")
	if code, _ := h.Deliver("school", lone, testkit.ClientSecret); code != 200 {
		t.Fatalf("old lone progress: %d", code)
	}
}

// An event stamped far ahead is quarantined, so it cannot pin a learner's progress; real
// events go on applying. An uninstall stamped a little before the install (clocks differ)
// still counts.
func TestEventTimesFromTheFuture(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		school := h.School()
		now := h.Clock.Now()
		ahead := testkit.ProgressEvent("ahead", testkit.PublishedGID, now.AddDate(5, 0, 0), 7, 70, "90.0")
		if _, body := h.Deliver("school", ahead, testkit.ClientSecret); !strings.Contains(body, "quarantined") {
			t.Fatalf("five years ahead: %s", body)
		}
		h.Deliver("school", testkit.ProgressEvent("real", testkit.PublishedGID, now, 7, 70, "20.0"), testkit.ClientSecret)
		h.Drain()
		h.Deliver("school", testkit.ProgressEvent("later", testkit.PublishedGID, now.Add(time.Minute), 7, 70, "30.0"), testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 770 AND percent = 30", school.ID); n != 1 {
			t.Fatal("later real events did not apply")
		}
		// Replayed while still ahead: parked with its reason, not applied.
		log, _ := h.DB.View(school.ID).DeliveryLog(context.Background(), now.Add(time.Hour), 10)
		for _, l := range log {
			if l.EventID == "ahead" {
				if err := h.DB.View(school.ID).Replay(context.Background(), l.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.Drain()
		if status, _, lastErr := h.InboxRow(school.ID, "ahead"); status != store.StatusFailed || !strings.Contains(lastErr, "ahead") {
			t.Fatalf("replayed ahead: %s %q", status, lastErr)
		}

		// The uninstall's clock is two minutes behind Stride's.
		h.Clock.Advance(time.Hour)
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		acme, _ := h.DB.SiteBySubdomain(context.Background(), "acme")
		h.Deliver("acme", testkit.UninstallEvent("bye", acme.GID, h.Clock.Now().Add(-2*time.Minute)), testkit.ClientSecret)
		if s, _ := h.DB.Site(context.Background(), acme.ID); s.Installed() {
			t.Fatal("an uninstall two minutes behind was void")
		}
	})
}
