package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

func withoutGrace(_ *thinkificdouble.Config, env map[string]string) {
	env["UNINSTALL_GRACE_PERIOD"] = "0s"
}

// With UNINSTALL_GRACE_PERIOD=0 an uninstall deletes a site's data at the next purge, whether
// the webhook request applied it or the worker did (as when the request's apply failed):
// both take the one configured grace.
func TestZeroGraceOnBothUninstallPaths(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL, withoutGrace)
		ctx := context.Background()
		h.installVia(browser(), "acme")
		byRequest, byWorker := mustSite(t, h), h.school()

		if code, body := h.deliver("acme", uninstallEvent("u-request", h.site.GID(), h.clock.Now()), clientSecret); code != 200 || !strings.Contains(body, "accepted") {
			t.Fatalf("%d %s", code, body)
		}
		// The worker's path: the event stored as the receiver stores it, not applied by a request.
		d := store.Delivery{SiteID: byWorker.ID, EventID: "u-worker", Topic: "app.uninstalled", Status: store.StatusAccepted,
			Body: uninstallEvent("u-worker", publishedGID, h.clock.Now()), ReceivedAt: h.clock.Now()}
		if _, err := h.db.InsertDeliveries(ctx, []store.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		h.drain()

		if _, err := h.db.PurgeUninstalled(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path   string
			siteID int64
		}{{"request", byRequest.ID}, {"worker", byWorker.ID}} {
			trail, _ := h.db.AuditTrail(ctx, tc.siteID)
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
