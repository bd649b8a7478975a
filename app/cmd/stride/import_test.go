package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// importEnv is the environment of a stride process beside h's Stride: its database, its
// app's credentials, its Thinkific double.
func importEnv(h *testkit.Harness, dbURL string) func(string) string {
	env := map[string]string{
		"APP_URL": h.URL, "DATABASE_URL": dbURL, "DATA_DIR": h.Cfg.DataDir,
		"THINKIFIC_CLIENT_ID": testkit.ClientID, "THINKIFIC_CLIENT_SECRET": testkit.ClientSecret, "SECRET_KEY": testkit.SecretKey,
		"THINKIFIC_SITE_URL": h.Cfg.SiteURL, "THINKIFIC_API_URL": h.Cfg.APIURL,
	}
	return func(k string) string { return env[k] }
}

// cancelOn is an output that ends a command's context once it has written want: a person
// pressing Ctrl-C at that moment.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	want   string
	cancel func()
}

func (w *cancelOn) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(b)
	if strings.Contains(w.buf.String(), w.want) {
		w.cancel()
	}
	return n, err
}

// stride import runs a site's import to its end against Thinkific over HTTP and sums it
// up; stopped half way it leaves the import to resume from where it stopped; it refuses
// an unknown site and an import another process holds.
func TestImportCommand(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		h := testkit.New(t, dbURL)
		h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 5, Courses: 3, ChaptersPerCourse: 2, LessonsPerChapter: 3, QuizEvery: 3,
			Learners: 150, Enrollments: 320})
		h.InstallVia(testkit.Browser(), "acme")
		acme := h.MustSite()
		env := importEnv(h, dbURL)
		restRequests := func() int { return len(h.Requests("GET", "/api/public/v1/")) }

		// Stopped once the course list is read.
		runCtx, cancel := context.WithCancel(ctx)
		stopAt := &cancelOn{want: "reading lessons of course 1 of 3", cancel: cancel}
		err := run(runCtx, []string{"import", "--subdomain", "acme"}, env, stopAt)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "resumes from there") {
			t.Fatalf("interrupted import: %v\n%s", err, stopAt.buf.String())
		}
		imp, _ := h.DB.ImportOf(ctx, acme.ID)
		if imp.LeaseUntil != nil || imp.Phase != store.PhaseCurricula || imp.Requests != 1 || restRequests() != 1 {
			t.Fatalf("after Ctrl-C: %+v (the double saw %d requests)", imp, restRequests())
		}

		var out bytes.Buffer
		if err := run(ctx, []string{"import", "--subdomain", "acme"}, env, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		want := fmt.Sprintf("imported acme: 3 courses, 18 lessons, 320 enrollments; %d API requests (%d in this run) in ", restRequests(), restRequests()-imp.Requests)
		testkit.MustContain(t, out.String(), "importing acme from Thinkific: every course and every enrollment, resumed after 1 request (at most 120 API requests a minute",
			"  reading lessons of course 1 of 3 · 3 courses, 0 lessons, 0 enrollments · 1 request\n",
			"  reading enrollments · 3 courses, 18 lessons, 0 enrollments · 10 requests\n",
			"  finishing · 3 courses, 18 lessons, 320 enrollments · 12 requests\n", want)
		if imp, _ := h.DB.ImportOf(ctx, acme.ID); imp.State != store.ImportDone || imp.Requests != restRequests() {
			t.Fatalf("after the run: %+v", imp)
		}
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ?", acme.ID); n != 320 {
			t.Fatalf("%d enrollments stored", n)
		}

		// Again: only the enrollments changed since; with --full, all of them.
		out.Reset()
		if err := run(ctx, []string{"import", "--subdomain", "acme"}, env, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		// The seeded history runs up to now: those within the margin before the last import are read again.
		m := regexp.MustCompile(`every course, and the enrollments changed since [^\n]*\n(?s:.*)imported acme: 3 courses, 18 lessons, (\d+) enrollments`).FindStringSubmatch(out.String())
		if n, _ := strconv.Atoi(m[1]); m == nil || n >= 320 {
			t.Fatalf("incremental import:\n%s", out.String())
		}
		out.Reset()
		if err := run(ctx, []string{"import", "--subdomain", "acme", "--full"}, env, &out); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if !regexp.MustCompile(`imported acme: 3 courses, 18 lessons, 320 enrollments; 12 API requests in \d`).MatchString(out.String()) {
			t.Fatalf("full import:\n%s", out.String())
		}

		// Refusals.
		if err := run(ctx, []string{"import", "--subdomain", "nobody"}, env, &out); err == nil || !strings.Contains(err.Error(), `never been installed on "nobody"`) {
			t.Fatalf("unknown site: %v", err)
		}
		if err := run(ctx, []string{"import"}, env, &out); err == nil || !strings.Contains(err.Error(), "--subdomain") {
			t.Fatalf("no site: %v", err)
		}
		if err := h.DB.RequestImport(ctx, acme.ID, false); err != nil {
			t.Fatal(err)
		}
		if held, err := h.DB.ClaimImport(ctx, acme.ID, time.Now().Add(time.Minute)); err != nil || held == nil {
			t.Fatalf("claim: %v %v", held, err)
		}
		if err := run(ctx, []string{"import", "--subdomain", "acme"}, env, &out); err == nil || !strings.Contains(err.Error(), "another process") {
			t.Fatalf("import held by another process: %v", err)
		}
	})
}
