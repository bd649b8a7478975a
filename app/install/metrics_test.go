package install_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// results reads one counter of m by its result label.
func results(t *testing.T, m *metrics.Metrics, name string) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range fams[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "result" {
				out[l.GetValue()] = s.GetCounter().GetValue()
			}
		}
	}
	return out
}

// Reconciles count each topic's result, refreshes theirs: what an install, a repair and a
// refused refresh token did.
func TestReconcileAndRefreshCounted(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withPreviousAppURL)
		topics := float64(len(stride.WebhookTopics))
		h.Site.AddWebhook("lesson.completed", previousAppURL+"/webhooks/thinkific")
		h.InstallVia(testkit.Browser(), "acme")
		want := map[string]float64{"created": topics - 1, "replaced": 1}
		check := func(step string) {
			t.Helper()
			got := results(t, h.Metrics, "stride_webhook_reconciles_total")
			for _, r := range []string{"kept", "created", "replaced", "error", "unreachable"} {
				if got[r] != want[r] {
					t.Errorf("%s: reconciles %v, want %v", step, got, want)
					return
				}
			}
		}
		check("install")

		h.Site.RevokeAccessTokens() // the next call refreshes
		h.Site.DeleteWebhook(h.Site.Webhooks()[0].ID)
		if _, err := h.Install.Reconcile(context.Background(), h.MustSite()); err != nil {
			t.Fatal(err)
		}
		want["kept"], want["created"] = topics-1, topics
		check("repair")
		if got := results(t, h.Metrics, "stride_token_refreshes_total"); got["refreshed"] != 1 || got["refused"] != 0 || got["error"] != 0 {
			t.Fatalf("refreshes after a 401: %v", got)
		}

		h.Site.Inject(thinkificdouble.Fault{Path: "/oauth2/token", Status: 400, Body: `{"error":"invalid_grant"}`})
		h.Clock.Advance(25 * time.Hour)
		if _, err := h.Install.Tokens(h.MustSite()).Token(context.Background()); err == nil {
			t.Fatal("a refused refresh gave a token")
		}
		if got := results(t, h.Metrics, "stride_token_refreshes_total"); got["refreshed"] != 1 || got["refused"] != 1 || got["error"] != 0 {
			t.Fatalf("refreshes after invalid_grant: %v", got)
		}
	})
}
