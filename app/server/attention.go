package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

type attentionPage struct {
	page
	Threshold int // the site's stalled days: idle that long needs attention
	Courses   []store.CourseSummary
	Learners  []store.LearnerRow
	Total     int64
	Query     store.LearnerQuery
	Statuses  []string // the statuses that can need attention
	Pages     int
	Link      func(change map[string]string) string
	Export    string
}

// handleAttention lists the enrollments that need attention: unfinished and idle for at
// least the site's threshold (stalled, or not started that long after enrolling). Sorted
// by default with the most recently stalled first; "progress" puts the closest to
// finishing first.
func (s *Server) handleAttention(c echo.Context) error {
	v := viewOf(c)
	ctx := c.Request().Context()
	f, err := learnerFilter(c)
	if err != nil {
		return err
	}
	if f.Status != "" && f.Status != store.Stalled && f.Status != store.NotStarted {
		return stride.Errorf(stride.EINVALID, "status must be stalled or not started here: other learners do not need attention.")
	}
	if f.IdleDays != nil {
		return stride.Errorf(stride.EINVALID, "idle_days is the site's stalled threshold here; change it in the settings.")
	}
	st, err := v.Settings(ctx)
	if err != nil {
		return err
	}
	f.IdleDays = &st.StalledDays
	sort := c.QueryParam("sort")
	if sort == "" {
		sort = "idle"
	}
	q := store.LearnerQuery{LearnerFilter: f, Sort: sort, Desc: c.QueryParam("dir") != "asc", Size: learnersPerPage}
	q.Page, _ = strconv.Atoi(c.QueryParam("page"))
	q.Page = min(max(q.Page, 1), maxLearnerPage)
	learners, total, err := v.Learners(ctx, q, s.clock.Now())
	if err != nil {
		return err
	}
	courses, err := v.Courses(ctx)
	if err != nil {
		return err
	}
	base := c.Request().URL.Query()
	return s.render(c, http.StatusOK, "attention.html", attentionPage{page: pageOf(c, "attention"), Threshold: st.StalledDays,
		Courses: courses, Learners: learners, Total: total, Query: q, Statuses: []string{store.Stalled, store.NotStarted},
		Pages: int((total + learnersPerPage - 1) / learnersPerPage), Export: exportLink(f),
		Link: func(change map[string]string) string { return relink("/attention", base, change) }})
}
