package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// page is what every dashboard page shows around its content.
type page struct {
	Site   *stride.Site
	Active string // which navigation link is this page
	Zone   string // the IANA zone the site's times are shown in; "" for the browser's own
}

// pageOf is what every page of the session's site shows around its content. A setting that
// cannot be read leaves times in the browser's zone.
func pageOf(c echo.Context, active string) page {
	p := page{Site: siteOf(c), Active: active}
	if st, err := viewOf(c).Settings(c.Request().Context()); err == nil {
		p.Zone = st.TimeZone
	}
	return p
}

type overviewPage struct {
	page
	*store.Overview
	Courses []store.CourseSummary
	Charts  overviewCharts
	Import  *store.ImportStatus // nil: the site's enrollments were never imported
	// Attention counts the enrollments that need attention (the /attention page).
	Attention int64
}

// overviewCharts is the data the charts draw (web/static/charts.js reads it as JSON).
type overviewCharts struct {
	Days        []string `json:"days"`
	Steps       []int64  `json:"steps"`
	Completions []int64  `json:"completions"`
	Weeks       []string `json:"weeks"`
	WeekSteps   []int64  `json:"weekSteps"`
	WeekDone    []int64  `json:"weekCompletions"`
	Histogram   []int64  `json:"histogram"`
}

// chartDays is how far back the activity charts reach.
const chartDays = 90

// handleOverview shows the site's learners, activity and progress at a glance.
func (s *Server) handleOverview(c echo.Context) error {
	v := viewOf(c)
	ctx := c.Request().Context()
	now := s.clock.Now()
	o, err := v.Overview(ctx, now, now.AddDate(0, 0, -chartDays+1))
	if err != nil {
		return err
	}
	courses, err := v.Courses(ctx)
	if err != nil {
		return err
	}
	imp, err := v.Import(ctx)
	if stride.ErrorCode(err) == stride.ENOTFOUND {
		imp, err = nil, nil
	}
	if err != nil {
		return err
	}
	attention, err := v.NeedsAttention(ctx, now)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "overview.html", overviewPage{page: pageOf(c, "overview"), Overview: o,
		Courses: courses, Charts: charts(o, now), Import: imp, Attention: attention})
}

// charts fills every day and week of the chart range, with zeros where nothing happened.
func charts(o *store.Overview, now time.Time) overviewCharts {
	byDay := map[string]store.DayStat{}
	for _, d := range o.Days {
		byDay[d.Day] = d
	}
	var ch overviewCharts
	start := now.UTC().AddDate(0, 0, -chartDays+1)
	for i := range chartDays {
		day := start.AddDate(0, 0, i)
		key := day.Format(time.DateOnly)
		d := byDay[key]
		ch.Days = append(ch.Days, key)
		ch.Steps = append(ch.Steps, d.Steps)
		ch.Completions = append(ch.Completions, d.Completions)
		// Weeks start on Monday.
		if len(ch.Weeks) == 0 || day.Weekday() == time.Monday {
			monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
			ch.Weeks = append(ch.Weeks, monday.Format(time.DateOnly))
			ch.WeekSteps = append(ch.WeekSteps, 0)
			ch.WeekDone = append(ch.WeekDone, 0)
		}
		ch.WeekSteps[len(ch.WeekSteps)-1] += d.Steps
		ch.WeekDone[len(ch.WeekDone)-1] += d.Completions
	}
	ch.Histogram = o.Histogram[:]
	return ch
}
