package progress_test

import (
	"fmt"
	"slices"

	"github.com/strideapp/stride/app/internal/testkit"
)

// checkRollups recomputes every rollup from the raw records and compares: the worker's
// counting must agree with counting from scratch, whatever order events came in.
func checkRollups(h *testkit.Harness, siteID int64) {
	h.T.Helper()
	pairs := []struct{ name, rollup, raw string }{
		{"lesson funnel",
			"SELECT lesson_id AS k, learners AS n FROM lesson_stats WHERE site_id = ? AND learners > 0",
			"SELECT lesson_id AS k, COUNT(DISTINCT learner_id) AS n FROM learner_events WHERE site_id = ? AND kind = 'lesson' GROUP BY lesson_id"},
		{"steps per day",
			"SELECT day AS k, steps AS n FROM daily_stats WHERE site_id = ? AND steps > 0",
			"SELECT substr(CAST(occurred_at AS TEXT), 1, 10) AS k, COUNT(*) AS n FROM learner_events WHERE site_id = ? AND kind = 'lesson' GROUP BY substr(CAST(occurred_at AS TEXT), 1, 10)"},
		{"enrollments per course and percent",
			"SELECT course_id || ':' || bucket AS k, enrollments AS n FROM progress_buckets WHERE site_id = ? AND enrollments <> 0",
			"SELECT course_id || ':' || CAST(FLOOR(percent) AS INTEGER) AS k, COUNT(*) AS n FROM enrollments WHERE site_id = ? GROUP BY course_id, CAST(FLOOR(percent) AS INTEGER)"},
		{"completions",
			"SELECT 'all' AS k, SUM(completions) AS n FROM daily_stats WHERE site_id = ? HAVING SUM(completions) > 0",
			"SELECT 'all' AS k, COUNT(*) AS n FROM enrollments WHERE site_id = ? AND completed_at IS NOT NULL HAVING COUNT(*) > 0"},
	}
	for _, p := range pairs {
		got, want := keyed(h, p.rollup, siteID), keyed(h, p.raw, siteID)
		if !slices.Equal(got, want) {
			h.T.Errorf("%s: rollup %v, from scratch %v", p.name, got, want)
		}
	}
}

func keyed(h *testkit.Harness, q string, siteID int64) []string {
	var rows []struct {
		K string
		N int64
	}
	if err := h.DB.Gorm().Raw(q, siteID).Scan(&rows).Error; err != nil {
		h.T.Fatalf("%s: %v", q, err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s=%d", r.K, r.N)
	}
	slices.Sort(out)
	return out
}
