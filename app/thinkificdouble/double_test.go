package thinkificdouble

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testclock"
)

const (
	testClientID     = "stride-client"
	testClientSecret = "stride-secret"
	testRedirect     = "https://stride.example/install/callback"
	testUA           = "Stride/1.0 (+https://stride.example)"
)

type fixture struct {
	d     *Double
	srv   *httptest.Server
	clock *testclock.Clock
	// browser follows no redirects, so tests see exactly where the double sends it.
	browser *http.Client
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	c := testclock.At(time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC))
	cfg.ClientID, cfg.ClientSecret, cfg.Now = testClientID, testClientSecret, c.Now
	d := New(cfg)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return &fixture{d: d, srv: srv, clock: c, browser: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func authorizeQuery(challenge string) url.Values {
	q := url.Values{
		"client_id": {testClientID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"response_mode": {"query"}, "state": {"st-123"},
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

// authorize sends the browser to the site's authorize page and returns the answer.
func (f *fixture) authorize(t *testing.T, sub string, q url.Values) *http.Response {
	t.Helper()
	resp, err := f.browser.Get(f.srv.URL + "/sites/" + sub + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// code runs an approved authorization and returns the code from the callback.
func (f *fixture) code(t *testing.T, sub, challenge string) string {
	t.Helper()
	resp := f.authorize(t, sub, authorizeQuery(challenge))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// postToken calls the token endpoint the way Stride should; edit may spoil the request.
func (f *fixture) postToken(t *testing.T, sub string, body any, edit func(*http.Request)) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/sites/"+sub+"/oauth2/token", bytes.NewReader(raw))
	req.SetBasicAuth(testClientID, testClientSecret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", testUA)
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// install runs the whole admin OAuth flow with PKCE and returns the token pair.
func (f *fixture) install(t *testing.T, sub string) (access, refresh string) {
	t.Helper()
	verifier, challenge := pkce("verifier-" + sub + "-0123456789012345678901234567890123")
	code := f.code(t, sub, challenge)
	status, body := f.postToken(t, sub, map[string]string{
		"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
	}, nil)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string), body["refresh_token"].(string)
}

func pkce(verifier string) (string, string) {
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// api calls the Webhooks API with a bearer token; body nil sends no body.
func (f *fixture) api(t *testing.T, method, path, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", testUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func TestRequestsAreRecorded(t *testing.T) {
	f := newFixture(t, Config{})
	f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	f.api(t, http.MethodGet, "/api/v2/webhooks", access, nil)
	f.api(t, http.MethodGet, "/api/v2/webhooks", "nope", nil)

	got := f.d.Requests()
	want := []struct {
		method, path, sub string
		status            int
	}{
		{"GET", "/sites/acme/oauth2/authorize", "acme", 302},
		{"POST", "/sites/acme/oauth2/token", "acme", 200},
		{"GET", "/api/v2/webhooks", "acme", 200},
		{"GET", "/api/v2/webhooks", "", 401},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || g.Path != w.path || g.Subdomain != w.sub || g.Status != w.status {
			t.Errorf("request %d = %s %s %q %d, want %v", i, g.Method, g.Path, g.Subdomain, g.Status, w)
		}
	}
	if !strings.Contains(string(got[1].Body), `"authorization_code"`) || got[1].Header.Get("User-Agent") != testUA {
		t.Errorf("token request not recorded whole: %s %v", got[1].Body, got[1].Header)
	}
	f.d.ResetRequests()
	if n := len(f.d.Requests()); n != 0 {
		t.Errorf("after reset: %d requests", n)
	}
}

func TestSiteURLTemplate(t *testing.T) {
	d := New(Config{})
	if got := d.SiteURLTemplate("http://127.0.0.1:9"); got != "http://127.0.0.1:9/sites/{subdomain}" {
		t.Errorf("got %q", got)
	}
	s := d.AddSite("acme")
	if d.AddSite("acme") != s || d.Site("acme") != s || d.Site("other") != nil {
		t.Error("site lookup")
	}
	if len(s.GID()) != 36 || s.TenantID() == "" || s.Subdomain() != "acme" {
		t.Errorf("site ids: %q %q", s.GID(), s.TenantID())
	}
}
