package thinkificdouble

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizeRedirects(t *testing.T) {
	cases := []struct {
		name     string
		decision Decision
		wantCode bool
	}{
		{"approve", Approve, true},
		{"student", Student, true},
		{"deny", Deny, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.d.AddSite("acme").SetDecision(tc.decision)
			resp := f.authorize(t, "acme", authorizeQuery("challenge"))
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d", resp.StatusCode)
			}
			loc := resp.Header.Get("Location")
			if !tc.wantCode {
				if loc != testRedirect+"?error=access+denied" {
					t.Errorf("Location %q", loc)
				}
				return
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			if base := strings.Split(loc, "?")[0]; base != testRedirect {
				t.Errorf("redirected to %q", base)
			}
			if len(q) != 3 || q.Get("code") == "" || q.Get("subdomain") != "acme" || q.Get("state") != "st-123" {
				t.Errorf("callback query %v", q)
			}
		})
	}
}

func TestAuthorizeRefusesBadRequests(t *testing.T) {
	cases := []struct {
		name   string
		site   string
		edit   func(url.Values)
		status int
	}{
		{"unknown site", "nosuch", func(url.Values) {}, http.StatusNotFound},
		{"wrong client_id", "acme", func(q url.Values) { q.Set("client_id", "other") }, http.StatusBadRequest},
		{"response_type token", "acme", func(q url.Values) { q.Set("response_type", "token") }, http.StatusBadRequest},
		{"no redirect_uri", "acme", func(q url.Values) { q.Del("redirect_uri") }, http.StatusBadRequest},
		{"relative redirect_uri", "acme", func(q url.Values) { q.Set("redirect_uri", "/callback") }, http.StatusBadRequest},
		{"no state", "acme", func(q url.Values) { q.Del("state") }, http.StatusBadRequest},
		{"plain challenge", "acme", func(q url.Values) { q.Set("code_challenge_method", "plain") }, http.StatusBadRequest},
		{"challenge without method", "acme", func(q url.Values) { q.Del("code_challenge_method") }, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.d.AddSite("acme")
			q := authorizeQuery("challenge")
			tc.edit(q)
			if resp := f.authorize(t, tc.site, q); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestAuthorizePrompt(t *testing.T) {
	cases := []struct {
		decision string
		want     func(*url.URL) bool
	}{
		{"approve", func(u *url.URL) bool { return u.Query().Get("code") != "" && u.Query().Get("state") == "st-123" }},
		{"deny", func(u *url.URL) bool { return u.RawQuery == "error=access+denied" }},
	}
	for _, tc := range cases {
		t.Run(tc.decision, func(t *testing.T) {
			f := newFixture(t, Config{})
			f.d.AddSite("acme").SetDecision(Prompt)
			q := authorizeQuery("challenge")
			resp, err := f.browser.Get(f.srv.URL + "/sites/acme/oauth2/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`action="/sites/acme/oauth2/authorize/decide"`, `value="st-123"`, `value="approve"`, `value="deny"`} {
				if !strings.Contains(string(page), want) {
					t.Fatalf("prompt page lacks %s:\n%s", want, page)
				}
			}

			// What the browser posts when the human clicks.
			q.Set("decision", tc.decision)
			resp, err = f.browser.PostForm(f.srv.URL+"/sites/acme/oauth2/authorize/decide", q)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			u, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || !tc.want(u) {
				t.Errorf("decide: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}
