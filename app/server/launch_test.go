package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/server"
)

// A valid launch shows that site's dashboard; every other launch gets 401 and no data.
func TestLaunch(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.installVia(browser(), "acme")
		h.double.AddSite("beta")
		h.installVia(browser(), "beta")
		acme, beta := h.site, h.double.Site("beta")
		now := h.clock.Now()
		launch := func(secret, sub, tgid string, at time.Time) string {
			return server.LaunchURL(h.url, secret, sub, tgid, at)
		}
		valid := launch(clientSecret, "acme", acme.GID(), now)
		cases := []struct {
			name string
			url  string
			want int
		}{
			{"valid", valid, 200},
			{"tampered subdomain", strings.Replace(valid, "subdomain=acme", "subdomain=beta", 1), 401},
			{"tampered signature", strings.Replace(valid, "hmac=", "hmac=00", 1), 401},
			{"wrong secret", launch("not-the-secret", "acme", acme.GID(), now), 401},
			{"stale", launch(clientSecret, "acme", acme.GID(), now.Add(-6*time.Minute)), 401},
			{"future", launch(clientSecret, "acme", acme.GID(), now.Add(5*time.Minute)), 401},
			{"another site's tgid", launch(clientSecret, "acme", beta.GID(), now), 401},
			{"unknown site", launch(clientSecret, "nobody", "gid", now), 401},
			{"no signature", h.url + "/?subdomain=acme&tgid=" + acme.GID() + "&timestamp=1&hmac=", 401},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, page := get(t, browser(), tc.url)
				if resp.StatusCode != tc.want {
					t.Fatalf("answered %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == 200 {
					mustContain(t, page, "Learner progress on acme")
					if strings.Contains(page, "beta") {
						t.Fatal("another site's name on the page")
					}
					csp := resp.Header.Get("Content-Security-Policy")
					if !strings.HasSuffix(csp, "frame-ancestors "+h.cfg.SiteOrigin("acme")) {
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
		c := browser()
		get(t, c, launch(clientSecret, "acme", acme.GID(), now.Add(-time.Second))) // a fresh link: each works once
		if resp, _ := get(t, c, h.url+"/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("session after launch: %d", resp.StatusCode)
		}
		// An uninstalled site cannot launch.
		h.deliver("beta", uninstallEvent("bye", beta.GID(), now), clientSecret)
		if resp, _ := get(t, browser(), launch(clientSecret, "beta", beta.GID(), now)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("uninstalled site launched: %d", resp.StatusCode)
		}
	})
}

// A launch link starts one session, once, whichever process sees it: a copy of the link
// used elsewhere is refused, while the browser that used it may load it again.
func TestLaunchIsSingleUse(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.installVia(browser(), "acme")
		link := server.LaunchURL(h.url, clientSecret, "acme", h.site.GID(), h.clock.Now())
		admin := browser()
		if resp, _ := get(t, admin, link); resp.StatusCode != http.StatusOK {
			t.Fatalf("first use answered %d", resp.StatusCode)
		}
		if resp, page := get(t, browser(), link); resp.StatusCode != http.StatusUnauthorized || strings.Contains(page, "Learner progress") {
			t.Fatalf("second use in another browser answered %d", resp.StatusCode)
		}
		other := h.startProcess(nil)
		if resp, _ := get(t, browser(), strings.Replace(link, h.url, other.url, 1)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use in another process answered %d", resp.StatusCode)
		}
		if resp, _ := get(t, admin, link); resp.StatusCode != http.StatusOK {
			t.Fatalf("the admin's own browser reloading the link answered %d", resp.StatusCode)
		}

		// Used links are forgotten once they would be stale anyway.
		h.clock.Advance(6 * time.Minute) // past the 5 minutes a link lives, and the 30 s of skew
		get(t, browser(), server.LaunchURL(h.url, clientSecret, "acme", h.site.GID(), h.clock.Now()))
		var kept int64
		if err := h.db.Gorm().Table("launch_uses").Count(&kept).Error; err != nil || kept != 1 {
			t.Fatalf("launch_uses holds %d rows (%v), want only the newest", kept, err)
		}
	})
}
