package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// withMailSetUp gives Stride SMTP_URL and MAIL_FROM (no server needs to listen: the page
// only needs to know mail is set up).
func withMailSetUp(_ *thinkificdouble.Config, env map[string]string) {
	env["SMTP_URL"] = "smtp://127.0.0.1:2525"
	env["MAIL_FROM"] = "Stride <digest@stride.test>"
}

// postSettings submits the settings form in c, from Stride's own pages unless headers say
// otherwise, and returns the status (redirects not followed) and page.
func postSettings(t *testing.T, c *http.Client, h *testkit.Harness, form url.Values, headers map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/settings", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, html.UnescapeString(string(b))
}

func goodSettings() url.Values {
	return url.Values{"stalled_days": {"21"}, "time_zone": {"Europe/Paris"}, "digest_enabled": {"1"},
		"digest_recipients": {"owner@school.test\r\nTeam Lead <lead@school.test>\r\n\r\nOWNER@school.test"}, "digest_weekday": {"5"}, "digest_hour": {"7"}}
}

func TestSettings(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withMailSetUp)
		admin := seedSite(t, h, "acme")
		_, page := testkit.Get(t, admin, h.URL+"/settings")
		testkit.MustContain(t, page, `href="/settings" aria-current="page"`, `name="stalled_days" type="number"`, `value="15"`,
			`<option value="1" selected>Monday</option>`, `<option value="8" selected>08:00</option>`)
		if strings.Contains(page, "Mail is not set up") {
			t.Fatal("mail is set up, the page says it is not")
		}

		// A cross-site form post is refused (CSRF), and changes nothing.
		if code, _ := postSettings(t, admin, h, goodSettings(), map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
			t.Fatalf("cross-site post: %d, want 403", code)
		}
		// Without a session, nothing either.
		if code, _ := postSettings(t, testkit.Browser(), h, goodSettings(), nil); code != http.StatusUnauthorized {
			t.Fatalf("post without a session: %d, want 401", code)
		}

		cases := []struct {
			name   string
			change func(url.Values)
			errors []string // each shown, the form kept
		}{
			{"days zero", func(f url.Values) { f.Set("stalled_days", "0") }, []string{"Enter a whole number of days from 1 to 365."}},
			{"days fraction", func(f url.Values) { f.Set("stalled_days", "2.5") }, []string{"from 1 to 365"}},
			{"days too many", func(f url.Values) { f.Set("stalled_days", "366") }, []string{"from 1 to 365"}},
			{"unknown zone", func(f url.Values) { f.Set("time_zone", "Mars/Olympus") }, []string{"Enter a time zone name like Europe/Paris"}},
			{"Local is not a zone", func(f url.Values) { f.Set("time_zone", "Local") }, []string{"Enter a time zone name"}},
			{"bad address", func(f url.Values) { f.Set("digest_recipients", "owner@school.test\nnot an address") }, []string{"“not an address” is not an email address"}},
			{"too many", func(f url.Values) {
				var lines []string
				for i := range 21 {
					lines = append(lines, "a"+itoa(int64(i))+"@school.test")
				}
				f.Set("digest_recipients", strings.Join(lines, "\n"))
			}, []string{"At most 20 addresses"}},
			{"on without recipients", func(f url.Values) { f.Set("digest_recipients", " ") }, []string{"Add at least one address"}},
			{"bad weekday", func(f url.Values) { f.Set("digest_weekday", "7") }, []string{"Choose a day of the week."}},
			{"bad hour", func(f url.Values) { f.Set("digest_hour", "24") }, []string{"Choose an hour from 0 to 23."}},
			{"several", func(f url.Values) { f.Set("stalled_days", "x"); f.Set("time_zone", "Nowhere") }, []string{"from 1 to 365", "Enter a time zone name"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				form := goodSettings()
				tc.change(form)
				code, page := postSettings(t, admin, h, form, nil)
				if code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422", code)
				}
				testkit.MustContain(t, page, append(tc.errors, "The settings were not saved.", `aria-invalid="true"`)...)
				// What was typed comes back.
				testkit.MustContain(t, page, `value="`+form.Get("stalled_days")+`"`, `value="`+form.Get("time_zone")+`"`)
				if r := strings.TrimSpace(form.Get("digest_recipients")); r != "" && !strings.Contains(page, r) {
					t.Fatalf("the recipients typed are not kept")
				}
			})
		}
		st, _ := h.DB.View(h.MustSite().ID).Settings(context.Background())
		if st.StalledDays != 15 || st.DigestEnabled {
			t.Fatalf("a refused form changed the settings: %+v", st)
		}

		// Saved, and shown again as saved.
		code, _ := postSettings(t, admin, h, goodSettings(), nil)
		if code != http.StatusSeeOther {
			t.Fatalf("save: %d, want 303", code)
		}
		_, page = testkit.Get(t, admin, h.URL+"/settings?saved=1")
		testkit.MustContain(t, page, "Settings saved.", `value="21"`, `value="Europe/Paris"`, "owner@school.test\nlead@school.test</textarea>",
			`<option value="5" selected>Friday</option>`, `<option value="7" selected>07:00</option>`, `name="digest_enabled" type="checkbox" value="1" checked`)
		st, _ = h.DB.View(h.MustSite().ID).Settings(context.Background())
		if st.StalledDays != 21 || st.TimeZone != "Europe/Paris" || !st.DigestEnabled || st.DigestRecipients != "owner@school.test\nlead@school.test" ||
			st.DigestWeekday != 5 || st.DigestHour != 7 {
			t.Fatalf("stored %+v", st)
		}
		// Every page of the site names the zone its times are shown in; the times themselves
		// are written in UTC for static/zone.js to convert.
		_, page = testkit.Get(t, admin, h.URL+"/connection")
		testkit.MustContain(t, page, `data-zone="Europe/Paris"`, `<script src="/static/zone.js" defer></script>`)
		// Empty zone: the browser's.
		form := goodSettings()
		form.Set("time_zone", "")
		if code, _ := postSettings(t, admin, h, form, nil); code != http.StatusSeeOther {
			t.Fatalf("empty zone: %d", code)
		}
		_, page = testkit.Get(t, admin, h.URL+"/connection")
		testkit.MustContain(t, page, `data-zone=""`)
	})
}

func TestSettingsWithoutMail(t *testing.T) {
	h := testkit.New(t, "")
	admin := seedSite(t, h, "acme")
	_, page := testkit.Get(t, admin, h.URL+"/settings")
	testkit.MustContain(t, page, "Mail is not set up on this Stride", `name="digest_enabled" type="checkbox" value="1" disabled`)
	code, page := postSettings(t, admin, h, goodSettings(), nil)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("digest on without mail: %d", code)
	}
	testkit.MustContain(t, page, "the digest cannot be turned on")
	// The rest saves with the digest off.
	form := goodSettings()
	form.Del("digest_enabled")
	if code, _ := postSettings(t, admin, h, form, nil); code != http.StatusSeeOther {
		t.Fatalf("save without the digest: %d", code)
	}
}
