package server_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// Over https every response carries HSTS, and a void session is cleared with the attributes
// it was set with: a clear without Partitioned leaves the partitioned cookie in place.
func TestHTTPSHeadersAndSessionClear(t *testing.T) {
	h := testkit.New(t, "")
	h.InstallVia(testkit.Browser(), "acme")
	p := h.StartProcess(map[string]string{"APP_URL": "https://stride.example.com"})
	resp, _ := testkit.Get(t, testkit.Stepper(), server.LaunchURL(p.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now()))
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("launch answered %d with cookies %v", resp.StatusCode, resp.Cookies())
	}
	session := resp.Cookies()[0]
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Fatalf("Strict-Transport-Security %q over https", hsts)
	}
	if resp, _ := testkit.Get(t, testkit.Browser(), h.URL+"/healthz"); resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS sent for a plain-http APP_URL")
	}

	if code, body := h.Deliver("acme", testkit.UninstallEvent("bye", h.Site.GID(), h.Clock.Now()), testkit.ClientSecret); code != 200 {
		t.Fatalf("uninstall: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	clear := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(clear, "stride_session=;") {
		t.Fatalf("void session: %d, Set-Cookie %q", resp.StatusCode, clear)
	}
	for _, attr := range []string{"Max-Age=0", "Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"} {
		if !strings.Contains(clear, attr) {
			t.Errorf("the clearing Set-Cookie %q lacks %s", clear, attr)
		}
	}
}

// The pages that tell an admin what to do (401, 403) may be framed by the Thinkific admin:
// by the launch's own site when it names a valid one, else by any Thinkific site. Other
// pages stay unframeable.
func TestGuidancePagesCanBeFramed(t *testing.T) {
	h := testkit.New(t, "")
	p := h.StartProcess(map[string]string{"THINKIFIC_SITE_URL": "https://{subdomain}.thinkific.com"})
	cases := []struct {
		name, path string
		status     int
		ancestors  string
	}{
		{"no session", "/courses/1", 401, "https://*.thinkific.com"},
		{"refused launch", "/?subdomain=acme&tgid=1&timestamp=1&hmac=00", 401, "https://acme.thinkific.com"},
		{"refused launch, bad subdomain", "/?subdomain=evil.example%2Fx&tgid=1&timestamp=1&hmac=00", 401, "https://*.thinkific.com"},
		{"not found", "/static/nothing.css", 404, "'none'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := testkit.Get(t, testkit.Browser(), p.URL+tc.path)
			csp := resp.Header.Get("Content-Security-Policy")
			if resp.StatusCode != tc.status || !strings.HasSuffix(csp, "frame-ancestors "+tc.ancestors) {
				t.Fatalf("answered %d with CSP %q, want %d framed by %s", resp.StatusCode, csp, tc.status, tc.ancestors)
			}
		})
	}
}

// A client's X-Request-ID is not taken: Stride names each request itself, in the response,
// the error body and the log.
func TestRequestIDIsOurOwn(t *testing.T) {
	h := testkit.New(t, "")
	var logs testkit.Logs
	url := serveReal(h, 0, &logs)
	req, _ := http.NewRequest(http.MethodGet, url+"/nothing-here", nil)
	req.Header.Set("X-Request-ID", "forged-by-the-client")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[A-Z2-7]{26}$`).MatchString(id) || !strings.Contains(string(body), id) {
		t.Fatalf("request id %q, body %s", id, body)
	}
	if strings.Contains(logs.String(), "forged") || strings.Contains(string(body), "forged") {
		t.Fatalf("the client's request id was used:\n%s", logs.String())
	}
}

// A page number past any course is an empty page, not an overflowed offset and a 503.
func TestHugePageNumber(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")
		for _, page := range []string{"9223372036854775807", "99999999999999999999", "-3", "2"} {
			if resp, _ := testkit.Get(t, admin, h.URL+"/courses/70?page="+page); resp.StatusCode != http.StatusOK {
				t.Errorf("page=%s answered %d", page, resp.StatusCode)
			}
		}
	})
}

// The webhook body cap is 256 KiB, as the README says, not 256,000 bytes; a GET of the
// webhook URL says what it is.
func TestWebhookURLLimits(t *testing.T) {
	h := testkit.New(t, "")
	for _, tc := range []struct {
		size int
		want int
	}{
		{256 << 10, http.StatusUnauthorized}, // read whole, refused for its signature
		{256<<10 + 1, http.StatusRequestEntityTooLarge},
	} {
		if code, body := h.Deliver("acme", bytes.Repeat([]byte("x"), tc.size), "not-the-secret"); code != tc.want {
			t.Errorf("%d bytes: %d %s, want %d", tc.size, code, body, tc.want)
		}
	}
	resp, body := testkit.Get(t, testkit.Browser(), h.URL+"/webhooks/thinkific")
	if resp.StatusCode != http.StatusOK || body != "Stride webhook endpoint" {
		t.Fatalf("GET of the webhook URL: %d %q", resp.StatusCode, body)
	}
}
