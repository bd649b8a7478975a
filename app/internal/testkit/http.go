package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/thinkificdouble"
)

// Browser is a client with its own cookies that follows redirects, like a person's browser.
func Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// Stepper is a browser that stops at each redirect, to see and tamper with each hop.
func Stepper() *http.Client {
	c := Browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Get fetches url in c and returns the response with its whole body.
func Get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// MustContain fails the test unless body contains every part.
func MustContain(t testing.TB, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q:\n%s", p, body)
		}
	}
}

// InstallVia runs the whole install in browser c and returns the final page, once the
// webhook registration the install started in the background is done.
func (h *Harness) InstallVia(c *http.Client, subdomain string) (*http.Response, string) {
	resp, page := Get(h.T, c, h.URL+"/install?subdomain="+subdomain)
	h.Install.Drain(context.Background())
	return resp, page
}

// CallbackURL starts an install in c and lets the double approve it, returning the
// callback URL the admin's browser would be sent to (not yet visited).
func (h *Harness) CallbackURL(c *http.Client) string {
	h.T.Helper()
	resp, _ := Get(h.T, c, h.URL+"/install?subdomain=acme")
	if resp.StatusCode != http.StatusFound {
		h.T.Fatalf("install answered %d", resp.StatusCode)
	}
	resp, _ = Get(h.T, c, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		h.T.Fatalf("authorize answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// Requests are the double's recorded requests matching method ("" for any) and path fragment.
func (h *Harness) Requests(method, pathPart string) []thinkificdouble.Request {
	var out []thinkificdouble.Request
	for _, r := range h.Double.Requests() {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, pathPart) {
			out = append(out, r)
		}
	}
	return out
}

// Sign is the X-Thinkific-Hmac-Sha256 header Thinkific sends with body.
func Sign(secret string, body []byte) string { return thinkificdouble.Sign(secret, body) }

// Deliver POSTs body as Thinkific does, signed with secret.
func (h *Harness) Deliver(subdomain string, body []byte, secret string) (int, string) {
	h.T.Helper()
	return h.Post(subdomain, body, Sign(secret, body))
}

// DeliverRetrying delivers as Thinkific does under load: a 503 (Stride could not commit in
// time) is tried again, a few times, after a pause.
func (h *Harness) DeliverRetrying(subdomain string, body []byte, secret string) (int, string) {
	h.T.Helper()
	for attempt := 1; ; attempt++ {
		code, resp := h.Deliver(subdomain, body, secret)
		if code != http.StatusServiceUnavailable || attempt == 5 {
			return code, resp
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

// Post sends body to the webhook endpoint with signature as given ("" for none).
func (h *Harness) Post(subdomain string, body []byte, signature string) (int, string) {
	h.T.Helper()
	req, _ := http.NewRequest("POST", h.URL+"/webhooks/thinkific", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Thinkific-Topic", "x")
	if signature != "" {
		req.Header.Set("X-Thinkific-Hmac-Sha256", signature)
	}
	req.Header.Set("X-Thinkific-Subdomain", subdomain)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
