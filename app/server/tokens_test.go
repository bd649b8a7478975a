package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/thinkificdouble"
)

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// A refresh whose caller gives up (a deploy's SIGTERM ends its request) still saves the
// pair Thinkific rotated to, so the site is not locked out.
func TestRefreshSurvivesCancellation(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.installVia(browser(), "acme")
		site := mustSite(t, h)
		h.clock.Advance(25 * time.Hour)
		h.site.SetTokenDelay(500 * time.Millisecond)
		grants := h.site.TokenRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := h.install.Tokens(site).Token(ctx); err == nil {
			t.Fatal("the caller's context ended, yet it got a token")
		}
		if !waitFor(3*time.Second, func() bool { return h.site.TokenRequests() > grants }) {
			t.Fatal("Thinkific was never asked")
		}
		saved := waitFor(2*time.Second, func() bool {
			access, refresh := h.site.Tokens()
			stored, err := h.db.Tokens(context.Background(), site.ID)
			return err == nil && stored.Access == access && stored.Refresh == refresh
		})
		if !saved {
			t.Fatal("the rotated pair was lost")
		}
		h.site.SetTokenDelay(0)
		access, _ := h.site.Tokens()
		if _, err := h.install.Tokens(site).Refresh(context.Background(), access); err != nil {
			t.Fatalf("the saved refresh token does not work: %v", err)
		}
	})
}

// While Thinkific's token endpoint is slow, the database is not locked: on SQLite a
// refresh holding the write lock across the call made webhooks wait, then answer 503.
func TestSlowRefreshDoesNotBlockWebhooks(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.installVia(browser(), "acme")
		site := mustSite(t, h)
		h.clock.Advance(25 * time.Hour)
		h.site.SetTokenDelay(2 * time.Second)
		done := make(chan error, 1)
		go func() {
			_, err := h.install.Tokens(site).Token(context.Background())
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		code, body := h.deliver("acme", lessonEvent("during-refresh", h.site.GID(), time.Now()), clientSecret)
		if took := time.Since(start); code != http.StatusOK || took > time.Second {
			t.Fatalf("a delivery during a slow refresh: %d %s after %v", code, body, took)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Thinkific refusing the refresh token (invalid_grant) marks the site "reconnect needed":
// the dashboard says so with the way back, and installing again clears it.
func TestRefusedRefreshAsksToReconnect(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		admin := browser()
		h.installVia(admin, "acme")
		site := mustSite(t, h)
		if _, page := get(t, admin, h.url+"/"); strings.Contains(page, "Reconnect") {
			t.Fatal("a healthy site is asked to reconnect")
		}
		h.site.Inject(thinkificdouble.Fault{Path: "/oauth2/token", Status: 400, Body: `{"error":"invalid_grant"}`})
		h.clock.Advance(25 * time.Hour)
		if _, err := h.install.Tokens(site).Token(context.Background()); err == nil {
			t.Fatal("a refused refresh gave a token")
		}
		if s, _ := h.db.Site(context.Background(), site.ID); !s.ReconnectNeeded {
			t.Fatal("the site is not marked reconnect needed")
		}
		for _, path := range []string{"/", "/connection"} {
			_, page := get(t, admin, h.url+path)
			mustContain(t, page, "Reconnect needed", `href="/install?subdomain=acme"`)
		}
		if resp, _ := h.installVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("reinstall: %d", resp.StatusCode)
		}
		if _, page := get(t, admin, h.url+"/"); strings.Contains(page, "Reconnect needed") {
			t.Fatal("still asked to reconnect after installing again")
		}
	})
}
