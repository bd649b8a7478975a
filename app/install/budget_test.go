package install_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Every request an install sends the site's API is in the site's budget, shared by every
// process: the admin check made before the site had an id, the webhooks registered after,
// retries and 429s included; a reinstall's check is taken at once.
func TestInstallRequestsAreCounted(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.Site.Inject(thinkificdouble.Fault{Method: "GET", Path: "/api/v2/webhooks", Status: 500})
		h.Site.Inject(thinkificdouble.Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 429,
			Header: http.Header{"Ratelimit-Reset": {"0"}}, Body: `{"error":"Too many requests"}`})
		for _, install := range []string{"new site", "reinstall"} {
			if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", install, resp.StatusCode)
			}
			h.Install.Drain(context.Background())
			checkHooks(t, h, h.Site.Webhooks())
			sent := len(h.Requests("", "/api/"))
			counted := h.Count("SELECT COUNT(*) FROM api_requests WHERE site_id = ?", h.MustSite().ID)
			if counted != int64(sent) {
				t.Fatalf("%s: %d API requests sent, %d counted", install, sent, counted)
			}
		}
	})
}
