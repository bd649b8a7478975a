package install_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// The whole install over real HTTP: authorize redirect, token exchange checked by the
// double, five webhooks registered once; a second install changes nothing but tokens.
func TestInstallEndToEnd(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := testkit.Browser()
		resp, page := h.InstallVia(admin, "acme")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			t.Fatalf("landed on %s with %d", resp.Request.URL, resp.StatusCode)
		}
		testkit.MustContain(t, page, "Learner progress on acme")
		_, page = testkit.Get(t, admin, h.URL+"/connection")
		testkit.MustContain(t, page, "enrollment.progress", "lesson.completed", "active")

		auth := h.Requests("GET", "/sites/acme/oauth2/authorize")
		if len(auth) != 1 {
			t.Fatalf("%d authorize requests", len(auth))
		}
		q, _ := url.ParseQuery(auth[0].RawQuery)
		want := map[string]string{"client_id": testkit.ClientID, "redirect_uri": h.URL + "/oauth/callback",
			"response_type": "code", "response_mode": "query", "code_challenge_method": "S256"}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
			}
		}
		// crypto/rand.Text: 26 base32 characters, 128 bits, unguessable.
		if len(q.Get("state")) < 26 || len(q.Get("code_challenge")) != 43 {
			t.Errorf("state %q, challenge %q", q.Get("state"), q.Get("code_challenge"))
		}

		tok := h.Requests("POST", "/sites/acme/oauth2/token")
		if len(tok) != 1 || tok[0].Status != http.StatusOK {
			t.Fatalf("token requests: %+v", tok)
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testkit.ClientID+":"+testkit.ClientSecret))
		if tok[0].Header.Get("Authorization") != basic || !strings.HasPrefix(tok[0].Header.Get("Content-Type"), "application/json") ||
			!strings.HasPrefix(tok[0].Header.Get("User-Agent"), "Stride") {
			t.Errorf("token request headers: %v", tok[0].Header)
		}
		var body map[string]string
		if err := json.Unmarshal(tok[0].Body, &body); err != nil || body["grant_type"] != "authorization_code" || body["code_verifier"] == "" {
			t.Errorf("token request body %s", tok[0].Body)
		}

		hooks := h.Site.Webhooks()
		checkHooks(t, h, hooks)
		access1, _ := h.Site.Tokens()
		site, err := h.DB.SiteBySubdomain(context.Background(), "acme")
		if err != nil || site.GID != h.Site.GID() {
			t.Fatalf("site %+v %v", site, err)
		}

		// Install again, from another browser: same site, same webhooks, new tokens.
		h.Double.ResetRequests()
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("second install: %d", resp.StatusCode)
		}
		if changes := append(h.Requests("POST", "/api/v2/webhooks"), h.Requests("DELETE", "/api/v2/webhooks")...); len(changes) > 0 {
			t.Fatalf("second install changed webhooks: %d requests", len(changes))
		}
		if again := h.Site.Webhooks(); !slices.Equal(ids(again), ids(hooks)) {
			t.Fatalf("webhooks changed: %v → %v", ids(hooks), ids(again))
		}
		access2, refresh2 := h.Site.Tokens()
		stored, _ := h.DB.Tokens(context.Background(), site.ID)
		if access2 == access1 || stored.Access != access2 || stored.Refresh != refresh2 {
			t.Fatal("tokens were not replaced by the second install's")
		}
		again, _ := h.DB.SiteBySubdomain(context.Background(), "acme")
		if again.ID != site.ID || !again.InstalledAt.Equal(site.InstalledAt) {
			t.Fatalf("second install made a new site or moved its install time: %+v vs %+v", again, site)
		}
	})
}

// checkHooks asserts the site has exactly one active webhook per topic, aimed at Stride.
func checkHooks(t *testing.T, h *testkit.Harness, hooks []thinkificdouble.Webhook) {
	t.Helper()
	var topics []string
	for _, w := range hooks {
		if w.TargetURL != h.URL+"/webhooks/thinkific" {
			continue
		}
		if w.Status != "active" {
			t.Errorf("webhook %s is %s", w.Topic, w.Status)
		}
		topics = append(topics, w.Topic)
	}
	slices.Sort(topics)
	want := slices.Clone(stride.WebhookTopics)
	slices.Sort(want)
	if !slices.Equal(topics, want) {
		t.Fatalf("webhooks aimed at Stride: %v, want %v", topics, want)
	}
	recorded, _ := h.DB.Webhooks(context.Background(), h.MustSite().ID)
	if len(recorded) != len(want) {
		t.Fatalf("recorded %d webhooks", len(recorded))
	}
	for _, r := range recorded {
		if r.Status != stride.WebhookActive || r.ExternalID == "" {
			t.Errorf("recorded %+v", r)
		}
	}
}

func ids(hooks []thinkificdouble.Webhook) []string {
	var out []string
	for _, w := range hooks {
		out = append(out, w.ID)
	}
	return out
}

// Every malformed state is refused before Stride asks Thinkific for a token.
func TestCallbackRejections(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		cases := []struct {
			name string
			run  func(t *testing.T) (*http.Response, string)
			want string
		}{
			{"forged state", func(t *testing.T) (*http.Response, string) {
				c := testkit.Stepper()
				cb := h.CallbackURL(c)
				return testkit.Get(t, c, replaceParam(cb, "state", "forged-state-0123456789abcdef0123456789"))
			}, "unknown or was already used"},
			{"missing state", func(t *testing.T) (*http.Response, string) {
				c := testkit.Stepper()
				cb := h.CallbackURL(c)
				return testkit.Get(t, c, replaceParam(cb, "state", ""))
			}, "incomplete"},
			{"state of an install this browser started again", func(t *testing.T) (*http.Response, string) {
				c := testkit.Stepper()
				earlier := h.CallbackURL(c)
				h.CallbackURL(c)
				return testkit.Get(t, c, earlier)
			}, "unknown or was already used"},
			{"expired state", func(t *testing.T) (*http.Response, string) {
				c := testkit.Stepper()
				cb := h.CallbackURL(c)
				h.Clock.Advance(11 * time.Minute)
				return testkit.Get(t, c, cb)
			}, "expired"},
			{"another browser", func(t *testing.T) (*http.Response, string) {
				cb := h.CallbackURL(testkit.Stepper())
				return testkit.Get(t, testkit.Stepper(), cb)
			}, "another browser"},
			{"another site", func(t *testing.T) (*http.Response, string) {
				h.Double.AddSite("other")
				c := testkit.Stepper()
				cb := h.CallbackURL(c)
				return testkit.Get(t, c, replaceParam(cb, "subdomain", "other"))
			}, "another site"},
			{"injected subdomain", func(t *testing.T) (*http.Response, string) {
				c := testkit.Stepper()
				cb := h.CallbackURL(c)
				return testkit.Get(t, c, replaceParam(cb, "subdomain", "evil.com"))
			}, "not a Thinkific site"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := len(h.Requests("POST", "/oauth2/token"))
				resp, page := tc.run(t)
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("answered %d, want 400", resp.StatusCode)
				}
				testkit.MustContain(t, page, tc.want)
				if after := len(h.Requests("POST", "/oauth2/token")); after != before {
					t.Fatalf("Stride asked Thinkific for a token anyway")
				}
			})
		}
	})
}

func replaceParam(raw, key, value string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// A learner who runs the OAuth flow gets a role-limited token: it must not replace the
// admin's token.
func TestStudentCannotReplaceAdminToken(t *testing.T) {
	h := testkit.New(t, "")
	h.InstallVia(testkit.Browser(), "acme")
	site := h.MustSite()
	before, _ := h.DB.Tokens(context.Background(), site.ID)
	h.Site.SetDecision(thinkificdouble.Student)
	resp, page := h.InstallVia(testkit.Browser(), "acme")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("answered %d, want 403", resp.StatusCode)
	}
	testkit.MustContain(t, page, "Only a site owner or admin")
	after, _ := h.DB.Tokens(context.Background(), site.ID)
	if after != before {
		t.Fatal("the admin's tokens were replaced")
	}
}

// /install writes nothing: the pending install lives in the browser's sealed cookie, so
// anonymous requests to the install URL cost no storage.
func TestInstallWritesNothingUntilCallback(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		before := rows(h)
		for range 50 {
			if resp, _ := testkit.Get(t, testkit.Stepper(), h.URL+"/install?subdomain=acme"); resp.StatusCode != http.StatusFound {
				t.Fatalf("install answered %d", resp.StatusCode)
			}
		}
		if after := rows(h); after != before {
			t.Fatalf("50 visits to /install wrote %d rows", after-before)
		}
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("install: %d", resp.StatusCode)
		}
	})
}

// rows counts the rows of every table of Stride's database.
func rows(h *testkit.Harness) int64 {
	h.T.Helper()
	q := "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	if !h.DB.Postgres() {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	}
	var tables []string
	if err := h.DB.Gorm().Raw(q).Scan(&tables).Error; err != nil {
		h.T.Fatal(err)
	}
	var n int64
	for _, table := range tables {
		n += h.Count(`SELECT COUNT(*) FROM "` + table + `"`)
	}
	return n
}
