package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// publishedGID is the tenant_global_id of the published lesson.completed example.
const publishedGID = "feb8d00d-8040-4382-afee-491a6c8013af"

func sign(secret string, body []byte) string { return thinkificdouble.Sign(secret, body) }

// deliver POSTs body as Thinkific does, signed with secret.
func (h *harness) deliver(subdomain string, body []byte, secret string) (int, string) {
	h.t.Helper()
	return h.post(subdomain, body, sign(secret, body))
}

// deliverRetrying delivers as Thinkific does under load: a 503 (Stride could not commit in
// time) is tried again, a few times, after a pause.
func (h *harness) deliverRetrying(subdomain string, body []byte, secret string) (int, string) {
	h.t.Helper()
	for attempt := 1; ; attempt++ {
		code, resp := h.deliver(subdomain, body, secret)
		if code != http.StatusServiceUnavailable || attempt == 5 {
			return code, resp
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

func (h *harness) post(subdomain string, body []byte, signature string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url+"/webhooks/thinkific", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Thinkific-Topic", "x")
	if signature != "" {
		req.Header.Set("X-Thinkific-Hmac-Sha256", signature)
	}
	req.Header.Set("X-Thinkific-Subdomain", subdomain)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// school is a site installed without the OAuth dance, with the gid of the published examples.
func (h *harness) school() *stride.Site {
	h.t.Helper()
	s, _, err := h.db.SaveInstall(context.Background(), store.Install{Subdomain: "school", GID: publishedGID,
		Tokens: stride.Tokens{Access: "a", Refresh: "r", Expiry: time.Now().Add(time.Hour)}})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) drain() {
	h.t.Helper()
	if _, err := h.worker.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) count(q string, args ...any) int64 {
	h.t.Helper()
	var n int64
	if err := h.db.Gorm().Raw(q, args...).Scan(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

func published(t *testing.T, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// The published examples are Thinkific's test deliveries ("[TEST] lorem ipsum") but for the
// lesson.completed one, which names a real-looking learner: the test deliveries are logged
// and never applied; the lesson lands as the right records.
func TestPublishedExamplesLand(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		site := h.school()
		for name, want := range map[string]string{"enrollment.created.json": `"test"`, "enrollment.progress.json": `"test"`} {
			if status, body := h.deliver("school", published(t, name), clientSecret); status != 200 || !strings.Contains(body, want) {
				t.Fatalf("%s: %d %s", name, status, body)
			}
		}
		if status, body := h.deliver("school", published(t, "lesson.completed.json"), clientSecret); status != 200 || !strings.Contains(body, `"accepted"`) {
			t.Fatalf("lesson.completed: %d %s", status, body)
		}
		h.drain()
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
			if got := h.count(c.q, site.ID); got != c.want {
				t.Errorf("%s: %d, want %d", c.q, got, c.want)
			}
		}
		if s, _ := h.db.Site(context.Background(), site.ID); s.TenantID != "12345" {
			t.Errorf("tenant id learned: %q", s.TenantID)
		}
	})
}

func TestWebhookRejections(t *testing.T) {
	h := newHarness(t, "")
	site := h.school()
	h.installVia(browser(), "acme")
	body := published(t, "lesson.completed.json")
	other := published(t, "enrollment.progress.json")
	cases := []struct {
		name      string
		subdomain string
		body      []byte
		signature string
		want      int
	}{
		{"no signature", "school", body, "", 401},
		{"wrong secret", "school", body, sign("not-the-secret", body), 401},
		{"signature of another body", "school", body, sign(clientSecret, other), 401},
		{"not hex", "school", body, "zz" + sign(clientSecret, body)[2:], 401},
		{"truncated", "school", body, sign(clientSecret, body)[:40], 401},
		{"no site named at all", "evil.com", other, sign(clientSecret, other), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := h.post(tc.subdomain, tc.body, tc.signature)
			if status != tc.want {
				t.Fatalf("answered %d, want %d", status, tc.want)
			}
		})
	}
	if n := h.count("SELECT COUNT(*) FROM inbox"); n != 0 {
		t.Fatalf("%d rows stored from refused deliveries", n)
	}
	if n := h.count("SELECT COUNT(*) FROM inbox_unrouted"); n != 0 {
		t.Fatalf("%d rows held from refused deliveries", n)
	}
	if n := h.receiver.Stats.BadSignature.Load(); n != 5 {
		t.Fatalf("bad signatures counted %d", n)
	}
	// The previous secret still signs during a rotation.
	h2 := newHarness(t, "", func(_ *thinkificdouble.Config, env map[string]string) {
		env["THINKIFIC_CLIENT_SECRET_PREVIOUS"] = "old-secret"
	})
	h2.school()
	if status, _ := h2.deliver("school", body, "old-secret"); status != 200 {
		t.Fatalf("previous secret: %d", status)
	}
	if n := h.count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

func TestWebhookBodyCap(t *testing.T) {
	h := newHarness(t, "")
	h.school()
	big := bytes.Repeat([]byte("x"), 300<<10)
	if status, _ := h.deliver("school", big, clientSecret); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Content-Length over the cap: %d", status)
	}
	// Chunked: no Content-Length, the cap must still hold.
	pr, pw := io.Pipe()
	go func() { pw.Write(big); pw.Close() }()
	req, _ := http.NewRequest("POST", h.url+"/webhooks/thinkific", pr)
	req.Header.Set("X-Thinkific-Hmac-Sha256", sign(clientSecret, big))
	req.Header.Set("X-Thinkific-Subdomain", "school")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked over the cap: %d", resp.StatusCode)
	}
}

// One event delivered again and again, three times at once, is stored once.
func TestDuplicateDeliveries(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		site := h.school()
		body := published(t, "lesson.completed.json")
		var wg sync.WaitGroup
		statuses := make([]string, 3)
		for i := range statuses {
			wg.Go(func() {
				code, b := h.deliver("school", body, clientSecret)
				if code != 200 {
					t.Errorf("answered %d", code)
				}
				statuses[i] = b
			})
		}
		wg.Wait()
		if code, b := h.deliver("school", body, clientSecret); code != 200 || !strings.Contains(b, "duplicate") {
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
		if n := h.count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("%d inbox rows", n)
		}
		h.drain()
		h.deliver("school", body, clientSecret)
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("applied %d times", n)
		}
		// One row in the log, with its four repeats counted on it.
		log, err := h.db.DeliveryLog(context.Background(), site.ID, time.Now().Add(time.Hour), 50)
		if err != nil || len(log) != 1 || log[0].Duplicates != 4 || log[0].LastDuplicateAt == nil || log[0].Topic != "lesson.completed" {
			t.Fatalf("delivery log %+v %v", log, err)
		}
	})
}

// Signed but unreadable: kept as quarantined, answered 2xx, replayable.
func TestQuarantine(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		site := h.school()
		for _, body := range []string{`{"id": not json`, `{"id":"77","resource":"lesson","action":"exploded","created_at":"2024-01-01T00:00:00Z","payload":{}}`} {
			if code, b := h.deliver("school", []byte(body), clientSecret); code != 200 || !strings.Contains(b, "quarantined") {
				t.Fatalf("%s: %d %s", body, code, b)
			}
		}
		h.drain()
		counts, _ := h.db.InboxCount(context.Background(), site.ID)
		if counts[store.StatusQuarantined] != 2 {
			t.Fatalf("counts %v", counts)
		}
		log, _ := h.db.DeliveryLog(context.Background(), site.ID, time.Now().Add(time.Hour), 10)
		if err := h.db.Replay(context.Background(), site.ID, log[0].ID); err != nil {
			t.Fatal(err)
		}
		h.drain()
		counts, _ = h.db.InboxCount(context.Background(), site.ID)
		if counts[store.StatusFailed] != 1 {
			t.Fatalf("a replayed unreadable event should end failed, with its error: %v", counts)
		}
		if err := h.db.Replay(context.Background(), site.ID+1, log[1].ID); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("replay through another site: %v", err)
		}
	})
}

func TestUnavailableDatabaseIs503(t *testing.T) {
	h := newHarness(t, "")
	h.school()
	body := published(t, "lesson.completed.json")
	h.db.Close()
	start := time.Now()
	code, _ := h.deliver("nobody-cached", body, clientSecret)
	if code != http.StatusServiceUnavailable || time.Since(start) > 3*time.Second {
		t.Fatalf("answered %d after %v", code, time.Since(start))
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
