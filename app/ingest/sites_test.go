package ingest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
)

// The site is the one the signed body names; the unsigned header is a hint. A signed
// delivery no installed site can take is held and applied once its site is installed, and a
// reinstall is seen at once.
func TestRoutedBySignedSite(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		school := h.School()
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		acme, _ := h.DB.SiteBySubdomain(context.Background(), "acme")
		now := h.Clock.Now()
		// The header names acme, the signed body school: school's.
		if code, body := h.Deliver("acme", testkit.LessonEventFor("to-school", testkit.PublishedGID, now, 1, 70, 700), testkit.ClientSecret); code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND event_id = 'to-school'", school.ID); n != 1 {
			t.Fatalf("not stored for the signed site: %d", n)
		}
		// Uninstalled: held. Reinstalled: the next delivery is taken at once, the held one
		// follows.
		h.Deliver("acme", testkit.UninstallEvent("bye", acme.GID, now), testkit.ClientSecret)
		if _, body := h.Deliver("acme", testkit.LessonEventFor("between", acme.GID, now, 2, 70, 700), testkit.ClientSecret); !strings.Contains(body, "held") {
			t.Fatalf("between uninstall and reinstall: %s", body)
		}
		// Another uninstall of the installation that is gone: held, and never to end the next.
		if _, body := h.Deliver("acme", testkit.UninstallEvent("bye-again", acme.GID, now), testkit.ClientSecret); !strings.Contains(body, "held") {
			t.Fatalf("a second uninstall: %s", body)
		}
		h.Clock.Advance(time.Minute)
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("reinstall failed")
		}
		if _, body := h.Deliver("acme", testkit.LessonEventFor("after", acme.GID, h.Clock.Now(), 2, 70, 701), testkit.ClientSecret); !strings.Contains(body, "accepted") {
			t.Fatalf("right after the reinstall: %s", body)
		}
		// A site never installed: held under its signed id until it is.
		if _, body := h.Deliver("newcomer", testkit.LessonEventFor("early", "gid-newcomer", now, 3, 70, 700), testkit.ClientSecret); !strings.Contains(body, "held") {
			t.Fatalf("unknown site: %s", body)
		}
		newcomer := h.SaveSite("newcomer", "gid-newcomer")
		h.Worker.Adopt(context.Background())
		h.Drain()
		for _, c := range []struct {
			site  int64
			event string
		}{{acme.ID, "between"}, {acme.ID, "after"}, {newcomer.ID, "early"}} {
			if status, _, _ := h.InboxRow(c.site, c.event); status != store.StatusProcessed {
				t.Errorf("%s: %s", c.event, status)
			}
		}
		if n := h.Count("SELECT COUNT(*) FROM inbox_unrouted"); n != 0 {
			t.Errorf("%d deliveries still held", n)
		}
		if s, _ := h.DB.Site(context.Background(), acme.ID); !s.Installed() {
			t.Error("a held uninstall of the earlier installation ended the reinstall")
		}
	})
}
