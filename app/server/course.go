package server

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

type coursePage struct {
	page
	Course   *store.CourseHeader
	Funnel   []store.FunnelLesson
	Max      int64 // the funnel's widest bar, at least 1
	Imported int64 // the most learners a lesson counts from imported finished enrollments; 0: none
	Learners []store.LearnerRow
	Total    int64
	Query    store.LearnerQuery
	Statuses []string
	Pages    int
	Link     func(change map[string]string) string
	Pace     *paceSection // nil for a course deleted in Thinkific
	Export   string       // learners.csv with the list's filters
	// StalledDays is the site's threshold: idle that long, an unfinished learner is stalled.
	StalledDays int
}

const (
	learnersPerPage = 50
	maxLearnerPage  = 1_000_000 // far past any course; keeps the row offset from overflowing
)

// handleCourse shows a course's drop-off funnel and its learners. A course deleted in
// Thinkific keeps its learners and loses its funnel.
func (s *Server) handleCourse(c echo.Context) error {
	v := viewOf(c)
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	course, err := v.Course(ctx, id)
	if err != nil {
		return err
	}
	var funnel []store.FunnelLesson
	if course.DeletedAt == nil {
		if funnel, err = v.Funnel(ctx, id); err != nil {
			return err
		}
	}
	f, err := learnerFilter(c)
	if err != nil {
		return err
	}
	f.CourseID = id
	q := store.LearnerQuery{LearnerFilter: f, Sort: c.QueryParam("sort"), Desc: c.QueryParam("dir") != "asc", Size: learnersPerPage}
	q.Page, _ = strconv.Atoi(c.QueryParam("page"))
	q.Page = min(max(q.Page, 1), maxLearnerPage)
	learners, total, err := v.Learners(ctx, q, s.clock.Now())
	if err != nil {
		return err
	}
	st, err := v.Settings(ctx)
	if err != nil {
		return err
	}
	p := coursePage{StalledDays: st.StalledDays, page: pageOf(c, "course"), Course: course, Funnel: funnel, Learners: learners, Total: total,
		Query: q, Statuses: store.Statuses, Pages: int((total + learnersPerPage - 1) / learnersPerPage), Max: 1, Export: exportLink(f)}
	for _, f := range funnel {
		p.Max = max(p.Max, f.Learners)
		p.Imported = max(p.Imported, f.Imported)
	}
	// Pace and cohorts (pace.go).
	if course.DeletedAt == nil {
		if p.Pace, err = s.coursePace(ctx, v, id); err != nil {
			return err
		}
	}
	base, path := c.Request().URL.Query(), "/courses/"+strconv.FormatInt(id, 10)
	p.Link = func(change map[string]string) string { return relink(path, base, change) }
	return s.render(c, http.StatusOK, "course.html", p)
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, stride.Errorf(stride.ENOTFOUND, "Not found.")
	}
	return id, nil
}
