package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Anything but a plain Thinkific subdomain is refused with 400 and no outbound request.
func TestInstallRejectsBadSubdomains(t *testing.T) {
	h := testkit.New(t, "")
	bad := []string{"evil.com", "a.b", "x/../y", "ACME", "Acme", "", strings.Repeat("a", 64), "-acme", "acme-",
		"ac me", "acme\x00", "acme/../x", "acme.evil.com", "acme#x", "acme@evil.com", "ácme", "acme\n"}
	for _, sub := range bad {
		t.Run(sub, func(t *testing.T) {
			h.Double.ResetRequests()
			resp, page := testkit.Get(t, testkit.Stepper(), h.URL+"/install?subdomain="+url.QueryEscape(sub))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("answered %d, want 400", resp.StatusCode)
			}
			testkit.MustContain(t, page, "not a Thinkific site name")
			if n := len(h.Double.Requests()); n != 0 {
				t.Fatalf("%d requests reached Thinkific", n)
			}
		})
	}
	if resp, _ := testkit.Get(t, testkit.Stepper(), h.URL+"/install?subdomain="+strings.Repeat("a", 63)); resp.StatusCode != http.StatusFound {
		t.Fatalf("a 63-character subdomain is valid, got %d", resp.StatusCode)
	}
}

// The admin cancels on Thinkific: a friendly page with a way to try again, nothing saved.
func TestAccessDenied(t *testing.T) {
	h := testkit.New(t, "")
	h.Site.SetDecision(thinkificdouble.Deny)
	resp, page := h.InstallVia(testkit.Browser(), "acme")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.RawQuery, "error=access+denied") {
		t.Fatalf("%d at %s", resp.StatusCode, resp.Request.URL)
	}
	testkit.MustContain(t, page, "Stride was not installed", `href="/install?subdomain=acme"`)
	if _, err := h.DB.SiteBySubdomain(context.Background(), "acme"); stride.ErrorCode(err) != stride.ENOTFOUND {
		t.Fatalf("a site was saved: %v", err)
	}
	if len(h.Requests("POST", "/oauth2/token")) != 0 {
		t.Fatal("token requested after a denial")
	}
	// The retry link works once the admin approves.
	h.Site.SetDecision(thinkificdouble.Approve)
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("retry answered %d", resp.StatusCode)
	}
}

func TestInstallSendsAdminIntoThinkificWithAppSlug(t *testing.T) {
	h := testkit.New(t, "", func(_ *thinkificdouble.Config, env map[string]string) { env["THINKIFIC_APP_SLUG"] = "stride" })
	c := testkit.Stepper()
	resp, _ := testkit.Get(t, c, h.CallbackURL(c))
	want := h.Cfg.SiteBaseURL("acme") + "/manage/apps/stride"
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("%d → %s, want %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// The admin's browser opens the callback again after the install worked (a reload, a
// second redirect): it is told Stride is installed, and nothing is asked of Thinkific.
func TestRepeatedCallbackShowsSuccess(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		c := testkit.Stepper()
		cb := h.CallbackURL(c)
		if resp, _ := testkit.Get(t, c, cb); resp.StatusCode != http.StatusFound {
			t.Fatalf("first use answered %d", resp.StatusCode)
		}
		tokens := len(h.Requests("POST", "/oauth2/token"))
		resp, page := testkit.Get(t, c, cb)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("repeated callback answered %d:\n%s", resp.StatusCode, page)
		}
		testkit.MustContain(t, page, "Stride is installed on acme")
		if n := len(h.Requests("POST", "/oauth2/token")); n != tokens {
			t.Fatal("the repeated callback asked Thinkific for a token")
		}
	})
}

// Nothing about an install is stored before its callback, yet a callback is still good
// once: replayed with the browser's cookie as it was, its code is refused by Thinkific and
// the site's tokens stay as they are.
func TestReplayedCallbackCannotInstall(t *testing.T) {
	h := testkit.New(t, "")
	c := testkit.Stepper()
	cb := h.CallbackURL(c)
	u, _ := url.Parse(h.URL)
	captured := c.Jar.Cookies(u)
	if resp, _ := testkit.Get(t, c, cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("first use answered %d", resp.StatusCode)
	}
	before, _ := h.DB.Tokens(context.Background(), h.MustSite().ID)
	replay := testkit.Stepper()
	replay.Jar.SetCookies(u, captured)
	resp, page := testkit.Get(t, replay, cb)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replay answered %d, want 400", resp.StatusCode)
	}
	testkit.MustContain(t, page, "already used")
	if after, _ := h.DB.Tokens(context.Background(), h.MustSite().ID); after != before {
		t.Fatal("the replay replaced the site's tokens")
	}
}
