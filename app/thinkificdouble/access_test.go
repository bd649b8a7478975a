package thinkificdouble

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAPIRefusesTokens(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, refresh := f.install(t, "acme")
	site.RevokeAccessTokens()

	cases := []struct{ name, token string }{
		{"revoked", access},
		{"unknown", "not-a-token"},
		{"missing", ""},
	}
	for _, tc := range cases {
		status, header, raw := f.api(t, "GET", "/api/v2/webhooks", tc.token, nil)
		if status != http.StatusUnauthorized || !strings.HasPrefix(string(raw), `{"error":"`) ||
			header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s", tc.name, status, raw)
		}
	}

	// Revocation forces a refresh, which must still work.
	_, out := f.postToken(t, "acme", map[string]string{"grant_type": "refresh_token", "refresh_token": refresh}, nil)
	if status, _, _ := f.api(t, "GET", "/api/v2/webhooks", out["access_token"].(string), nil); status != http.StatusOK {
		t.Errorf("refreshed token: %d", status)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, Config{RateLimitPerMinute: 3})
	f.d.AddSite("acme")
	f.d.AddSite("other")
	access, _ := f.install(t, "acme")
	otherAccess, _ := f.install(t, "other")

	steps := []struct {
		name    string
		advance time.Duration
		token   string
		status  int
		reset   string
	}{
		{"1st", 0, access, 200, ""},
		{"2nd", 0, access, 200, ""},
		{"3rd", 0, access, 200, ""},
		{"over", 0, access, 429, "60"},
		{"other site has its own window", 0, otherAccess, 200, ""},
		{"still over", 45 * time.Second, access, 429, "15"},
		{"window reset", 15 * time.Second, access, 200, ""},
	}
	for _, s := range steps {
		f.clock.Advance(s.advance)
		status, header, raw := f.api(t, "GET", "/api/v2/webhooks", s.token, nil)
		if status != s.status || header.Get("RateLimit-Reset") != s.reset {
			t.Errorf("%s: %d reset %q %s", s.name, status, header.Get("RateLimit-Reset"), raw)
		}
		if status == 429 && strings.TrimSpace(string(raw)) != `{"error":"Too many requests"}` {
			t.Errorf("%s: body %s", s.name, raw)
		}
	}

	off := newFixture(t, Config{RateLimitPerMinute: -1})
	off.d.AddSite("acme")
	offAccess, _ := off.install(t, "acme")
	for i := range 200 {
		if status, _, _ := off.api(t, "GET", "/api/v2/webhooks", offAccess, nil); status != 200 {
			t.Fatalf("request %d with the limit off: %d", i, status)
		}
	}
}

func TestInjectedFaults(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, refresh := f.install(t, "acme")
	site.Inject(Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 422, Body: `{"errors":{"topic":"invalid format"}}`})
	site.Inject(Fault{Path: "/api/v2/webhooks", Status: 503, Body: "down", Header: http.Header{"Retry-After": {"7"}}, Times: 2})
	site.Inject(Fault{Path: "/oauth2/token", Status: 500, Body: `{"error":"server_error"}`})

	// The token fault must not take the API faults, and the reverse.
	status, _ := f.postToken(t, "acme", map[string]string{"grant_type": "refresh_token", "refresh_token": refresh}, nil)
	if status != 500 {
		t.Errorf("token fault: %d", status)
	}
	steps := []struct {
		method string
		status int
		want   string
	}{
		{"POST", 422, `{"errors":{"topic":"invalid format"}}`},
		{"GET", 503, "down"},
		{"POST", 503, "down"},
		{"GET", 200, `"items":[]`},
		{"POST", 201, `"status":"active"`},
	}
	body := map[string]string{"topic": "lesson.completed", "target_url": "https://x.example/h"}
	for i, s := range steps {
		var b any
		if s.method == "POST" {
			b = body
		}
		status, header, raw := f.api(t, s.method, "/api/v2/webhooks", access, b)
		if status != s.status || !strings.Contains(string(raw), s.want) {
			t.Errorf("step %d %s: %d %s, want %d %s", i, s.method, status, raw, s.status, s.want)
		}
		if status == 503 && header.Get("Retry-After") != "7" {
			t.Errorf("step %d: fault header missing", i)
		}
	}
	if status, _ := f.postToken(t, "acme", map[string]string{"grant_type": "refresh_token", "refresh_token": refresh}, nil); status != 200 {
		t.Errorf("token after its fault: %d", status)
	}
}
