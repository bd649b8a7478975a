package server

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/strideapp/stride/app/store"
)

// The course page's pace and cohorts sections, and the learner page's pace; the figures
// and their definitions are store.Pace's and store.Cohort's.

// paceSection is what the course page shows of a course's pace.
type paceSection struct {
	*store.Pace
	CourseID int64
	Days     [3]int
	Chart    cohortChart // web/static/cohorts.js reads it as JSON
}

// cohortChart is the cohorts chart's data, oldest month first; null where a cohort is not
// old enough.
type cohortChart struct {
	Months []string      `json:"months"`
	Days   [3]int        `json:"days"`
	Median [3][]*float64 `json:"median"`
	Rate   []float64     `json:"rate"`
}

func (s *Server) coursePace(ctx context.Context, v *store.SiteView, courseID int64) (*paceSection, error) {
	p, err := v.Pace(ctx, courseID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	sec := &paceSection{Pace: p, CourseID: courseID, Days: store.CohortDays}
	sec.Chart.Days = store.CohortDays
	for _, c := range slices.Backward(p.Cohorts) {
		sec.Chart.Months = append(sec.Chart.Months, c.Month)
		sec.Chart.Rate = append(sec.Chart.Rate, math.Round(c.Rate()*10)/10)
		for n, at := range c.At {
			var m *float64
			if at.Ready {
				m = at.Median
			}
			sec.Chart.Median[n] = append(sec.Chart.Median[n], m)
		}
	}
	return sec, nil
}

// Learners is the link to the course's learners of a cohort.
func (p *paceSection) Learners(month string) string {
	return "/courses/" + strconv.FormatInt(p.CourseID, 10) + "?cohort=" + month + "#learners-title"
}

// Export is the link to the CSV of a cohort's learners.
func (p *paceSection) Export(month string) string {
	return "/export/learners.csv?course_id=" + strconv.FormatInt(p.CourseID, 10) + "&cohort=" + month
}

// days says a number of days as the page shows it: "3 days", "1 day", "2.5 days", "—".
func days(d *float64) string {
	if d == nil {
		return "—"
	}
	return daysOf(*d)
}

func daysOf(d float64) string {
	s := strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64)
	if s == "1" {
		return "1 day"
	}
	return s + " days"
}

// span says a duration briefly, to the unit that matters: "45 s", "12 min", "3 h 5 min",
// "2.4 days".
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 {
			return fmt.Sprintf("%d h %d min", h, m)
		}
		return fmt.Sprintf("%d h", h)
	}
	return daysOf(d.Hours() / 24)
}

// medianPercent says a median percentage, or "—" when there is none.
func medianPercent(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(math.Round(*p*10)/10, 'f', -1, 64) + "%"
}

// learnerPaceRow is a learner's pace in one course as the learner page words it.
type learnerPaceRow struct {
	store.LearnerPace
	Theirs string // "finished in 4 days", "12 days so far, at 40%"
	Median string // "median 3 days (of 17 finished)", or that nobody finished
}

func learnerPace(ps []store.LearnerPace) []learnerPaceRow {
	out := make([]learnerPaceRow, 0, len(ps))
	for _, p := range ps {
		r := learnerPaceRow{LearnerPace: p}
		switch {
		case p.Days < 0:
			r.Theirs = "start not known"
		case p.Finished:
			r.Theirs = "finished in " + daysOf(float64(p.Days))
		default:
			r.Theirs = daysOf(float64(p.Days)) + " so far, at " + strconv.FormatFloat(p.Percent, 'f', -1, 64) + "%"
		}
		if p.CourseMedian == nil {
			r.Median = "nobody has finished it yet"
		} else {
			r.Median = fmt.Sprintf("median %s (of %d finished)", daysOf(*p.CourseMedian), p.CourseBase)
		}
		out = append(out, r)
	}
	return out
}

// Formatting for the template, which calls methods only.
func (p *paceSection) FmtDays(d *float64) string      { return days(d) }
func (p *paceSection) FmtSpan(d time.Duration) string { return span(d) }
func (p *paceSection) FmtPercent(v *float64) string   { return medianPercent(v) }
