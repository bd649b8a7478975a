package server_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

const (
	// browserBudget bounds the whole browser session, so a hung chromium fails the test
	// well inside CI's patience instead of at go test's 10-minute default.
	browserBudget = 45 * time.Second
	// stepTimeout bounds one action: a missing element fails in seconds, naming its selector.
	stepTimeout = 10 * time.Second
)

// reportViolations runs in every document before the page's own scripts (the CSP does not
// apply to it), so a Content-Security-Policy violation reaches the console the test watches
// whatever Chromium itself logs about it.
const reportViolations = `document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP blocked " + (e.blockedURI || "?") + " by " + e.effectiveDirective + " at " + e.sourceFile + ":" + e.lineNumber);
});`

// TestBrowser drives Debian's chromium through launch → overview → course → learner →
// export → connection (an import running, then done) against Stride over real HTTP, asserts what is on screen, and saves a screenshot of
// each page. The admin's steps share one tab, as a visit does: each starts where the last one
// left it. What the pages write to the console is asserted once at the end, so an error on
// one page does not hide what the later steps would find.
func TestBrowser(t *testing.T) {
	bin := chromiumPath(t)
	h := testkit.New(t, "")
	// The school's past, which the import reads at the Connection step.
	h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 9, Courses: 3, ChaptersPerCourse: 2, LessonsPerChapter: 3, QuizEvery: 3,
		Learners: 30, Enrollments: 40})
	// Course 70, whose curriculum seedSite stores as an import would, is Thinkific's too: the
	// import at the Connection step lists it again rather than finding it deleted.
	h.Site.AddCourse(thinkificdouble.Course{ID: 70, Name: "Course"})
	h.Site.AddChapter(thinkificdouble.Chapter{ID: 1, CourseID: 70, Name: "One", Position: 1})
	for i, name := range []string{"Lesson 700", "Lesson 701", "Wrap-up"} {
		h.Site.AddContent(thinkificdouble.Content{ID: int64(700 + i), ChapterID: 1, Name: name, Position: i + 1, Type: []string{"Lesson", "Lesson", "Quiz"}[i]})
	}
	seedSite(t, h, "acme")
	// The admin sent Thinkific's test event, and one delivery came twice.
	testEvent := bytes.Replace(testkit.Published(t, "enrollment.created.json"), []byte(`"tenant_id":"59"`), []byte(`"tenant_id":"1001"`), 1)
	if _, body := h.Deliver("acme", testEvent, testkit.ClientSecret); !strings.Contains(body, `"test"`) {
		t.Fatalf("test delivery: %s", body)
	}
	h.Deliver("acme", testkit.EnrollEvent("c9", h.Site.GID(), h.Clock.Now(), 9, 70, "=cmd|' /C calc'!A0"), testkit.ClientSecret)
	// The import read course 70's curriculum: a third lesson, Wrap-up, that nobody completed;
	// and learner 11, enrolled 30 days ago, who never started (REST's updated_at 10 days ago).
	zero, enrolled, updated := 0.0, h.Clock.Now().Add(-30*24*time.Hour), h.Clock.Now().Add(-10*24*time.Hour)
	importCourses(t, h, h.MustSite().ID, map[store.CatalogCourse][]store.CatalogChapter{
		{ID: 70, Name: "Course"}: {{ID: 1, Name: "One", Position: 1, Contents: []store.CatalogContent{
			{ID: 700, Name: "Lesson 700", Position: 1, Type: "Lesson"}, {ID: 701, Name: "Lesson 701", Position: 2, Type: "Lesson"},
			{ID: 702, Name: "Wrap-up", Position: 3, Type: "Quiz"}}}},
	}, []progress.Imported{{ID: 1170, LearnerID: 11, CourseID: 70, CourseName: "Course", LearnerEmail: "learner11@example.com",
		LearnerName: "Augusta Ada King-Noel Lovelace", Percent: &zero, CreatedAt: &enrolled, UpdatedAt: updated}})
	chrome := startChromium(t, bin)
	shots := screenshotDir(t)
	console := &consoleWatch{}
	admin := newTab(t, chrome, console)

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"launch and overview", func(t *testing.T) {
			admin.open(t, "the signed launch", 200, chromedp.Navigate(server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now())))
			if loc := run(t, admin, "location", chromedp.Location()); loc != h.URL+"/" {
				t.Fatalf("after the launch the address is %s, want %s/ (the signed query dropped)", loc, h.URL)
			}
			wantText(t, admin, "h1", "Learner progress on acme")
			for _, f := range []struct{ id, want string }{
				{"fig-learners", "4"}, {"fig-active", "1"}, {"fig-completions", "1"}, {"fig-rate", "25.0%"}, {"fig-median", "0%"},
				{"fig-attention", "2"},
			} {
				wantText(t, admin, "#"+f.id, f.want)
			}
			// The CSP allows only scripts from Stride: the charts prove the vendored Chart.js
			// and charts.js loaded and ran.
			for _, id := range []string{"activity-chart", "histogram-chart"} {
				if !eval[bool](t, admin, `(c => Chart.getChart(c) !== undefined && c.width > 0)(document.getElementById("`+id+`"))`) {
					t.Fatalf("#%s was not drawn by Chart.js", id)
				}
			}
			admin.screenshot(t, shots, "overview")
			// Nothing has taken the focus yet: keyboard users reach the content first.
			run(t, admin, "Tab", chromedp.KeyEvent(kb.Tab))
			if focused := eval[string](t, admin, `document.activeElement.textContent`); focused != "Skip to content" {
				t.Fatalf("the first Tab focuses %q, want the skip link", focused)
			}
			if left := eval[float64](t, admin, `document.activeElement.getBoundingClientRect().left`); left < 0 {
				t.Fatalf("the focused skip link stays off screen (left %vpx)", left)
			}
			wantPressed(t, admin, "true", "false")
			run(t, admin, "click Per week", chromedp.Click(chromedp.CSS(`button[data-range="week"]`)))
			wantPressed(t, admin, "false", "true")
			if !eval[bool](t, admin, `JSON.stringify(Chart.getChart(document.getElementById("activity-chart")).data.labels) ===
				JSON.stringify(JSON.parse(document.getElementById("chart-data").textContent).weeks)`) {
				t.Fatal("Per week did not switch the chart to weeks")
			}
			console.file("overview")
		}},
		{"course", func(t *testing.T) {
			admin.open(t, "the course link", 200, chromedp.Click(chromedp.CSS(`main a[href="/courses/70"]`)))
			funnel := eval[[]string](t, admin, `[...document.querySelectorAll(".funnel li")].map(li => li.innerText.replace(/\s+/g, " ").trim())`)
			// 2 → 1 loses half, 1 → 0 all: the biggest drop by share. Learner 8, stalled, is
			// stuck at Lesson 701.
			want := []string{"One · Lesson 700 2", "One · Lesson 701 1 1 stuck here", "One · Wrap-up biggest drop: −1 (100%) 0"}
			if !slices.Equal(funnel, want) {
				t.Fatalf("funnel %q, want %q", funnel, want)
			}
			wantText(t, admin, ".funnel li.drop .bad", "biggest drop: −1 (100%)")
			if n := eval[int](t, admin, `document.querySelectorAll(".funnel li.drop").length`); n != 1 {
				t.Fatalf("%d lessons marked as the biggest drop", n)
			}
			admin.screenshot(t, shots, "course")
			filter := func(status string, want ...string) {
				t.Helper()
				run(t, admin, "choose "+status, chromedp.SetValue(chromedp.CSS(`select[name="status"]`), status))
				admin.open(t, "the filter", 200, chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
				if got := learnerRows(t, admin); !slices.Equal(got, want) {
					t.Fatalf("status %q lists %q, want %q", status, got, want)
				}
			}
			filter("stalled", "learner8@example.com")
			wantText(t, admin, "tbody .status", "stalled")
			filter("", "learner7@example.com", "learner11@example.com", "learner8@example.com", "=cmd|' /C calc'!A0")
			narrow := newTab(t, chrome, console)
			run(t, narrow, "420px viewport", chromedp.EmulateViewport(420, 800))
			narrow.open(t, "the course page", 200, chromedp.Navigate(h.URL+"/courses/70"))
			if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
				t.Fatalf("the course page scrolls sideways at 420px: document %vpx, body %vpx wide", w[0], w[1])
			}
			narrow.screenshot(t, shots, "course-420")
			console.file("course")
		}},
		{"learner", func(t *testing.T) {
			admin.open(t, "learner7's link", 200, chromedp.Click(chromedp.CSS(`a[href="/learners/7"]`)))
			wantText(t, admin, "h1", "learner7@example.com")
			timeline := eval[[]string](t, admin, `[...document.querySelectorAll(".timeline li")].map(li => li.innerText.replace(/\s+/g, " ").trim())`)
			if len(timeline) != 2 || !strings.Contains(timeline[0], "Lesson 701") || !strings.Contains(timeline[0], "50% → 100%") ||
				!strings.Contains(timeline[1], "Lesson 700") || !strings.Contains(timeline[1], "0% → 50%") {
				t.Fatalf("timeline %q, want Lesson 701 (50%% → 100%%) before Lesson 700 (0%% → 50%%)", timeline)
			}
			admin.screenshot(t, shots, "learner")
			console.file("learner")
		}},
		{"export", func(t *testing.T) {
			// fetch from the page: the browser's own session cookie, as a click on the link sends.
			res := eval[struct {
				Status int    `json:"status"`
				Type   string `json:"type"`
				Body   string `json:"body"`
			}](t, admin, `fetch("/export/steps.csv").then(async r => ({status: r.status, type: r.headers.get("Content-Type"), body: await r.text()}))`)
			if res.Status != 200 || !strings.HasPrefix(res.Type, "text/csv") {
				t.Fatalf("steps.csv: %d %s", res.Status, res.Type)
			}
			rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{
				{"occurred_at", "learner_id", "learner_email", "course_id", "course_name", "chapter_id", "chapter_name", "lesson_id", "lesson_name", "percent_before", "percent_after"},
				{"", "8", "learner8@example.com", "70", "Course", "1", "One", "700", "Lesson 700", "0", "50"},
				{"", "7", "learner7@example.com", "70", "Course", "1", "One", "700", "Lesson 700", "0", "50"},
				{"", "7", "learner7@example.com", "70", "Course", "1", "One", "701", "Lesson 701", "50", "100"},
			}
			for _, r := range rows[min(1, len(rows)):] {
				if _, err := time.Parse(time.RFC3339, r[0]); err != nil {
					t.Fatalf("occurred_at %q: %v", r[0], err)
				}
				r[0] = "" // the time is the seed's, relative to now
			}
			if !slices.EqualFunc(rows, want, slices.Equal) {
				t.Fatalf("steps.csv:\n%q\nwant:\n%q", rows, want)
			}
			console.file("export")
		}},
		{"connection", func(t *testing.T) {
			admin.open(t, "the Connection link", 200, chromedp.Click(chromedp.CSS(`nav a[href="/connection"]`)))
			wantText(t, admin, "h1", "Connection with Thinkific")
			if current := eval[string](t, admin, `document.querySelector("nav [aria-current=page]").textContent`); current != "Connection" {
				t.Fatalf("the nav marks %q as the current page", current)
			}
			if n := eval[int](t, admin, `document.querySelectorAll("main .ok").length`); n == 0 {
				t.Fatal("no webhook shown as active")
			}
			log := run(t, admin, "delivery log", chromedp.Text(chromedp.CSS("main")))
			for _, want := range []string{"Thinkific test event received", "delivered 1 more time"} {
				if !strings.Contains(log, want) {
					t.Fatalf("the delivery log lacks %q", want)
				}
			}
			if state := run(t, admin, "import state", chromedp.Text(chromedp.CSS("#import-state"))); !strings.HasPrefix(strings.TrimSpace(state), "Queued") {
				t.Fatalf("before the import runs: %q", state)
			}
			narrow := newTab(t, chrome, console)
			run(t, narrow, "420px viewport", chromedp.EmulateViewport(420, 800))
			noSidewaysScroll := func() {
				t.Helper()
				if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
					wide := eval[[]string](t, narrow, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className + ": " + e.textContent.slice(0, 40))`)
					t.Fatalf("the connection page scrolls sideways at 420px: document %vpx, body %vpx wide; wide: %q", w[0], w[1], wide)
				}
			}

			// The import, seen half way through its lessons; then the admin's page, left
			// open, shows it done by itself (its script fetches the section again).
			ctx := context.Background()
			imp, err := h.Importer.Claim(ctx, h.MustSite().ID)
			if err != nil || imp == nil {
				t.Fatalf("claim: %v %v", imp, err)
			}
			seen := false
			err = h.Importer.Run1(ctx, imp, func(st store.Import) {
				if seen || st.Phase != store.PhaseCurricula || st.CursorID == 0 {
					return
				}
				seen = true
				admin.open(t, "the connection page while importing", 200, chromedp.Navigate(h.URL+"/connection"))
				state := strings.Join(strings.Fields(run(t, admin, "import state", chromedp.Text(chromedp.CSS("#import-state")))), " ")
				if state != "Running: reading lessons of course 2 of 4." {
					t.Fatalf("while importing: %q", state)
				}
				if !eval[bool](t, admin, `(p => p !== null && p.value === 1 && p.max === 4 && p.getBoundingClientRect().width > 0)(document.querySelector("#import progress"))`) {
					t.Fatal("no progress bar at 1 of 4 courses")
				}
				run(t, admin, "mark the page", chromedp.Evaluate[any](`window.stayed = true`))
				admin.screenshot(t, shots, "connection-importing")
				narrow.open(t, "the connection page while importing", 200, chromedp.Navigate(h.URL+"/connection"))
				noSidewaysScroll()
				narrow.screenshot(t, shots, "connection-importing-420")
			})
			if err != nil || !seen {
				t.Fatalf("import: %v (seen running: %v)", err, seen)
			}
			done := eval[string](t, admin, `new Promise((ok, fail) => {
				const t0 = Date.now();
				(function check() {
					const s = document.getElementById("import-state");
					if (s && s.textContent.trim().startsWith("Done")) return ok(s.textContent.trim().split(/\s+/)[0] + " " + window.stayed);
					if (Date.now() - t0 > 8000) return fail("still " + (s && s.textContent.trim()));
					setTimeout(check, 100);
				})();
			})`)
			if done != "Done. true" {
				t.Fatalf("the open page, after the import: %q", done)
			}
			for id, want := range map[string]string{"import-courses": "4", "import-lessons": "21", "import-enrollments": "40 of 40"} {
				wantText(t, admin, "#"+id, want)
			}
			if n := eval[int](t, admin, `document.querySelectorAll("form[action='/connection/reimport'] button").length`); n != 1 {
				t.Fatalf("%d Re-import buttons once the import is done", n)
			}
			admin.screenshot(t, shots, "connection")
			narrow.open(t, "the connection page", 200, chromedp.Navigate(h.URL+"/connection"))
			noSidewaysScroll()
			narrow.screenshot(t, shots, "connection-420")
			console.file("connection")
		}},
		{"needs attention", func(t *testing.T) {
			admin.open(t, "the overview's figure", 200, chromedp.Navigate(h.URL+"/"))
			admin.open(t, "needs attention", 200, chromedp.Click(chromedp.CSS(`#fig-attention`)))
			// The import step brought the double's school in too: this step's learners are
			// those of course 70.
			admin.open(t, "needs attention in course 70", 200, chromedp.Navigate(h.URL+"/attention?course_id=70"))
			wantText(t, admin, "h1", "Needs attention (2)")
			rows := eval[[]string](t, admin, `[...document.querySelectorAll("#attention-table tbody tr")].map(r => [...r.cells].map(c => c.innerText.replace(/\s+/g, " ").trim()).join(" | "))`)
			want := []string{ // most recently stalled first
				"learner8@example.com | Course | 50% | Lesson 700 | Lesson 701 | 20",
				"learner11@example.com Augusta Ada King-Noel Lovelace | Course | 0% not started | — | Lesson 700 | 30",
			}
			if !slices.Equal(rows, want) {
				t.Fatalf("needs attention rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
			}
			if href := eval[string](t, admin, `document.querySelector(".export-rows").getAttribute("href")`); href != "/export/learners.csv?course_id=70&idle_days=15" {
				t.Fatalf("export link %q", href)
			}
			run(t, admin, "copy emails", chromedp.Click(chromedp.CSS(`[data-copy-emails]`)))
			if got := eval[string](t, admin, `document.querySelector("[data-copy-emails]").getAttribute("data-copied")`); got != "learner8@example.com, learner11@example.com" {
				t.Fatalf("copied %q", got)
			}
			run(t, admin, "wait for the copy's answer", chromedp.WaitVisible(`[data-copy-status]:not(:empty)`))
			if msg := eval[string](t, admin, `document.querySelector("[data-copy-status]").textContent`); msg != "2 emails copied." && !strings.Contains(msg, "refused") {
				t.Fatalf("copy said %q", msg)
			}
			admin.screenshot(t, shots, "attention")
			if got := eval[string](t, admin, `document.querySelector("select[name=course_id]").value`); got != "70" {
				t.Fatalf("the course filter shows %q, want 70: %s", got, eval[string](t, admin, `document.querySelector("select[name=course_id]").outerHTML`))
			}
			run(t, admin, "choose not started", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "not started"))
			admin.open(t, "the filter", 200, chromedp.Click(chromedp.CSS(`.filters button[type="submit"]`)))
			if n := eval[int](t, admin, `document.querySelectorAll("#attention-table tbody tr").length`); n != 1 {
				t.Fatalf("not started: %d rows", n)
			}
			if href := eval[string](t, admin, `document.querySelector(".export-rows").getAttribute("href")`); href != "/export/learners.csv?course_id=70&idle_days=15&status=not+started" {
				t.Fatalf("filtered export link %q", href)
			}
			narrow := newTab(t, chrome, console)
			run(t, narrow, "420px viewport", chromedp.EmulateViewport(420, 800))
			narrow.open(t, "needs attention", 200, chromedp.Navigate(h.URL+"/attention"))
			if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
				t.Fatalf("needs attention scrolls sideways at 420px: document %vpx, body %vpx wide", w[0], w[1])
			}
			narrow.screenshot(t, shots, "attention-420")
			console.file("needs attention")
		}},
		{"overview at 420px", func(t *testing.T) {
			// About the width the Thinkific admin leaves its app iframe on a small laptop with
			// the sidebar open. A tab of its own shares the session and leaves the admin's
			// tab at 1024px.
			narrow := newTab(t, chrome, console)
			run(t, narrow, "420px viewport", chromedp.EmulateViewport(420, 800))
			narrow.open(t, "the overview", 200, chromedp.Navigate(h.URL+"/"))
			if w := eval[[]float64](t, narrow, `[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]`); w[0] > w[2] || w[1] > w[2] {
				t.Fatalf("the page scrolls sideways at 420px: document %vpx, body %vpx wide", w[0], w[1])
			}
			for _, id := range []string{"fig-learners", "fig-active", "fig-completions", "fig-rate", "fig-median", "fig-attention"} {
				if !eval[bool](t, narrow, `(r => r.width > 0 && r.left >= 0 && r.right <= window.innerWidth)(document.getElementById("`+id+`").getBoundingClientRect())`) {
					t.Fatalf("#%s is not within the 420px viewport", id)
				}
			}
			narrow.screenshot(t, shots, "overview-420")
			console.file("overview at 420px")
		}},
		{"no session", func(t *testing.T) {
			// A browser context of its own has no cookies: a visitor who did not launch.
			visitor := newTab(t, chrome, console, chromedp.WithNewBrowserContext())
			visitor.open(t, "/ without a session", 401, chromedp.Navigate(h.URL+"/"))
			body := run(t, visitor, "body", chromedp.Text(chromedp.CSS("main")))
			if !strings.Contains(body, "Open Stride from the Apps page of your Thinkific admin") {
				t.Fatalf("the 401 page says %q", body)
			}
			if strings.Contains(body, "acme") || strings.Contains(body, "example.com") {
				t.Fatalf("the 401 page shows site data: %q", body)
			}
			visitor.screenshot(t, shots, "unauthorized")
			console.file("401", h.URL+"/") // Chromium logs the page's own 401 as a failed load
		}},
		{"the console watch sees a CSP violation", func(t *testing.T) {
			// Without this, "no violations" below could mean the watch is blind.
			directive := eval[string](t, admin, `new Promise(ok => {
				document.addEventListener("securitypolicyviolation", e => ok(e.effectiveDirective), {once: true});
				document.body.append(Object.assign(document.createElement("script"), {textContent: "window.injected = 1"}));
			})`)
			if directive != "script-src-elem" {
				t.Fatalf("an inline script violated %q", directive)
			}
			if got := console.take(); !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "CSP blocked inline by script-src-elem") }) {
				t.Fatalf("the inline script went unreported: %q", got)
			}
		}},
	}
	start := time.Now()
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			break
		}
	}
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
	// Also after a failed step: what the pages visited so far reported may explain it.
	t.Run("no console errors or CSP violations", func(t *testing.T) {
		for _, page := range console.pages {
			if got := console.filed[page]; len(got) > 0 {
				t.Errorf("%s reported:\n%s", page, strings.Join(got, "\n"))
			}
		}
	})
}

// chromiumPath is $CHROMIUM or Debian's chromium. Without one the test skips, unless
// STRIDE_NEED_CHROMIUM=1 (CI) makes a missing browser a failure rather than a quiet pass.
func chromiumPath(t *testing.T) string {
	path, err := exec.LookPath(cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium"))
	if err != nil {
		msg := fmt.Sprintf("browser tests need chromium (apt-get install chromium, or set CHROMIUM): %v", err)
		if os.Getenv("STRIDE_NEED_CHROMIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// startChromium starts a headless chromium with the flags it needs as root in CI and a 1024
// × 800 window. chromedp gives it a fresh --user-data-dir and removes it after killing the
// helper processes that outlive the browser (a t.TempDir profile would race with them).
func startChromium(t *testing.T, bin string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), browserBudget)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1024, 800))
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// screenshotDir is $STRIDE_SCREENSHOTS, or one fixed folder under the system's temporary
// directory: it outlives the test, for a person (or CI's artifacts) to look at.
func screenshotDir(t *testing.T) string {
	dir := cmp.Or(os.Getenv("STRIDE_SCREENSHOTS"), filepath.Join(os.TempDir(), "stride-screenshots"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleWatch collects what the tabs' pages report: console errors, uncaught exceptions,
// Content-Security-Policy violations (from Chromium's log and from reportViolations) and
// failed loads. Each step files what came in under its page's name.
type consoleWatch struct {
	mu      sync.Mutex
	pending []problem
	pages   []string
	filed   map[string][]string
}

type problem struct {
	text, url string
	network   bool // a failed request, from the browser's log
}

// record runs in a tab's event loop: it only appends.
func (w *consoleWatch) record(ev any) {
	var p problem
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			args = append(args, cmp.Or(strings.Trim(string(a.Value), `"`), a.Description))
		}
		p.text = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p.text, p.url = "exception: "+d.Text, d.URL
		if d.Exception != nil {
			p.text += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		// The first sentence says what was blocked; the rest is advice on CSP syntax.
		text, _, _ := strings.Cut(ev.Entry.Text, ". ")
		p = problem{text: string(ev.Entry.Source) + ": " + text, url: ev.Entry.URL, network: ev.Entry.Source == log.EntrySourceNetwork}
	default:
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, p)
	w.mu.Unlock()
}

// file puts what came in since the last call under page, but for the failed loads of the
// documents at expected and of /favicon.ico: Stride serves none, and inside the admin's
// iframe none is asked for.
func (w *consoleWatch) file(page string, expected ...string) {
	w.mu.Lock()
	w.pending = slices.DeleteFunc(w.pending, func(p problem) bool {
		return p.network && (slices.Contains(expected, p.url) || strings.HasSuffix(p.url, "/favicon.ico"))
	})
	w.mu.Unlock()
	if w.filed == nil {
		w.filed = map[string][]string{}
	}
	w.pages = append(w.pages, page)
	w.filed[page] = w.take()
}

// take returns what came in since the last call, and forgets it.
func (w *consoleWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, p := range w.pending {
		out = append(out, strings.TrimSpace(p.text+" "+p.url))
	}
	w.pending = nil
	return out
}

// tab is one chromium tab, reporting to a console watch.
type tab struct{ ctx context.Context }

func newTab(t *testing.T, browser context.Context, w *consoleWatch, opts ...chromedp.ContextOption) *tab {
	ctx, cancel := chromedp.NewContext(browser, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Listen(ctx, w.record); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: reportViolations}); err != nil {
		t.Fatal(err)
	}
	return &tab{ctx: ctx}
}

// run runs one action within stepTimeout and fails the test, naming what, on an error.
func run[T any](t *testing.T, tb *tab, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// eval evaluates js in the page, waiting for it if it is a promise.
func eval[T any](t *testing.T, tb *tab, js string) T {
	t.Helper()
	return run(t, tb, js, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// open runs actions that load a page (a navigation, a click on a link, a form's submit),
// waits for it, and fails unless it answered want.
func (tb *tab) open(t *testing.T, what string, want int64, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp == nil || resp.Status != want {
		t.Fatalf("%s: got %+v, want HTTP %d", what, resp, want)
	}
}

func (tb *tab) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png := run(t, tb, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func wantText(t *testing.T, tb *tab, sel, want string) {
	t.Helper()
	if got := run(t, tb, sel, chromedp.Text(chromedp.CSS(sel))); strings.TrimSpace(got) != want {
		t.Fatalf("%s shows %q, want %q", sel, got, want)
	}
}

// wantPressed checks the aria-pressed of the Per day and Per week buttons.
func wantPressed(t *testing.T, tb *tab, day, week string) {
	t.Helper()
	got := eval[[]string](t, tb, `[...document.querySelectorAll("[data-range]")].map(b => b.dataset.range + "=" + b.getAttribute("aria-pressed"))`)
	if want := []string{"day=" + day, "week=" + week}; !slices.Equal(got, want) {
		t.Fatalf("aria-pressed %q, want %q", got, want)
	}
}

// learnerRows are the learners the course page's table lists, in order.
func learnerRows(t *testing.T, tb *tab) []string {
	t.Helper()
	return eval[[]string](t, tb, `[...document.querySelectorAll("table[aria-labelledby=learners-title] tbody tr")].map(r => r.cells[0].innerText.trim())`)
}
