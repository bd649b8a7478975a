package server_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// TestBrowserSettings fills the settings page in chromium, wrong and then right, at full
// width and at 420 px, with screenshots of each.
func TestBrowserSettings(t *testing.T) {
	bin := chromiumPath(t)
	h := testkit.New(t, "", withMailSetUp)
	seedSite(t, h, "acme")
	chrome := startChromium(t, bin)
	shots := screenshotDir(t)
	console := &consoleWatch{}
	admin := newTab(t, chrome, console)
	admin.open(t, "the signed launch", 200, chromedp.Navigate(server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now())))
	admin.open(t, "the Settings link", 200, chromedp.Click(chromedp.CSS(`nav a[href="/settings"]`)))
	wantText(t, admin, "h1", "Settings")
	// zone.js ran under the CSP: it names the browser's zone beside the empty field.
	run(t, admin, "the browser zone hint", chromedp.WaitVisible(chromedp.CSS("[data-browser-zone-hint]")))
	if zone := eval[string](t, admin, `document.querySelector("[data-browser-zone]").textContent`); zone == "" {
		t.Fatal("the browser's zone is not shown")
	}
	admin.screenshot(t, shots, "settings")
	console.file("settings")

	fill := func(sel, value string) {
		t.Helper()
		eval[bool](t, admin, `(e => (e.value = "", true))(document.querySelector("`+sel+`"))`)
		if value != "" {
			run(t, admin, "type in "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
		}
	}
	fill("#stalled_days", "0")
	fill("#time_zone", "Mars/Olympus")
	fill("#digest_recipients", "owner@school.test\nnot an address")
	run(t, admin, "digest on", chromedp.Click(chromedp.CSS("#digest_enabled")))
	admin.open(t, "a wrong form", 422, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	alert := run(t, admin, "errors", chromedp.Text(chromedp.CSS("#form-errors")))
	for _, want := range []string{"from 1 to 365", "Enter a time zone name", "is not an email address"} {
		if !strings.Contains(alert, want) {
			t.Fatalf("the errors say %q, want %q", alert, want)
		}
	}
	if got := eval[[]string](t, admin, `[...document.querySelectorAll("[aria-invalid=true]")].map(e => e.id)`); strings.Join(got, " ") != "stalled_days time_zone digest_recipients" {
		t.Fatalf("fields marked invalid: %q", got)
	}
	if v := eval[string](t, admin, `document.getElementById("time_zone").value`); v != "Mars/Olympus" {
		t.Fatalf("the zone typed is not kept: %q", v)
	}
	admin.screenshot(t, shots, "settings-errors")
	console.file("settings with errors", h.URL+"/settings") // the 422 itself is logged as a failed load

	narrow := newTab(t, chrome, console)
	run(t, narrow, "420px viewport", chromedp.EmulateViewport(420, 800))
	narrow.open(t, "the settings page", 200, chromedp.Navigate(h.URL+"/settings"))
	if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
		t.Fatalf("the settings page scrolls sideways at 420px: document %vpx, body %vpx wide", w[0], w[1])
	}
	run(t, narrow, "stalled days", chromedp.SetValue(chromedp.CSS("#stalled_days"), "400"))
	narrow.open(t, "a wrong form at 420px", 422, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Fatalf("the settings page with errors scrolls sideways at 420px: %vpx", w[0])
	}
	narrow.screenshot(t, shots, "settings-420")
	console.file("settings at 420px", h.URL+"/settings")

	fill("#stalled_days", "21")
	fill("#time_zone", "Europe/Paris")
	fill("#digest_recipients", "owner@school.test\nlead@school.test")
	run(t, admin, "Friday", chromedp.SetValue(chromedp.CSS("#digest_weekday"), "5"))
	admin.open(t, "the right form", 200, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	wantText(t, admin, "#saved", "Settings saved.")
	for sel, want := range map[string]string{"#stalled_days": "21", "#time_zone": "Europe/Paris", "#digest_weekday": "5",
		"#digest_recipients": "owner@school.test\nlead@school.test"} {
		if got := eval[string](t, admin, `document.querySelector("`+sel+`").value`); got != want {
			t.Fatalf("%s is %q after saving, want %q", sel, got, want)
		}
	}
	if !eval[bool](t, admin, `document.getElementById("digest_enabled").checked`) {
		t.Fatal("the digest is not on after saving")
	}
	admin.screenshot(t, shots, "settings-saved")
	console.file("settings saved")

	// The site's pages now show their times in Paris time, not UTC.
	admin.open(t, "the connection page", 200, chromedp.Navigate(h.URL+"/connection"))
	shown := eval[[]string](t, admin, `[...document.querySelectorAll("time[data-local]")].map(e => e.textContent)`)
	if len(shown) == 0 {
		t.Fatal("the connection page shows no times")
	}
	for _, text := range shown {
		if strings.Contains(text, "UTC") || !strings.Contains(text, "GMT+1") {
			t.Fatalf("a time shown as %q, want it in Paris time (GMT+1 in December)", text)
		}
	}
	console.file("connection in the site's zone")

	// The unsubscribe link of a digest: asks first, then unsubscribes, at both widths.
	token := digest.Token(h.Cfg.SecretKey, h.MustSite().ID, "lead@school.test")
	for _, width := range []int64{1024, 420} {
		tab, suffix := admin, ""
		if width == 420 {
			tab, suffix = newTab(t, chrome, console), "-420"
			run(t, tab, "420px viewport", chromedp.EmulateViewport(420, 800))
		}
		tab.open(t, "the unsubscribe link", 200, chromedp.Navigate(h.URL+"/digest/unsubscribe?token="+url.QueryEscape(token)))
		wantText(t, tab, "h1", "Stop the weekly digest?")
		tab.screenshot(t, shots, "unsubscribe"+suffix)
		if w := eval[[]float64](t, tab, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Fatalf("the unsubscribe page scrolls sideways at %dpx: %v", width, w)
		}
		if width == 420 {
			tab.open(t, "unsubscribe", 200, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
			wantText(t, tab, "h1", "Unsubscribed")
			tab.screenshot(t, shots, "unsubscribed"+suffix)
		}
		console.file("unsubscribe at " + strconv.FormatInt(width, 10) + "px")
	}
	if st, _ := h.DB.View(h.MustSite().ID).Settings(context.Background()); strings.Contains(st.DigestRecipients, "lead@school.test") {
		t.Fatalf("still a recipient after unsubscribing: %q", st.DigestRecipients)
	}

	for _, page := range console.pages {
		if got := console.filed[page]; len(got) > 0 {
			t.Errorf("%s reported:\n%s", page, strings.Join(got, "\n"))
		}
	}
}
