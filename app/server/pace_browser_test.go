package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// TestBrowserPace opens course 80 of the pace history (pace_test.go) in chromium at 1024
// and 420 px: the pace and cohort sections, the cohort chart drawn by the vendored Chart.js
// from the page's JSON under the strict CSP, and a learner's pace; screenshots of each.
func TestBrowserPace(t *testing.T) {
	bin := chromiumPath(t)
	h := testkit.New(t, "")
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != 200 {
		t.Fatalf("install: %d", resp.StatusCode)
	}
	ph := deliverPaceHistory(t, h, 1)
	chrome := startChromium(t, bin)
	shots := screenshotDir(t)
	console := &consoleWatch{}
	admin := newTab(t, chrome, console)
	admin.open(t, "the signed launch", 200, chromedp.Navigate(server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now())))

	noSideways := func(t *testing.T, tb *tab, what string) {
		t.Helper()
		if w := eval[[]float64](t, tb, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
			wide := eval[[]string](t, tb, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className)`)
			t.Fatalf("%s scrolls sideways at 420px: document %vpx, body %vpx wide; wide: %q", what, w[0], w[1], wide)
		}
	}
	for _, width := range []int64{1024, 420} {
		tb, suffix := admin, ""
		if width == 420 {
			tb, suffix = newTab(t, chrome, console), "-420"
			run(t, tb, "420px viewport", chromedp.EmulateViewport(420, 800))
		}
		tb.open(t, "course 80", 200, chromedp.Navigate(h.URL+"/courses/80"))
		if !eval[bool](t, tb, `(c => Chart.getChart(c) !== undefined && c.width > 0)(document.getElementById("cohort-chart"))`) {
			t.Fatal("#cohort-chart was not drawn by Chart.js")
		}
		labels := eval[[]string](t, tb, `Chart.getChart(document.getElementById("cohort-chart")).data.labels`)
		if want := len(ph.cohortRows()); len(labels) != want || labels[0] > labels[len(labels)-1] {
			t.Fatalf("the chart's months %q, want %d, oldest first", labels, want)
		}
		if n := eval[int](t, tb, `Chart.getChart(document.getElementById("cohort-chart")).data.datasets.length`); n != 4 {
			t.Fatalf("the chart draws %d series, want 3 medians and the completion rate", n)
		}
		wantText(t, tb, "#pace-finished", fmt.Sprint(len(ph.daysToFinish())))
		if width == 420 {
			noSideways(t, tb, "the course page")
			for _, id := range []string{"pace-median", "pace-p75", "pace-finished", "cohort-chart"} {
				if !eval[bool](t, tb, `(r => r.width > 0 && r.left >= 0 && r.right <= window.innerWidth)(document.getElementById("`+id+`").getBoundingClientRect())`) {
					t.Fatalf("#%s is not within the 420px viewport", id)
				}
			}
		}
		tb.screenshot(t, shots, "course-pace"+suffix)
		// The two sections alone, to look at without the long learner list.
		for _, id := range []string{"pace", "cohorts"} {
			png := run(t, tb, "screenshot #"+id, chromedp.Screenshot(chromedp.CSS("#"+id)))
			if err := os.WriteFile(filepath.Join(shots, "course-"+id+"-section"+suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		console.file("course pace" + suffix)

		learner := int64(0)
		for l := range ph.done {
			if _, imported := ph.imported[l]; !imported {
				learner = l
				break
			}
		}
		tb.open(t, "a learner who finished", 200, chromedp.Navigate(fmt.Sprintf("%s/learners/%d", h.URL, learner)))
		theirs := run(t, tb, "their pace", chromedp.Text(chromedp.CSS(`#pace tr[data-course="80"] .theirs`)))
		median := run(t, tb, "the course's", chromedp.Text(chromedp.CSS(`#pace tr[data-course="80"] .median`)))
		if !strings.HasPrefix(theirs, "finished in ") || !strings.HasPrefix(median, "median ") {
			t.Fatalf("learner %d's pace: %q beside %q", learner, theirs, median)
		}
		if width == 420 {
			noSideways(t, tb, "the learner page")
		}
		tb.screenshot(t, shots, "learner-pace"+suffix)
		console.file("learner pace" + suffix)
	}
	for _, page := range console.pages {
		if got := console.filed[page]; len(got) > 0 {
			t.Errorf("%s reported:\n%s", page, strings.Join(got, "\n"))
		}
	}
}
