package server_test

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

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// The whole install over real HTTP: authorize redirect, token exchange checked by the
// double, five webhooks registered once; a second install changes nothing but tokens.
func TestInstallEndToEnd(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		admin := browser()
		resp, page := h.installVia(admin, "acme")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			t.Fatalf("landed on %s with %d", resp.Request.URL, resp.StatusCode)
		}
		mustContain(t, page, "Learner progress on acme")
		_, page = get(t, admin, h.url+"/connection")
		mustContain(t, page, "enrollment.progress", "lesson.completed", "active")

		auth := h.requests("GET", "/sites/acme/oauth2/authorize")
		if len(auth) != 1 {
			t.Fatalf("%d authorize requests", len(auth))
		}
		q, _ := url.ParseQuery(auth[0].RawQuery)
		want := map[string]string{"client_id": clientID, "redirect_uri": h.url + "/oauth/callback",
			"response_type": "code", "response_mode": "query", "code_challenge_method": "S256"}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
			}
		}
		if len(q.Get("state")) < 32 || len(q.Get("code_challenge")) != 43 {
			t.Errorf("state %q, challenge %q", q.Get("state"), q.Get("code_challenge"))
		}

		tok := h.requests("POST", "/sites/acme/oauth2/token")
		if len(tok) != 1 || tok[0].Status != http.StatusOK {
			t.Fatalf("token requests: %+v", tok)
		}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret))
		if tok[0].Header.Get("Authorization") != basic || !strings.HasPrefix(tok[0].Header.Get("Content-Type"), "application/json") ||
			!strings.HasPrefix(tok[0].Header.Get("User-Agent"), "Stride") {
			t.Errorf("token request headers: %v", tok[0].Header)
		}
		var body map[string]string
		if err := json.Unmarshal(tok[0].Body, &body); err != nil || body["grant_type"] != "authorization_code" || body["code_verifier"] == "" {
			t.Errorf("token request body %s", tok[0].Body)
		}

		hooks := h.site.Webhooks()
		checkHooks(t, h, hooks)
		access1, _ := h.site.Tokens()
		site, err := h.db.SiteBySubdomain(context.Background(), "acme")
		if err != nil || site.GID != h.site.GID() {
			t.Fatalf("site %+v %v", site, err)
		}

		// Install again, from another browser: same site, same webhooks, new tokens.
		h.double.ResetRequests()
		if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("second install: %d", resp.StatusCode)
		}
		if changes := append(h.requests("POST", "/api/v2/webhooks"), h.requests("DELETE", "/api/v2/webhooks")...); len(changes) > 0 {
			t.Fatalf("second install changed webhooks: %d requests", len(changes))
		}
		if again := h.site.Webhooks(); !slices.Equal(ids(again), ids(hooks)) {
			t.Fatalf("webhooks changed: %v → %v", ids(hooks), ids(again))
		}
		access2, refresh2 := h.site.Tokens()
		stored, _ := h.db.Tokens(context.Background(), site.ID)
		if access2 == access1 || stored.Access != access2 || stored.Refresh != refresh2 {
			t.Fatal("tokens were not replaced by the second install's")
		}
		again, _ := h.db.SiteBySubdomain(context.Background(), "acme")
		if again.ID != site.ID || !again.InstalledAt.Equal(site.InstalledAt) {
			t.Fatalf("second install made a new site or moved its install time: %+v vs %+v", again, site)
		}
	})
}

// checkHooks asserts the site has exactly one active webhook per topic, aimed at Stride.
func checkHooks(t *testing.T, h *harness, hooks []thinkificdouble.Webhook) {
	t.Helper()
	var topics []string
	for _, w := range hooks {
		if w.TargetURL != h.url+"/webhooks/thinkific" {
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
	recorded, _ := h.db.Webhooks(context.Background(), mustSite(t, h).ID)
	if len(recorded) != len(want) {
		t.Fatalf("recorded %d webhooks", len(recorded))
	}
	for _, r := range recorded {
		if r.Status != stride.WebhookActive || r.ExternalID == "" {
			t.Errorf("recorded %+v", r)
		}
	}
}

func mustSite(t *testing.T, h *harness) *stride.Site {
	t.Helper()
	s, err := h.db.SiteBySubdomain(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return s
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
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		cases := []struct {
			name string
			run  func(t *testing.T) (*http.Response, string)
			want string
		}{
			{"forged state", func(t *testing.T) (*http.Response, string) {
				c := stepper()
				cb := h.callbackURL(c)
				return get(t, c, replaceParam(cb, "state", "forged-state-0123456789abcdef0123456789"))
			}, "unknown or was already used"},
			{"missing state", func(t *testing.T) (*http.Response, string) {
				c := stepper()
				cb := h.callbackURL(c)
				return get(t, c, replaceParam(cb, "state", ""))
			}, "incomplete"},
			{"state of an install this browser started again", func(t *testing.T) (*http.Response, string) {
				c := stepper()
				earlier := h.callbackURL(c)
				h.callbackURL(c)
				return get(t, c, earlier)
			}, "unknown or was already used"},
			{"expired state", func(t *testing.T) (*http.Response, string) {
				c := stepper()
				cb := h.callbackURL(c)
				h.clock.Advance(11 * time.Minute)
				return get(t, c, cb)
			}, "expired"},
			{"another browser", func(t *testing.T) (*http.Response, string) {
				cb := h.callbackURL(stepper())
				return get(t, stepper(), cb)
			}, "another browser"},
			{"another site", func(t *testing.T) (*http.Response, string) {
				h.double.AddSite("other")
				c := stepper()
				cb := h.callbackURL(c)
				return get(t, c, replaceParam(cb, "subdomain", "other"))
			}, "another site"},
			{"injected subdomain", func(t *testing.T) (*http.Response, string) {
				c := stepper()
				cb := h.callbackURL(c)
				return get(t, c, replaceParam(cb, "subdomain", "evil.com"))
			}, "not a Thinkific site"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := len(h.requests("POST", "/oauth2/token"))
				resp, page := tc.run(t)
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("answered %d, want 400", resp.StatusCode)
				}
				mustContain(t, page, tc.want)
				if after := len(h.requests("POST", "/oauth2/token")); after != before {
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

// Anything but a plain Thinkific subdomain is refused with 400 and no outbound request.
func TestInstallRejectsBadSubdomains(t *testing.T) {
	h := newHarness(t, "")
	bad := []string{"evil.com", "a.b", "x/../y", "ACME", "Acme", "", strings.Repeat("a", 64), "-acme", "acme-",
		"ac me", "acme\x00", "acme/../x", "acme.evil.com", "acme#x", "acme@evil.com", "ácme", "acme\n"}
	for _, sub := range bad {
		t.Run(sub, func(t *testing.T) {
			h.double.ResetRequests()
			resp, page := get(t, stepper(), h.url+"/install?subdomain="+url.QueryEscape(sub))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("answered %d, want 400", resp.StatusCode)
			}
			mustContain(t, page, "not a Thinkific site name")
			if n := len(h.double.Requests()); n != 0 {
				t.Fatalf("%d requests reached Thinkific", n)
			}
		})
	}
	if resp, _ := get(t, stepper(), h.url+"/install?subdomain="+strings.Repeat("a", 63)); resp.StatusCode != http.StatusFound {
		t.Fatalf("a 63-character subdomain is valid, got %d", resp.StatusCode)
	}
}

// The admin cancels on Thinkific: a friendly page with a way to try again, nothing saved.
func TestAccessDenied(t *testing.T) {
	h := newHarness(t, "")
	h.site.SetDecision(thinkificdouble.Deny)
	resp, page := h.installVia(browser(), "acme")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.RawQuery, "error=access+denied") {
		t.Fatalf("%d at %s", resp.StatusCode, resp.Request.URL)
	}
	mustContain(t, page, "Stride was not installed", `href="/install?subdomain=acme"`)
	if _, err := h.db.SiteBySubdomain(context.Background(), "acme"); stride.ErrorCode(err) != stride.ENOTFOUND {
		t.Fatalf("a site was saved: %v", err)
	}
	if len(h.requests("POST", "/oauth2/token")) != 0 {
		t.Fatal("token requested after a denial")
	}
	// The retry link works once the admin approves.
	h.site.SetDecision(thinkificdouble.Approve)
	if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("retry answered %d", resp.StatusCode)
	}
}

// A learner who runs the OAuth flow gets a role-limited token: it must not replace the
// admin's token.
func TestStudentCannotReplaceAdminToken(t *testing.T) {
	h := newHarness(t, "")
	h.installVia(browser(), "acme")
	site := mustSite(t, h)
	before, _ := h.db.Tokens(context.Background(), site.ID)
	h.site.SetDecision(thinkificdouble.Student)
	resp, page := h.installVia(browser(), "acme")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("answered %d, want 403", resp.StatusCode)
	}
	mustContain(t, page, "Only a site owner or admin")
	after, _ := h.db.Tokens(context.Background(), site.ID)
	if after != before {
		t.Fatal("the admin's tokens were replaced")
	}
}

func TestDashboardNeedsSession(t *testing.T) {
	h := newHarness(t, "")
	resp, page := get(t, browser(), h.url+"/")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("answered %d", resp.StatusCode)
	}
	mustContain(t, page, "Open Stride from the Apps page of your Thinkific admin")
	if strings.Contains(page, "acme") {
		t.Fatal("page names a site")
	}
}

func TestInstallSendsAdminIntoThinkificWithAppSlug(t *testing.T) {
	h := newHarness(t, "", func(_ *thinkificdouble.Config, env map[string]string) { env["THINKIFIC_APP_SLUG"] = "stride" })
	c := stepper()
	resp, _ := get(t, c, h.callbackURL(c))
	want := h.cfg.SiteBaseURL("acme") + "/manage/apps/stride"
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("%d → %s, want %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

func TestHealthz(t *testing.T) {
	h := newHarness(t, "")
	resp, body := get(t, browser(), h.url+"/healthz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	h.db.Close()
	if resp, _ := get(t, browser(), h.url+"/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the database closed: %d", resp.StatusCode)
	}
}

// /install writes nothing: the pending install lives in the browser's sealed cookie, so
// anonymous requests to the install URL cost no storage.
func TestInstallWritesNothingUntilCallback(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		before := h.rows()
		for range 50 {
			if resp, _ := get(t, stepper(), h.url+"/install?subdomain=acme"); resp.StatusCode != http.StatusFound {
				t.Fatalf("install answered %d", resp.StatusCode)
			}
		}
		if after := h.rows(); after != before {
			t.Fatalf("50 visits to /install wrote %d rows", after-before)
		}
		if resp, _ := h.installVia(browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("install: %d", resp.StatusCode)
		}
	})
}

// rows counts the rows of every table of Stride's database.
func (h *harness) rows() int64 {
	h.t.Helper()
	q := "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	if !h.db.Postgres() {
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	}
	var tables []string
	if err := h.db.Gorm().Raw(q).Scan(&tables).Error; err != nil {
		h.t.Fatal(err)
	}
	var n int64
	for _, table := range tables {
		n += h.count(`SELECT COUNT(*) FROM "` + table + `"`)
	}
	return n
}

// The admin's browser opens the callback again after the install worked (a reload, a
// second redirect): it is told Stride is installed, and nothing is asked of Thinkific.
func TestRepeatedCallbackShowsSuccess(t *testing.T) {
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		c := stepper()
		cb := h.callbackURL(c)
		if resp, _ := get(t, c, cb); resp.StatusCode != http.StatusFound {
			t.Fatalf("first use answered %d", resp.StatusCode)
		}
		tokens := len(h.requests("POST", "/oauth2/token"))
		resp, page := get(t, c, cb)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("repeated callback answered %d:\n%s", resp.StatusCode, page)
		}
		mustContain(t, page, "Stride is installed on acme")
		if n := len(h.requests("POST", "/oauth2/token")); n != tokens {
			t.Fatal("the repeated callback asked Thinkific for a token")
		}
	})
}

// Nothing about an install is stored before its callback, yet a callback is still good
// once: replayed with the browser's cookie as it was, its code is refused by Thinkific and
// the site's tokens stay as they are.
func TestReplayedCallbackCannotInstall(t *testing.T) {
	h := newHarness(t, "")
	c := stepper()
	cb := h.callbackURL(c)
	u, _ := url.Parse(h.url)
	captured := c.Jar.Cookies(u)
	if resp, _ := get(t, c, cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("first use answered %d", resp.StatusCode)
	}
	before, _ := h.db.Tokens(context.Background(), mustSite(t, h).ID)
	replay := stepper()
	replay.Jar.SetCookies(u, captured)
	resp, page := get(t, replay, cb)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replay answered %d, want 400", resp.StatusCode)
	}
	mustContain(t, page, "already used")
	if after, _ := h.db.Tokens(context.Background(), mustSite(t, h).ID); after != before {
		t.Fatal("the replay replaced the site's tokens")
	}
}
