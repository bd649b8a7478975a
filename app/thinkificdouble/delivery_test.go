package thinkificdouble

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that answers with status and remembers what it got.
type receiver struct {
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	status int
	delay  time.Duration
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, body)
	status, delay := rc.status, rc.delay
	rc.mu.Unlock()
	time.Sleep(delay)
	w.WriteHeader(status)
}

func validMAC(key string, body []byte, sig string) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	want, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(m.Sum(nil), want)
}

func TestDeliver(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	rc := &receiver{status: 200}
	hooks := httptest.NewServer(rc)
	defer hooks.Close()

	_, _, raw := f.api(t, "POST", "/api/v2/webhooks", access,
		map[string]string{"topic": "lesson.completed", "target_url": hooks.URL + "/app"})
	var byApp Webhook
	json.Unmarshal(raw, &byApp)
	byAdmin := site.AddWebhook("lesson.completed", hooks.URL+"/admin")
	off := site.AddWebhook("lesson.completed", hooks.URL+"/off")
	site.SetWebhookStatus(off.ID, "inactive")
	site.AddWebhook("enrollment.progress", hooks.URL+"/progress")

	out, err := site.Deliver(context.Background(), "lesson.completed", map[string]any{"lesson": map[string]any{"id": 24220}})
	if err != nil || len(out) != 2 {
		t.Fatalf("Deliver: %v, %d deliveries", err, len(out))
	}
	keys := map[string]string{byApp.ID: testClientSecret, byAdmin.ID: site.APIKey()}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, dl := range out {
		r, body := rc.got[i], rc.bodies[i]
		if dl.Err != nil || dl.Status != 200 || string(body) != string(dl.Body) {
			t.Errorf("delivery %d: %+v", i, dl)
		}
		if r.Header.Get("X-Thinkific-Topic") != "lesson.completed" || r.Header.Get("X-Thinkific-Subdomain") != "acme" {
			t.Errorf("delivery %d headers %v", i, r.Header)
		}
		if !validMAC(keys[dl.WebhookID], body, r.Header.Get("X-Thinkific-Hmac-Sha256")) {
			t.Errorf("delivery %d to %s: bad signature", i, dl.URL)
		}
		var ev map[string]any
		json.Unmarshal(body, &ev)
		if !idPattern.MatchString(ev["id"].(string)) || ev["resource"] != "lesson" || ev["action"] != "completed" ||
			ev["tenant_id"] != site.TenantID() || ev["tenant_global_id"] != site.GID() || ev["payload"] == nil {
			t.Errorf("envelope %s", body)
		}
	}
	if _, err := site.Deliver(context.Background(), "lesson.started", nil); err == nil {
		t.Error("unknown topic delivered")
	}
}

func TestDeliverFailures(t *testing.T) {
	cases := []struct {
		name    string
		rc      *receiver
		timeout time.Duration
		status  int
	}{
		{"non-2xx", &receiver{status: 500}, time.Second, 500},
		{"too slow", &receiver{status: 200, delay: 300 * time.Millisecond}, 50 * time.Millisecond, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			site := f.d.AddSite("acme")
			hooks := httptest.NewServer(tc.rc)
			defer hooks.Close()
			site.AddWebhook("app.uninstalled", hooks.URL)

			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			out := site.DeliverRaw(ctx, "app.uninstalled", []byte(`{"id":"1","resource":"app","action":"uninstalled"}`))
			if len(out) != 1 || out[0].Err == nil || out[0].Status != tc.status {
				t.Errorf("got %+v", out)
			}
		})
	}
}
