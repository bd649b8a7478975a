package thinkificdouble

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenExchange(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	verifier, challenge := pkce("a-verifier-long-enough-for-rfc-7636-0123456789")
	code := f.code(t, "acme", challenge)
	status, body := f.postToken(t, "acme", map[string]string{
		"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
	}, nil)
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, body)
	}
	if body["token_type"] != "bearer" || body["expires_in"] != float64(86399) || body["gid"] != site.GID() {
		t.Errorf("body %v", body)
	}
	access, refresh := site.Tokens()
	if body["access_token"] != access || body["refresh_token"] != refresh || access == "" || refresh == "" {
		t.Errorf("Tokens() = %q %q, body %v", access, refresh, body)
	}
	if _, ok := body["subdomain"]; ok {
		t.Error("Thinkific's token answer carries no subdomain")
	}
	if n := site.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests %d", n)
	}
}

func TestTokenExchangeFailures(t *testing.T) {
	verifier, challenge := pkce("a-verifier-long-enough-for-rfc-7636-0123456789")
	grant := func(code, v string) map[string]string {
		return map[string]string{"grant_type": "authorization_code", "code": code, "code_verifier": v}
	}
	cases := []struct {
		name    string
		site    string                 // where the token request goes; the code is from acme
		before  func(*fixture, string) // runs after the code is issued
		body    func(code string) any  // default: a correct grant
		edit    func(*http.Request)    // spoils the request
		status  int
		errCode string
	}{
		{name: "no basic auth", edit: func(r *http.Request) { r.Header.Del("Authorization") },
			status: 401, errCode: "invalid_client"},
		{name: "wrong secret", edit: func(r *http.Request) { r.SetBasicAuth(testClientID, "guess") },
			status: 401, errCode: "invalid_client"},
		{name: "no user agent", edit: func(r *http.Request) { r.Header.Set("User-Agent", "") },
			status: 400, errCode: "invalid_request"},
		{name: "go default user agent", edit: func(r *http.Request) { r.Header.Del("User-Agent") },
			status: 400, errCode: "invalid_request"},
		{name: "form body", body: func(code string) any { return nil }, edit: func(r *http.Request) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {verifier}}
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Body = io.NopCloser(strings.NewReader(form.Encode()))
			r.ContentLength = int64(len(form.Encode()))
		}, status: 400, errCode: "invalid_request"},
		{name: "reused code", before: func(f *fixture, code string) {
			if status, _ := f.postToken(t, "acme", grant(code, verifier), nil); status != 200 {
				t.Fatalf("first use: %d", status)
			}
		}, status: 400, errCode: "invalid_grant"},
		{name: "bad verifier", body: func(code string) any { return grant(code, verifier+"x") },
			status: 400, errCode: "invalid_grant"},
		{name: "no verifier", body: func(code string) any { return grant(code, "") },
			status: 400, errCode: "invalid_grant"},
		{name: "other site's code", site: "other", status: 400, errCode: "invalid_grant"},
		{name: "expired code", before: func(f *fixture, _ string) { f.clock.Advance(11 * time.Minute) },
			status: 400, errCode: "invalid_grant"},
		{name: "unknown grant type", body: func(code string) any { return map[string]string{"grant_type": "password"} },
			status: 400, errCode: "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.d.AddSite("acme")
			f.d.AddSite("other")
			code := f.code(t, "acme", challenge)
			if tc.before != nil {
				tc.before(f, code)
			}
			var body any = grant(code, verifier)
			if tc.body != nil {
				body = tc.body(code)
			}
			site := "acme"
			if tc.site != "" {
				site = tc.site
			}
			status, out := f.postToken(t, site, body, tc.edit)
			if status != tc.status || out["error"] != tc.errCode {
				t.Errorf("got %d %v, want %d %s", status, out, tc.status, tc.errCode)
			}
		})
	}
}

func TestRefreshRotates(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	f.d.AddSite("other")
	_, r1 := f.install(t, "acme")
	refresh := func(sub, token string) (int, map[string]any) {
		return f.postToken(t, sub, map[string]string{"grant_type": "refresh_token", "refresh_token": token}, nil)
	}

	if status, out := refresh("other", r1); status != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh at another site: %d %v", status, out)
	}
	status, out := refresh("acme", r1)
	if status != 200 || out["refresh_token"] == r1 || out["gid"] != site.GID() {
		t.Fatalf("refresh: %d %v", status, out)
	}
	a2, r2 := site.Tokens()
	if out["access_token"] != a2 || out["refresh_token"] != r2 {
		t.Errorf("Tokens() not the new pair")
	}
	if status, out := refresh("acme", r1); status != 400 || out["error"] != "invalid_grant" {
		t.Errorf("old refresh token reused: %d %v", status, out)
	}
	if status, _ := refresh("acme", r2); status != 200 {
		t.Errorf("new refresh token: %d", status)
	}
	if n := site.TokenRequests(); n != 3 {
		t.Errorf("TokenRequests %d, want 3", n)
	}
}

func TestStudentTokenIsNotAdmin(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	adminAccess, adminRefresh := f.install(t, "acme")

	site.SetDecision(Student)
	studentAccess, studentRefresh := f.install(t, "acme")
	if a, r := site.Tokens(); a != adminAccess || r != adminRefresh {
		t.Error("student grant replaced the admin tokens")
	}
	status, _, body := f.api(t, http.MethodGet, "/api/v2/webhooks", studentAccess, nil)
	if status != http.StatusForbidden || strings.TrimSpace(string(body)) != `{"error":"Forbidden"}` {
		t.Errorf("student on webhooks API: %d %s", status, body)
	}
	// A student's refresh stays a student's.
	_, out := f.postToken(t, "acme", map[string]string{"grant_type": "refresh_token", "refresh_token": studentRefresh}, nil)
	if status, _, _ := f.api(t, http.MethodGet, "/api/v2/webhooks", out["access_token"].(string), nil); status != http.StatusForbidden {
		t.Errorf("refreshed student token: %d", status)
	}
	if a, _ := site.Tokens(); a != adminAccess {
		t.Error("student refresh replaced the admin tokens")
	}
	if status, out := f.postToken(t, "acme", map[string]string{"grant_type": "refresh_token", "refresh_token": studentRefresh}, nil); status != 400 {
		t.Errorf("student refresh token reused: %d %v", status, out)
	}
	if status, _, _ := f.api(t, http.MethodGet, "/api/v2/webhooks", adminAccess, nil); status != http.StatusOK {
		t.Errorf("admin token: %d", status)
	}
}

func TestAccessTokenExpires(t *testing.T) {
	f := newFixture(t, Config{AccessTokenTTL: time.Hour})
	f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	f.clock.Advance(time.Hour)
	if status, _, _ := f.api(t, http.MethodGet, "/api/v2/webhooks", access, nil); status != http.StatusUnauthorized {
		t.Errorf("expired token: %d", status)
	}
}
