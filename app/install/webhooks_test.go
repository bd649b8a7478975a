package install_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// previousAppURL is a Stride address named in PREVIOUS_APP_URLS: its webhooks are Stride's.
const previousAppURL = "https://stride-old.example.com"

func withPreviousAppURL(_ *thinkificdouble.Config, env map[string]string) {
	env["PREVIOUS_APP_URLS"] = previousAppURL
}

// Stride's webhooks at an old address are replaced; anyone else's are left alone, even
// when their path is Stride's: another vendor's, or another Stride deployment's.
func TestReconcileReplacesStaleKeepsForeign(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withPreviousAppURL)
		old := h.Site.AddWebhook("lesson.completed", previousAppURL+"/webhooks/thinkific")
		foreign := h.Site.AddWebhook("lesson.completed", "https://hooks.zapier.example.com/catch/1")
		otherStride := h.Site.AddWebhook("enrollment.progress", "https://stride-staging.example.net/webhooks/thinkific")
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("install: %d", resp.StatusCode)
		}
		hooks := h.Site.Webhooks()
		checkHooks(t, h, hooks)
		left := ids(hooks)
		if slices.Contains(left, old.ID) {
			t.Fatal("the webhook at Stride's old address is still there")
		}
		if !slices.Contains(left, foreign.ID) || !slices.Contains(left, otherStride.ID) {
			t.Fatal("someone else's webhook was deleted")
		}
	})
}

// 429 waits for RateLimit-Reset, 5xx backs off, 401 refreshes once: the install still
// ends with every webhook registered once.
func TestReconcileSurvivesThinkificTrouble(t *testing.T) {
	cases := []struct {
		name    string
		fault   thinkificdouble.Fault
		minWait time.Duration
	}{
		{"429 with RateLimit-Reset", thinkificdouble.Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 429,
			Header: http.Header{"Ratelimit-Reset": {"1"}}, Body: `{"error":"Too many requests"}`}, 900 * time.Millisecond},
		{"503 twice", thinkificdouble.Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 503, Times: 2}, 0},
		{"500 on the list", thinkificdouble.Fault{Method: "GET", Path: "/api/v2/webhooks", Status: 500}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testkit.New(t, "")
			h.Site.Inject(tc.fault)
			start := time.Now()
			if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
				t.Fatalf("install: %d", resp.StatusCode)
			}
			if took := time.Since(start); took < tc.minWait {
				t.Fatalf("took %v, Thinkific asked to wait %v", took, tc.minWait)
			}
			checkHooks(t, h, h.Site.Webhooks())
		})
	}
}

func TestReconcileRefreshesOn401(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		grants := h.Site.TokenRequests()
		h.Site.RevokeAccessTokens()
		h.Site.DeleteWebhook(h.Site.Webhooks()[0].ID)
		if _, err := h.Install.Reconcile(context.Background(), h.MustSite()); err != nil {
			t.Fatal(err)
		}
		if got := h.Site.TokenRequests(); got != grants+1 {
			t.Fatalf("%d refreshes, want 1", got-grants)
		}
		checkHooks(t, h, h.Site.Webhooks())
		access, refresh := h.Site.Tokens()
		stored, _ := h.DB.Tokens(context.Background(), h.MustSite().ID)
		if stored.Access != access || stored.Refresh != refresh {
			t.Fatal("the rotated pair was not saved")
		}
	})
}

// Stride's webhooks on the third page of the list are found: reinstalling never duplicates.
func TestReconcileReadsEveryPage(t *testing.T) {
	h := testkit.New(t, "")
	for i := range 60 {
		h.Site.AddWebhook("order.created", fmt.Sprintf("https://crm.example.com/hook/%d", i))
	}
	h.InstallVia(testkit.Browser(), "acme")
	first := h.Site.Webhooks()
	h.InstallVia(testkit.Browser(), "acme")
	if again := h.Site.Webhooks(); len(again) != 60+len(stride.WebhookTopics) || !slices.Equal(ids(again), ids(first)) {
		t.Fatalf("%d webhooks after the second install", len(again))
	}
	checkHooks(t, h, h.Site.Webhooks())
	if pages := len(h.Requests("GET", "/api/v2/webhooks")); pages < 6 {
		t.Fatalf("listed %d pages over two installs, want 3 each", pages)
	}
}

// The Webhooks API schema types a webhook's id and created_by as numbers, the examples as
// strings: either way the list is read and the install registers every webhook once.
func TestInstallWithNumericWebhookIDs(t *testing.T) {
	h := testkit.New(t, "", func(c *thinkificdouble.Config, _ map[string]string) { c.NumericIDs = true })
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("install: %d", resp.StatusCode)
	}
	first := h.Site.Webhooks()
	checkHooks(t, h, first)
	recorded, _ := h.DB.Webhooks(context.Background(), h.MustSite().ID)
	for _, r := range recorded {
		if !slices.Contains(ids(first), r.ExternalID) {
			t.Errorf("recorded id %q is not one of Thinkific's", r.ExternalID)
		}
	}
	h.Site.DeleteWebhook(first[0].ID)
	if _, err := h.Install.Reconcile(context.Background(), h.MustSite()); err != nil {
		t.Fatal(err)
	}
	if again := h.Site.Webhooks(); len(again) != len(first) {
		t.Fatalf("%d webhooks after a reconcile, want %d", len(again), len(first))
	}
}

// One topic's create failing does not stop the others, and Stride's stale webhook for that
// topic stays until its replacement exists. The Connection page says what is missing and
// the sweep completes the set a minute later.
func TestReconcileCreatesBeforeDeletingAndCarriesOn(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withPreviousAppURL)
		first := stride.WebhookTopics[0]
		old := h.Site.AddWebhook(first, previousAppURL+"/webhooks/thinkific")
		// Every try of the first create fails, the client's retries included.
		h.Site.Inject(thinkificdouble.Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 503, Times: 5})
		admin := testkit.Browser()
		if resp, _ := h.InstallVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("install: %d", resp.StatusCode)
		}
		hooks := h.Site.Webhooks()
		if !slices.Contains(ids(hooks), old.ID) {
			t.Fatal("the stale webhook was deleted before its replacement existed")
		}
		var aimed []string
		for _, w := range hooks {
			if w.TargetURL == h.URL+"/webhooks/thinkific" {
				aimed = append(aimed, w.Topic)
			}
		}
		if len(aimed) != len(stride.WebhookTopics)-1 || slices.Contains(aimed, first) {
			t.Fatalf("registered %v after %s failed", aimed, first)
		}
		_, page := testkit.Get(t, admin, h.URL+"/connection")
		testkit.MustContain(t, page, "Missing webhooks", first)

		h.Clock.Advance(61 * time.Second)
		if n, err := h.Install.Sweep(context.Background()); err != nil || n != 1 {
			t.Fatalf("a minute later the sweep reconciled %d sites: %v", n, err)
		}
		checkHooks(t, h, h.Site.Webhooks())
		if slices.Contains(ids(h.Site.Webhooks()), old.ID) {
			t.Fatal("the stale webhook is still there once replaced")
		}
		_, page = testkit.Get(t, admin, h.URL+"/connection")
		if strings.Contains(page, "Missing webhooks") {
			t.Fatal("the Connection page still reports missing webhooks")
		}
	})
}

// Thinkific keeps one webhook per topic. A create refused because Stride's stale webhook
// holds the topic moves that webhook to the new address in place, so the topic is never
// without one; a stale webhook Thinkific deactivated delivers nothing, so it is deleted
// and created anew.
func TestReconcileOneWebhookPerTopic(t *testing.T) {
	h := testkit.New(t, "", withPreviousAppURL, func(c *thinkificdouble.Config, _ map[string]string) { c.OneWebhookPerTopic = true })
	moved := h.Site.AddWebhook("lesson.completed", previousAppURL+"/webhooks/thinkific")
	dead := h.Site.AddWebhook("enrollment.progress", previousAppURL+"/webhooks/thinkific")
	h.Site.SetWebhookStatus(dead.ID, "inactive")
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("install: %d", resp.StatusCode)
	}
	hooks := h.Site.Webhooks()
	checkHooks(t, h, hooks)
	for _, w := range hooks {
		if w.Topic == "lesson.completed" && w.ID != moved.ID {
			t.Fatal("the active stale webhook was replaced, not moved in place")
		}
	}
	if slices.Contains(ids(hooks), dead.ID) {
		t.Fatal("the deactivated webhook is still there")
	}
	if n := len(h.Requests("DELETE", "/api/v2/webhooks/")); n != 1 {
		t.Fatalf("%d deletes, want 1 (the deactivated webhook)", n)
	}
}

// The callback saves the install and answers at once; webhooks register in the background
// under the site's lease, so a sweep meanwhile leaves the site alone and no topic ends up
// with two webhooks, however slowly Thinkific answers.
func TestCallbackAnswersBeforeWebhooksRegister(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.Site.Inject(thinkificdouble.Fault{Method: "POST", Path: "/api/v2/webhooks", Status: 429,
			Header: http.Header{"Ratelimit-Reset": {"2"}}, Body: `{"error":"Too many requests"}`})
		c := testkit.Stepper()
		cb := h.CallbackURL(c)
		start := time.Now()
		if resp, _ := testkit.Get(t, c, cb); resp.StatusCode != http.StatusFound {
			t.Fatalf("callback answered %d", resp.StatusCode)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("the callback took %v: it waited for Thinkific's rate limit", took)
		}
		if n, err := h.Install.Sweep(context.Background()); err != nil || n != 0 {
			t.Fatalf("the sweep reconciled %d sites while the install registered webhooks: %v", n, err)
		}
		h.Install.Drain(context.Background())
		hooks := h.Site.Webhooks()
		if len(hooks) != len(stride.WebhookTopics) {
			t.Fatalf("%d webhooks, want %d", len(hooks), len(stride.WebhookTopics))
		}
		checkHooks(t, h, hooks)
	})
}
