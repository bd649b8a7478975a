package install_test

import (
	"context"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
)

// The sweep restores a webhook someone deleted and one Thinkific deactivated.
func TestSweepRestoresWebhooks(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		hooks := h.Site.Webhooks()
		h.Site.DeleteWebhook(hooks[0].ID)
		h.Site.SetWebhookStatus(hooks[1].ID, "inactive")
		ctx := context.Background()

		if n, err := h.Install.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("swept %d sites before they were due: %v", n, err)
		}
		h.Clock.Advance(h.Cfg.SweepInterval + time.Minute)
		if n, err := h.Install.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("swept %d sites: %v", n, err)
		}
		checkHooks(t, h, h.Site.Webhooks())
		if n, _ := h.Install.Sweep(ctx); n != 0 {
			t.Fatalf("swept %d sites again at once", n)
		}
	})
}
