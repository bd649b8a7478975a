package progress_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// app.uninstalled: locked out at once, tokens gone, sessions void, data deleted after the
// grace period unless the site reinstalls, and an audit row for each step.
func TestUninstall(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := testkit.Browser()
		if resp, _ := h.InstallVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		site := h.MustSite()
		h.Deliver("acme", testkit.LessonEvent("before-uninstall", h.Site.GID(), time.Now()), testkit.ClientSecret)
		h.Drain()

		code, body := h.Deliver("acme", testkit.UninstallEvent("u1", h.Site.GID(), h.Clock.Now()), testkit.ClientSecret)
		if code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		// At once: before any worker ran.
		if s, _ := h.DB.Site(context.Background(), site.ID); s.Installed() {
			t.Fatal("still installed")
		}
		if _, err := h.DB.Tokens(context.Background(), site.ID); stride.ErrorCode(err) != stride.ENOTFOUND {
			t.Fatalf("tokens kept: %v", err)
		}
		if resp, _ := testkit.Get(t, admin, h.URL+"/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("session still works: %d", resp.StatusCode)
		}
		// Later deliveries for the site are held, not applied: a reinstall would take them.
		if _, body := h.Deliver("acme", testkit.LessonEvent("after", h.Site.GID(), time.Now()), testkit.ClientSecret); !strings.Contains(body, "held") {
			t.Fatalf("after uninstall: %s", body)
		}
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
			t.Fatalf("data deleted before the grace period: %d", n)
		}
		h.Clock.Advance(h.Cfg.UninstallGrace + time.Hour)
		if n, err := h.DB.PurgeUninstalled(context.Background()); err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		for _, table := range []string{"inbox", "learner_events", "learners", "courses", "lessons", "enrollments"} {
			if n := h.Count("SELECT COUNT(*) FROM "+table+" WHERE site_id = ?", site.ID); n != 0 {
				t.Errorf("%s keeps %d rows", table, n)
			}
		}
		trail, _ := h.DB.AuditTrail(context.Background(), site.ID)
		var actions []string
		for _, a := range trail {
			actions = append(actions, a.Action)
		}
		if got := strings.Join(actions, ","); got != "installed,uninstalled,data_deleted" {
			t.Fatalf("audit trail %s", got)
		}
	})
}

// Reinstalling within the grace period keeps the data; an old uninstall retried by Thinkific
// after the reinstall changes nothing.
func TestReinstallCancelsPurge(t *testing.T) {
	h := testkit.New(t, "")
	h.InstallVia(testkit.Browser(), "acme")
	site := h.MustSite()
	h.Deliver("acme", testkit.LessonEvent("kept", h.Site.GID(), time.Now()), testkit.ClientSecret)
	h.Drain()
	uninstall := testkit.UninstallEvent("u1", h.Site.GID(), h.Clock.Now())
	h.Deliver("acme", uninstall, testkit.ClientSecret)
	h.Clock.Advance(time.Hour)
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("reinstall: %d", resp.StatusCode)
	}
	// Thinkific retries the old uninstall (a different delivery of it is a duplicate, and the
	// event is older than the reinstall anyway).
	h.Deliver("acme", uninstall, testkit.ClientSecret)
	h.Deliver("acme", testkit.UninstallEvent("u1-replayed-as-new", h.Site.GID(), h.Clock.Now().Add(-30*time.Minute)), testkit.ClientSecret)
	h.Drain()
	if s, _ := h.DB.Site(context.Background(), site.ID); !s.Installed() {
		t.Fatal("an old uninstall undid the reinstall")
	}
	h.Clock.Advance(h.Cfg.UninstallGrace + time.Hour)
	if n, _ := h.DB.PurgeUninstalled(context.Background()); n != 0 {
		t.Fatalf("purged %d sites", n)
	}
	if n := h.Count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 1 {
		t.Fatalf("%d learner events", n)
	}
}

// With UNINSTALL_GRACE_PERIOD=0 an uninstall deletes a site's data at the next purge, whether
// the webhook request applied it or the worker did (as when the request's apply failed):
// both take the one configured grace.
func TestZeroGraceOnBothUninstallPaths(t *testing.T) {
	withoutGrace := func(_ *thinkificdouble.Config, env map[string]string) { env["UNINSTALL_GRACE_PERIOD"] = "0s" }
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withoutGrace)
		ctx := context.Background()
		h.InstallVia(testkit.Browser(), "acme")
		byRequest, byWorker := h.MustSite(), h.School()

		if code, body := h.Deliver("acme", testkit.UninstallEvent("u-request", h.Site.GID(), h.Clock.Now()), testkit.ClientSecret); code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		// The worker's path: the event stored as the receiver stores it, not applied by a request.
		d := store.Delivery{SiteID: byWorker.ID, EventID: "u-worker", Topic: "app.uninstalled", Status: store.StatusAccepted,
			Body: testkit.UninstallEvent("u-worker", testkit.PublishedGID, h.Clock.Now()), ReceivedAt: h.Clock.Now()}
		if _, err := h.DB.InsertDeliveries(ctx, []store.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		h.Drain()

		if _, err := h.DB.PurgeUninstalled(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path   string
			siteID int64
		}{{"request", byRequest.ID}, {"worker", byWorker.ID}} {
			trail, _ := h.DB.AuditTrail(ctx, tc.siteID)
			var actions []string
			for _, a := range trail {
				actions = append(actions, a.Action)
			}
			if got := strings.Join(actions, ","); got != "installed,uninstalled,data_deleted" {
				t.Errorf("uninstalled by the %s: audit trail %s, want the data deleted at once", tc.path, got)
			}
		}
	})
}
