package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// CohortDays are the days after enrolling at which cohorts' progress is compared.
var CohortDays = [3]int{7, 30, 90}

// Cohort is a course's enrollments of one UTC month of enrolled_at (enrollments without
// one belong to none), counted as of the rollup's build:
//   - Completed: those completed now (completed_at set, or at 100 %).
//   - At[i]: progress CohortDays[i] days after enrolling, the latest percentage known at
//     enrolled_at + N days: of the enrollment's progress steps (enrollment.progress, by
//     event time) and of its imported percentage (as of imported_as_of), whichever is
//     later; without either, 0 — unless the enrollment was imported, whose history before
//     the import Stride never saw: then unknown, left out of the median and counted.
//     Shown only once the cohort is N days old: N days after its month's end.
type Cohort struct {
	Month       string // YYYY-MM
	Enrollments int64
	Completed   int64
	At          [3]CohortPoint
}

// Rate is the share of the cohort completed, in percent.
func (c Cohort) Rate() float64 {
	if c.Enrollments == 0 {
		return 0
	}
	return 100 * float64(c.Completed) / float64(c.Enrollments)
}

// CohortPoint is a cohort's median progress N days after enrolling.
type CohortPoint struct {
	Ready   bool     // the cohort is N days old
	Median  *float64 // percent; nil: not Ready, or none known
	Known   int64    // enrollments the median is based on
	Unknown int64    // imported enrollments with no progress known that early
}

// cohortReady is when every enrollment of the cohort month has been enrolled n days.
func cohortReady(month string, n int) time.Time {
	start, err := time.Parse("2006-01", month)
	if err != nil {
		return time.Time{}
	}
	return start.AddDate(0, 1, n)
}

// cohorts reads a course's cohorts from pace_cohorts, newest first.
func (v *SiteView) cohorts(ctx context.Context, courseID int64, built time.Time) ([]Cohort, error) {
	var rows []struct {
		Cohort                               string
		Enrollments, Completed               int64
		Known7, Unknown7, Known30, Unknown30 int64
		Known90, Unknown90                   int64
		Median7, Median30, Median90          *float64
	}
	err := v.db.reader(ctx).Raw(`SELECT cohort, enrollments, completed, known7, unknown7, median7, known30, unknown30, median30,
			known90, unknown90, median90
		FROM pace_cohorts WHERE site_id = ? AND course_id = ? ORDER BY cohort DESC`, v.siteID, courseID).Scan(&rows).Error
	if err != nil {
		return nil, dbError(err, "cohorts")
	}
	out := make([]Cohort, 0, len(rows))
	for _, r := range rows {
		c := Cohort{Month: r.Cohort, Enrollments: r.Enrollments, Completed: r.Completed, At: [3]CohortPoint{
			{Median: r.Median7, Known: r.Known7, Unknown: r.Unknown7}, {Median: r.Median30, Known: r.Known30, Unknown: r.Unknown30},
			{Median: r.Median90, Known: r.Known90, Unknown: r.Unknown90}}}
		for n, days := range CohortDays {
			c.At[n].Ready = !cohortReady(c.Month, days).After(built)
		}
		out = append(out, c)
	}
	return out, nil
}

// cohortEnrollment is an enrollment as cohorts count it.
type cohortEnrollment struct {
	ID, LearnerID   int64
	EnrolledAt      *time.Time
	CompletedAt     *time.Time
	Percent         float64
	ImportedPercent *float64
	ImportedAsOf    *time.Time
}

// countCohorts counts a course's cohorts as of now from its enrollments (in learner and id
// order) and its learners' journeys; see Cohort. A learner's journey is their first
// enrollment's.
func countCohorts(enrollments []cohortEnrollment, journeys map[int64]*paceJourney, now time.Time) []Cohort {
	type acc struct {
		c      Cohort
		values [3][]float64
	}
	months := map[string]*acc{}
	var prev int64
	for i := range enrollments {
		e := &enrollments[i]
		j := journeys[e.LearnerID]
		if i > 0 && prev == e.LearnerID {
			j = nil // not the learner's first enrollment in the course
		}
		prev = e.LearnerID
		if e.EnrolledAt == nil {
			continue
		}
		month := e.EnrolledAt.UTC().Format("2006-01")
		a := months[month]
		if a == nil {
			a = &acc{c: Cohort{Month: month}}
			months[month] = a
		}
		a.c.Enrollments++
		if e.CompletedAt != nil || e.Percent >= 100 {
			a.c.Completed++
		}
		for n, days := range CohortDays {
			cut := e.EnrolledAt.Add(time.Duration(days) * 24 * time.Hour)
			var at *time.Time
			var pct float64
			if j != nil {
				if a, p := j.step(n); a != nil && p != nil {
					at, pct = a, *p
				}
			}
			if e.ImportedAsOf != nil && e.ImportedPercent != nil && !e.ImportedAsOf.After(cut) && (at == nil || e.ImportedAsOf.After(*at)) {
				at, pct = e.ImportedAsOf, *e.ImportedPercent
			}
			switch {
			case at != nil:
				a.values[n] = append(a.values[n], pct)
			case e.ImportedAsOf != nil:
				a.c.At[n].Unknown++
			default:
				a.values[n] = append(a.values[n], 0)
			}
		}
	}
	out := make([]Cohort, 0, len(months))
	for month, a := range months {
		for n, days := range CohortDays {
			vals := a.values[n]
			a.c.At[n].Known = int64(len(vals))
			if cohortReady(month, days).After(now) {
				continue
			}
			slices.Sort(vals)
			a.c.At[n].Median = percentile(vals, 0.5)
		}
		out = append(out, a.c)
	}
	slices.SortFunc(out, func(x, y Cohort) int { return strings.Compare(y.Month, x.Month) })
	return out
}
