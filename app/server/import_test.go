package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// importFigure is the text of the Connection page's element with that id, tags dropped.
func importFigure(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)id="` + id + `"[^>]*>(.*?)</(dd|p)>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no #%s on the page:\n%s", id, page)
	}
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}

// The Connection page follows a site's import as it runs — phase, courses, lessons,
// enrollments of their total, requests, time left — then shows it done; another site's
// import, failed, shows on that site's page only.
func TestConnectionShowsImport(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		ctx := context.Background()
		// 3 courses of 2 chapters of 3 contents; 300 enrollments: two pages of 250.
		h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 1, Courses: 3, ChaptersPerCourse: 2, LessonsPerChapter: 3, QuizEvery: 3,
			Learners: 120, Enrollments: 300})
		h.Double.AddSite("school").SeedHistory(thinkificdouble.HistorySpec{Seed: 2, Courses: 2, ChaptersPerCourse: 1, LessonsPerChapter: 2,
			Learners: 5, Enrollments: 7})
		// Thinkific refuses the school's course list: a scope not granted, which no retry mends.
		h.Double.Site("school").Inject(thinkificdouble.Fault{Path: "/api/public/v1/courses", Status: http.StatusForbidden, Body: `{"error":"Forbidden"}`})
		admin, schoolAdmin := testkit.Browser(), testkit.Browser()
		h.InstallVia(admin, "acme")
		h.InstallVia(schoolAdmin, "school")
		acme := h.MustSite()

		_, page := testkit.Get(t, admin, h.URL+"/connection")
		if got := importFigure(t, page, "import-state"); !strings.HasPrefix(got, "Queued") {
			t.Fatalf("before it runs: %q", got)
		}
		testkit.MustContain(t, page, `data-active`, `src="/static/import.js"`)
		if strings.Contains(page, `action="/connection/reimport"`) {
			t.Fatal("Re-import offered while an import is queued")
		}

		imp, err := h.Importer.Claim(ctx, acme.ID)
		if err != nil || imp == nil {
			t.Fatalf("claim: %v %v", imp, err)
		}
		var seen []string
		checked := 0
		err = h.Importer.Run1(ctx, imp, func(st store.Import) {
			_, page := testkit.Get(t, admin, h.URL+"/connection")
			state := importFigure(t, page, "import-state")
			seen = append(seen, state)
			switch {
			case st.Phase == store.PhaseCurricula && st.CursorID != 0 && strings.Contains(state, "course 2 of 3"):
				checked++
				// One course read: 1 listing + (1 chapter list + 2 chapters) requests.
				for id, want := range map[string]string{"import-courses": "3", "import-lessons": "6", "import-enrollments": "0", "import-requests": "4"} {
					if got := importFigure(t, page, id); got != want {
						t.Errorf("reading course 2: #%s %q, want %q", id, got, want)
					}
				}
				if got := importFigure(t, page, "import-left"); !strings.HasPrefix(got, "a few seconds, then the enrollments") ||
					!strings.Contains(got, "at most 120 requests a minute") {
					t.Errorf("time left %q", got)
				}
			case st.Phase == store.PhaseEnrollments && st.CursorPage == 1:
				checked++
				if got := importFigure(t, page, "import-enrollments"); got != "250 of 300" {
					t.Errorf("after the first page: enrollments %q", got)
				}
				testkit.MustContain(t, page, `<progress max="300" value="250"`)
			}
		})
		if err != nil || checked != 2 {
			t.Fatalf("run: %v; %d of 2 moments checked", err, checked)
		}
		want := []string{"Running: reading lessons of course 1 of 3.", "Running: reading lessons of course 2 of 3.",
			"Running: reading lessons of course 3 of 3.", "Running: lessons of all 3 courses read.",
			"Running: reading enrollments.", "Running: reading enrollments, page 2 of 2.", "Running: finishing."}
		if strings.Join(seen, "|") != strings.Join(want, "|") {
			t.Fatalf("the page said, step by step:\n%q\nwant\n%q", seen, want)
		}

		_, page = testkit.Get(t, admin, h.URL+"/connection")
		requests := 0
		for _, r := range h.Requests("GET", "/api/public/v1/") {
			if r.Subdomain == "acme" {
				requests++
			}
		}
		for id, want := range map[string]string{"import-courses": "3", "import-lessons": "18", "import-enrollments": "300 of 300",
			"import-requests": fmt.Sprint(requests)} {
			if got := importFigure(t, page, id); got != want {
				t.Errorf("done: #%s %q, want %q", id, got, want)
			}
		}
		if got := importFigure(t, page, "import-state"); !strings.HasPrefix(got, "Done") {
			t.Fatalf("after it ran: %q", got)
		}
		testkit.MustContain(t, page, `action="/connection/reimport"`)
		if strings.Contains(page, "data-active") || strings.Contains(page, "import-left") {
			t.Fatal("a finished import still refreshes or estimates")
		}

		// The school's import fails for good; each page shows its own site's.
		if n := h.Importer.Drain(ctx); n != 1 {
			t.Fatalf("drained %d imports", n)
		}
		_, schoolPage := testkit.Get(t, schoolAdmin, h.URL+"/connection")
		if got := importFigure(t, schoolPage, "import-state"); !strings.HasPrefix(got, "Failed while reading the course list") {
			t.Fatalf("school: %q", got)
		}
		testkit.MustContain(t, html.UnescapeString(schoolPage), "Last error: Thinkific does not give this account access to the site's courses")
		if got := importFigure(t, schoolPage, "import-courses"); got != "0" {
			t.Fatalf("school's courses %q", got)
		}
		_, page = testkit.Get(t, admin, h.URL+"/connection")
		if strings.Contains(page, "Last error") || !strings.HasPrefix(importFigure(t, page, "import-state"), "Done") ||
			importFigure(t, page, "import-courses") != "3" {
			t.Fatal("acme's page shows the school's import")
		}
	})
}

// Re-import is a form post the browser may send from Stride's own pages only; it queues a
// full import and wakes the importer, and a second one while it is queued or running
// changes nothing.
func TestReimport(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		ctx := context.Background()
		h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 3, Courses: 2, ChaptersPerCourse: 2, LessonsPerChapter: 2, Learners: 10, Enrollments: 12})
		admin := testkit.Browser()
		h.InstallVia(admin, "acme")
		h.Importer.Drain(ctx)
		acme := h.MustSite()
		before, _ := h.DB.ImportOf(ctx, acme.ID)
		if before.State != store.ImportDone {
			t.Fatalf("first import: %+v", before)
		}

		post := func(header map[string]string) (int, string) {
			req, _ := http.NewRequest("POST", h.URL+"/connection/reimport", nil)
			for k, v := range header {
				req.Header.Set(k, v)
			}
			c := *admin
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("Location")
		}
		if code, _ := post(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
			t.Fatalf("cross-site post: %d", code)
		}
		if imp, _ := h.DB.ImportOf(ctx, acme.ID); imp.State != store.ImportDone || !imp.RequestedAt.Equal(before.RequestedAt) {
			t.Fatalf("a refused post queued an import: %+v", imp)
		}

		reimport := func() *store.Import {
			t.Helper()
			code, loc := post(map[string]string{"Sec-Fetch-Site": "same-origin"})
			if code != http.StatusSeeOther || loc != "/connection?reimport=queued#import" {
				t.Fatalf("re-import: %d %s", code, loc)
			}
			queued, _ := h.DB.ImportOf(ctx, acme.ID)
			if !queued.FullImport || !queued.RequestedAt.After(before.RequestedAt) {
				t.Fatalf("re-import queued %+v", queued)
			}
			return queued
		}
		queued := reimport()
		if code, loc := post(map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusSeeOther || loc != "/connection?reimport=busy#import" {
			t.Fatalf("second click: %d %s", code, loc)
		}
		if again, _ := h.DB.ImportOf(ctx, acme.ID); !again.RequestedAt.Equal(queued.RequestedAt) || again.State != store.ImportQueued {
			t.Fatalf("a second click changed the import: %+v", again)
		}
		_, page := testkit.Get(t, admin, h.URL+"/connection?reimport=busy")
		testkit.MustContain(t, page, "An import is already queued or running, so nothing was changed")

		// The importer runs as in serve; once idle, a Re-import wakes it (its poll is 5 s).
		runCtx, stop := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { h.Importer.Run(runCtx); close(stopped) }()
		t.Cleanup(func() { stop(); <-stopped })
		done := func(want *store.Import, within time.Duration) *store.Import {
			t.Helper()
			deadline := time.Now().Add(within)
			for {
				imp, _ := h.DB.ImportOf(ctx, acme.ID)
				if imp.State == store.ImportDone && imp.RequestedAt.Equal(want.RequestedAt) {
					return imp
				}
				if time.Now().After(deadline) {
					t.Fatalf("the import did not finish within %v: %+v", within, imp)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		done(queued, 10*time.Second)
		time.Sleep(300 * time.Millisecond) // the importer is idle, waiting for a wake or its poll
		h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 4, Courses: 1, ChaptersPerCourse: 1, LessonsPerChapter: 2, Learners: 3, Enrollments: 3})
		imp := done(reimport(), 3*time.Second)
		if imp.Courses != 3 || imp.Enrollments != 15 {
			t.Fatalf("re-import read %d courses, %d enrollments", imp.Courses, imp.Enrollments)
		}
		_, page = testkit.Get(t, admin, h.URL+"/connection?reimport=queued")
		testkit.MustContain(t, page, "Re-import asked for", "every course and every enrollment")
	})
}
