package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// A valid launch shows that site's dashboard; every other launch gets 401 and no data.
func TestLaunch(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		h.Double.AddSite("beta")
		h.InstallVia(testkit.Browser(), "beta")
		acme, beta := h.Site, h.Double.Site("beta")
		now := h.Clock.Now()
		launch := func(secret, sub, tgid string, at time.Time) string {
			return server.LaunchURL(h.URL, secret, sub, tgid, at)
		}
		valid := launch(testkit.ClientSecret, "acme", acme.GID(), now)
		cases := []struct {
			name string
			url  string
			want int
		}{
			{"valid", valid, 200},
			{"tampered subdomain", strings.Replace(valid, "subdomain=acme", "subdomain=beta", 1), 401},
			{"tampered signature", strings.Replace(valid, "hmac=", "hmac=00", 1), 401},
			{"wrong secret", launch("not-the-secret", "acme", acme.GID(), now), 401},
			{"stale", launch(testkit.ClientSecret, "acme", acme.GID(), now.Add(-6*time.Minute)), 401},
			{"future", launch(testkit.ClientSecret, "acme", acme.GID(), now.Add(5*time.Minute)), 401},
			{"another site's tgid", launch(testkit.ClientSecret, "acme", beta.GID(), now), 401},
			{"unknown site", launch(testkit.ClientSecret, "nobody", "gid", now), 401},
			{"no signature", h.URL + "/?subdomain=acme&tgid=" + acme.GID() + "&timestamp=1&hmac=", 401},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, page := testkit.Get(t, testkit.Browser(), tc.url)
				if resp.StatusCode != tc.want {
					t.Fatalf("answered %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == 200 {
					testkit.MustContain(t, page, "Learner progress on acme")
					if strings.Contains(page, "beta") {
						t.Fatal("another site's name on the page")
					}
					csp := resp.Header.Get("Content-Security-Policy")
					if !strings.HasSuffix(csp, "frame-ancestors "+h.Cfg.SiteOrigin("acme")) {
						t.Fatalf("CSP %q", csp)
					}
					return
				}
				if strings.Contains(page, "acme") || strings.Contains(page, "Learner progress") {
					t.Fatal("a refused launch shows site data")
				}
			})
		}
		// The session lives in a cookie: the admin stays in without the signed query.
		c := testkit.Browser()
		testkit.Get(t, c, launch(testkit.ClientSecret, "acme", acme.GID(), now.Add(-time.Second))) // a fresh link: each works once
		if resp, _ := testkit.Get(t, c, h.URL+"/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("session after launch: %d", resp.StatusCode)
		}
		// An uninstalled site cannot launch.
		h.Deliver("beta", testkit.UninstallEvent("bye", beta.GID(), now), testkit.ClientSecret)
		if resp, _ := testkit.Get(t, testkit.Browser(), launch(testkit.ClientSecret, "beta", beta.GID(), now)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("uninstalled site launched: %d", resp.StatusCode)
		}
	})
}

// A launch link starts one session, once, whichever process sees it: a copy of the link
// used elsewhere is refused, while the browser that used it may load it again.
func TestLaunchIsSingleUse(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		link := server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now())
		admin := testkit.Browser()
		if resp, _ := testkit.Get(t, admin, link); resp.StatusCode != http.StatusOK {
			t.Fatalf("first use answered %d", resp.StatusCode)
		}
		if resp, page := testkit.Get(t, testkit.Browser(), link); resp.StatusCode != http.StatusUnauthorized || strings.Contains(page, "Learner progress") {
			t.Fatalf("second use in another browser answered %d", resp.StatusCode)
		}
		other := h.StartProcess(nil)
		if resp, _ := testkit.Get(t, testkit.Browser(), strings.Replace(link, h.URL, other.URL, 1)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use in another process answered %d", resp.StatusCode)
		}
		if resp, _ := testkit.Get(t, admin, link); resp.StatusCode != http.StatusOK {
			t.Fatalf("the admin's own browser reloading the link answered %d", resp.StatusCode)
		}

		// Used links are forgotten once they would be stale anyway.
		h.Clock.Advance(6 * time.Minute) // past the 5 minutes a link lives, and the 30 s of skew
		testkit.Get(t, testkit.Browser(), server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now()))
		var kept int64
		if err := h.DB.Gorm().Table("launch_uses").Count(&kept).Error; err != nil || kept != 1 {
			t.Fatalf("launch_uses holds %d rows (%v), want only the newest", kept, err)
		}
	})
}
