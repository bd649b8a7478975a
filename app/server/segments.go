package server

import (
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// maxIdleDays keeps idle_days to a span a site can have (about 100 years).
const maxIdleDays = 36_500

// learnerFilter reads a learner list's filters from the query, as the pages and
// learners.csv share them: course_id, status, idle_days, cohort (YYYY-MM) and q. Each is
// optional; a value that cannot be one is refused with the reason.
func learnerFilter(c echo.Context) (store.LearnerFilter, error) {
	var f store.LearnerFilter
	var err error
	if f.CourseID, err = courseFilter(c); err != nil {
		return f, err
	}
	if f.Status = c.QueryParam("status"); f.Status != "" && !slices.Contains(store.Statuses, f.Status) {
		return f, stride.Errorf(stride.EINVALID, "status must be one of: not started, in progress, stalled, completed.")
	}
	if v := c.QueryParam("idle_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxIdleDays {
			return f, stride.Errorf(stride.EINVALID, "idle_days must be a whole number of days, from 0 to %d.", maxIdleDays)
		}
		f.IdleDays = &n
	}
	if f.Cohort = c.QueryParam("cohort"); f.Cohort != "" {
		if _, _, err := store.CohortMonth(f.Cohort); err != nil {
			return f, stride.Errorf(stride.EINVALID, "cohort must be a month, as YYYY-MM (2026-11).")
		}
	}
	f.Search = c.QueryParam("q")
	return f, nil
}

// exportLink is learners.csv with the filters f: the rows a list shows, all of its pages.
func exportLink(f store.LearnerFilter) string {
	q := url.Values{}
	if f.CourseID > 0 {
		q.Set("course_id", strconv.FormatInt(f.CourseID, 10))
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.IdleDays != nil {
		q.Set("idle_days", strconv.Itoa(*f.IdleDays))
	}
	if f.Cohort != "" {
		q.Set("cohort", f.Cohort)
	}
	if f.Search != "" {
		q.Set("q", f.Search)
	}
	if len(q) == 0 {
		return "/export/learners.csv"
	}
	return "/export/learners.csv?" + q.Encode()
}

// relink is a page's own URL with some query parameters changed ("" removes one).
func relink(path string, base url.Values, change map[string]string) string {
	q := url.Values{}
	for k, v := range base {
		q[k] = v
	}
	for k, v := range change {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return path + "?" + q.Encode()
}
