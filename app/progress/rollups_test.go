package progress_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/strideapp/stride/app/internal/testkit"
)

// checkRollups counts every rollup again from the raw records (store.RebuildRollups) and
// compares: the worker's counting must agree with counting from scratch, whatever order
// events came in. Completions are compared in all: the worker counts one on the day it
// happened, and a later event may move the enrollment's completed_at.
func checkRollups(h *testkit.Harness, siteID int64) {
	h.T.Helper()
	rollups := []struct{ name, q string }{
		{"lesson funnel", "SELECT lesson_id AS k, learners AS n FROM lesson_stats WHERE site_id = ? AND learners > 0"},
		{"steps per day", "SELECT day AS k, steps AS n FROM daily_stats WHERE site_id = ? AND steps > 0"},
		{"enrollments per course and percent",
			"SELECT course_id || ':' || bucket AS k, enrollments AS n FROM progress_buckets WHERE site_id = ? AND enrollments <> 0"},
		{"completions", "SELECT 'all' AS k, SUM(completions) AS n FROM daily_stats WHERE site_id = ? HAVING SUM(completions) > 0"},
	}
	got := make([][]string, len(rollups))
	for i, r := range rollups {
		got[i] = keyed(h, r.q, siteID)
	}
	if err := h.DB.RebuildRollups(context.Background(), siteID); err != nil {
		h.T.Fatal(err)
	}
	for i, r := range rollups {
		if want := keyed(h, r.q, siteID); !slices.Equal(got[i], want) {
			h.T.Errorf("%s: rollup %v, from scratch %v", r.name, got[i], want)
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
