package install_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/internal/testkit"
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
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		site := h.MustSite()
		h.Clock.Advance(25 * time.Hour)
		h.Site.SetTokenDelay(500 * time.Millisecond)
		grants := h.Site.TokenRequests()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := h.Install.Tokens(site).Token(ctx); err == nil {
			t.Fatal("the caller's context ended, yet it got a token")
		}
		if !waitFor(3*time.Second, func() bool { return h.Site.TokenRequests() > grants }) {
			t.Fatal("Thinkific was never asked")
		}
		saved := waitFor(2*time.Second, func() bool {
			access, refresh := h.Site.Tokens()
			stored, err := h.DB.Tokens(context.Background(), site.ID)
			return err == nil && stored.Access == access && stored.Refresh == refresh
		})
		if !saved {
			t.Fatal("the rotated pair was lost")
		}
		h.Site.SetTokenDelay(0)
		access, _ := h.Site.Tokens()
		if _, err := h.Install.Tokens(site).Refresh(context.Background(), access); err != nil {
			t.Fatalf("the saved refresh token does not work: %v", err)
		}
	})
}

// While Thinkific's token endpoint is slow, the database is not locked: on SQLite a
// refresh holding the write lock across the call made webhooks wait, then answer 503.
func TestSlowRefreshDoesNotBlockWebhooks(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		site := h.MustSite()
		h.Clock.Advance(25 * time.Hour)
		h.Site.SetTokenDelay(2 * time.Second)
		done := make(chan error, 1)
		go func() {
			_, err := h.Install.Tokens(site).Token(context.Background())
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		code, body := h.Deliver("acme", testkit.LessonEvent("during-refresh", h.Site.GID(), time.Now()), testkit.ClientSecret)
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
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := testkit.Browser()
		h.InstallVia(admin, "acme")
		site := h.MustSite()
		if _, page := testkit.Get(t, admin, h.URL+"/"); strings.Contains(page, "Reconnect") {
			t.Fatal("a healthy site is asked to reconnect")
		}
		h.Site.Inject(thinkificdouble.Fault{Path: "/oauth2/token", Status: 400, Body: `{"error":"invalid_grant"}`})
		h.Clock.Advance(25 * time.Hour)
		if _, err := h.Install.Tokens(site).Token(context.Background()); err == nil {
			t.Fatal("a refused refresh gave a token")
		}
		if s, _ := h.DB.Site(context.Background(), site.ID); !s.ReconnectNeeded {
			t.Fatal("the site is not marked reconnect needed")
		}
		for _, path := range []string{"/", "/connection"} {
			_, page := testkit.Get(t, admin, h.URL+path)
			testkit.MustContain(t, page, "Reconnect needed", `href="/install?subdomain=acme"`)
		}
		if resp, _ := h.InstallVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("reinstall: %d", resp.StatusCode)
		}
		if _, page := testkit.Get(t, admin, h.URL+"/"); strings.Contains(page, "Reconnect needed") {
			t.Fatal("still asked to reconnect after installing again")
		}
	})
}

// Two processes (two connection pools, two services) and many goroutines find the token
// expired at once: Thinkific is asked once, and the one pair saved is the valid one.
func TestRefreshRace(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		site := h.MustSite()
		grants := h.Site.TokenRequests()
		h.Clock.Advance(25 * time.Hour) // past expiry for Stride; the double still accepts refreshes

		procs := []*install.Service{h.Install, h.SecondInstall()}
		var wg sync.WaitGroup
		got := make([]string, 16)
		for i := range got {
			wg.Go(func() {
				tok, err := procs[i%2].Tokens(site).Token(context.Background())
				if err != nil {
					t.Error(err)
				}
				got[i] = tok
			})
		}
		wg.Wait()
		if n := h.Site.TokenRequests() - grants; n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		access, refresh := h.Site.Tokens()
		for _, g := range got {
			if g != access {
				t.Fatal("a caller got a token other than the current one")
			}
		}
		stored, _ := h.DB.Tokens(context.Background(), site.ID)
		if stored.Access != access || stored.Refresh != refresh {
			t.Fatal("the saved pair is not Thinkific's current pair")
		}
		// The saved refresh token works: a forced refresh succeeds.
		if _, err := h.Install.Tokens(site).Refresh(context.Background(), access); err != nil {
			t.Fatalf("saved refresh token no longer works: %v", err)
		}
	})
}
