package importer_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// BenchmarkImportLargeSite imports a large school — 50 courses of 60 lessons (6 chapters
// of 10) and 50,000 enrollments — on PostgreSQL, and prints the requests, the wall time and
// the rate it achieved against the limit. Thinkific allows 120 requests a minute; to keep
// the run short, the double and Stride both allow 120 × scale (STRIDE_IMPORT_SCALE,
// default 4: about a minute and a half); STRIDE_IMPORT_SCALE=1 measures the real limit
// (about five minutes).
//
//	go test -run '^$' -bench ImportLargeSite -benchtime 1x ./app/importer/
func BenchmarkImportLargeSite(b *testing.B) {
	scale := 4
	if v, err := strconv.Atoi(os.Getenv("STRIDE_IMPORT_SCALE")); err == nil && v > 0 {
		scale = v
	}
	perMinute := 120 * scale
	spec := thinkificdouble.HistorySpec{Seed: 11, Courses: 50, ChaptersPerCourse: 6, LessonsPerChapter: 10, QuizEvery: 5,
		Learners: 5000, Enrollments: 50000}
	for range b.N {
		b.StopTimer()
		h := testkit.New(b, testdb.Postgres(b), func(c *thinkificdouble.Config, env map[string]string) {
			c.RateLimitPerMinute = perMinute
			env["THINKIFIC_API_REQUESTS_PER_MINUTE"] = strconv.Itoa(perMinute)
		})
		h.Site.SeedHistory(spec)
		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != 200 {
			b.Fatalf("install answered %d", resp.StatusCode)
		}
		site := h.MustSite()
		b.StartTimer()
		start := time.Now()
		h.Importer.Drain(context.Background())
		took := time.Since(start)
		b.StopTimer()
		imp, err := h.DB.ImportOf(context.Background(), site.ID)
		if err != nil || imp.State != store.ImportDone {
			b.Fatalf("import: %v %+v", err, imp)
		}
		// The sliding window lets a first minute's worth go at once; past it, the steady
		// rate is the limit spread over Stride's 61 s window.
		steady := float64(perMinute) / store.APIWindow.Seconds()
		fmt.Printf("import of %d courses, %d lessons, %d enrollments: %d requests in %.1f s (%.2f requests/s) at a limit of %d/min (120 × %d, steady %.2f/s); "+
			"busiest minute at the double: %d requests; at Thinkific's 120/min the requests alone take about %.0f s\n",
			imp.Courses, imp.Lessons, imp.Enrollments, imp.Requests, took.Seconds(), float64(imp.Requests)/took.Seconds(), perMinute, scale, steady,
			h.Site.MaxInAnyWindow(time.Minute), (float64(imp.Requests)-120)/(120/store.APIWindow.Seconds()))
		b.ReportMetric(float64(imp.Requests), "requests")
		b.ReportMetric(took.Seconds(), "s")
	}
}
