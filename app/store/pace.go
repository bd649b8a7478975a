package store

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"
)

// Pace is how fast a course's learners move: live figures of its finished enrollments, and
// rollups (pace_lessons, pace_cohorts) of its events as of BuiltAt.
//
// Definitions, as the course page states them:
//   - Days to finish: for each enrollment with completed_at and a start (started_at, else
//     enrolled_at) not after it, the whole days between the two; the median and the 75th
//     percentile of those, interpolated as PostgreSQL's percentile_cont does.
//   - Time from the previous lesson: each lesson completion (lesson.completed, by event time)
//     of a learner in the course that follows another, gives the time since that one to the
//     lesson completed; a lesson's figure is the median of those.
//   - Cohorts: see Cohort.
type Pace struct {
	Finished   int64    // enrollments the days to finish are based on
	MedianDays *float64 // nil: none finished
	P75Days    *float64
	Lessons    []LessonPace // in curriculum order, then lessons known only from events
	Cohorts    []Cohort     // newest month first
	BuiltAt    time.Time    // when the rollups were counted
}

// LessonPace is a lesson's median time from the learner's previous lesson.
type LessonPace struct {
	LessonID int64
	Lesson   string
	Chapter  string
	Gaps     int64 // completions counted, those that followed another lesson
	Median   time.Duration
	Slowest  bool // among the lessons that hold learners longest (see slowest)
}

// paceFreshFor is how long a course page serves rollups older than the course's latest
// events before it counts them again itself: counting a large course takes a few hundred
// milliseconds (see README), which a page pays at most this often per course. RefreshPace,
// run by the worker, keeps viewed courses current between page views.
const paceFreshFor = 10 * time.Minute

// slowest is how many of n lessons the page marks as holding learners longest: the top
// fifth by median, at least one and at most three.
func slowest(n int) int { return min(3, max(1, (n+4)/5), n) }

// Pace reads a course's pace and cohorts, counting its rollups first when they were never
// counted, or are stale (see paceFreshFor), or a cohort became 7, 30 or 90 days old since.
func (v *SiteView) Pace(ctx context.Context, courseID int64, now time.Time) (*Pace, error) {
	p := &Pace{}
	var err error
	if p.Finished, p.MedianDays, p.P75Days, err = v.daysToFinish(ctx, courseID); err != nil {
		return nil, err
	}
	built, fresh, err := v.db.paceState(ctx, v.siteID, courseID, now, paceFreshFor)
	if err != nil {
		return nil, err
	}
	if !fresh {
		if err := v.db.countCoursePace(ctx, v.siteID, courseID, now, false); err != nil {
			return nil, err
		}
		built = now
	}
	p.BuiltAt = built
	g := v.db.reader(ctx)
	var lessons []struct {
		LessonID      int64
		Lesson        string
		Chapter       string
		Gaps          int64
		MedianSeconds float64
	}
	err = g.Raw(`SELECT p.lesson_id, COALESCE(l.name, '') AS lesson, COALESCE(ch.name, '') AS chapter, p.gaps, p.median_seconds
		FROM pace_lessons p
		LEFT JOIN lessons l ON l.site_id = p.site_id AND l.id = p.lesson_id
		LEFT JOIN chapters ch ON ch.site_id = l.site_id AND ch.id = l.chapter_id
		WHERE p.site_id = ? AND p.course_id = ?
		ORDER BY CASE WHEN l.course_position IS NULL THEN 1 ELSE 0 END, l.course_position, l.chapter_id, l.position, p.lesson_id`,
		v.siteID, courseID).Scan(&lessons).Error
	if err != nil {
		return nil, dbError(err, "pace")
	}
	for _, l := range lessons {
		p.Lessons = append(p.Lessons, LessonPace{LessonID: l.LessonID, Lesson: l.Lesson, Chapter: l.Chapter, Gaps: l.Gaps,
			Median: time.Duration(l.MedianSeconds * float64(time.Second))})
	}
	order := make([]int, len(p.Lessons))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(p.Lessons[b].Median, p.Lessons[a].Median) })
	for _, i := range order[:slowest(len(order))] {
		p.Lessons[i].Slowest = true
	}
	if p.Cohorts, err = v.cohorts(ctx, courseID, built); err != nil {
		return nil, err
	}
	return p, nil
}

// daysToFinish is the number of finished enrollments of a course and the median and 75th
// percentile of their whole days from start to completion (see Pace). PostgreSQL computes
// the percentiles; SQLite has no percentile function, so it reads the course's finished
// enrollments (through enrollments_course_completed) and they are computed here alike.
func (v *SiteView) daysToFinish(ctx context.Context, courseID int64) (int64, *float64, *float64, error) {
	g := v.db.reader(ctx)
	if v.db.postgres {
		var r struct {
			N           int64
			Median, P75 *float64
		}
		err := g.Raw(`SELECT COUNT(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median,
				percentile_cont(0.75) WITHIN GROUP (ORDER BY d) AS p75
			FROM (SELECT FLOOR(EXTRACT(EPOCH FROM completed_at - COALESCE(started_at, enrolled_at)) / 86400) AS d
				FROM enrollments WHERE site_id = ? AND course_id = ? AND completed_at IS NOT NULL) f
			WHERE d >= 0`, v.siteID, courseID).Scan(&r).Error
		return r.N, r.Median, r.P75, dbError(err, "pace")
	}
	// Columns as they are: SQLite's COALESCE would return times as text.
	var rows []struct{ StartedAt, EnrolledAt, CompletedAt *time.Time }
	err := g.Raw(`SELECT started_at, enrolled_at, completed_at FROM enrollments
		WHERE site_id = ? AND course_id = ? AND completed_at IS NOT NULL`, v.siteID, courseID).Scan(&rows).Error
	if err != nil {
		return 0, nil, nil, dbError(err, "pace")
	}
	var days []float64
	for _, r := range rows {
		if d := wholeDays(cmp.Or(r.StartedAt, r.EnrolledAt), r.CompletedAt); d >= 0 {
			days = append(days, float64(d))
		}
	}
	slices.Sort(days)
	return int64(len(days)), percentile(days, 0.5), percentile(days, 0.75), nil
}

// wholeDays is the whole days from a to b, -1 when either is unknown or b is before a.
func wholeDays(a, b *time.Time) int {
	if a == nil || b == nil || b.Before(*a) {
		return -1
	}
	return int(b.Sub(*a) / (24 * time.Hour))
}

// percentile is PostgreSQL's percentile_cont of sorted values: linear between the two
// values around position f·(n−1); nil for none.
func percentile(sorted []float64, f float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	pos := f * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	v := sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
	return &v
}

// LearnerPace is a learner's pace in one course beside the course's median.
type LearnerPace struct {
	CourseID     int64
	Course       string
	Started      *time.Time
	Finished     bool
	Days         int      // whole days from start to completion, or to now when unfinished; -1: no start
	Percent      float64  // the enrollment's percentage now
	CourseMedian *float64 // the course's median days to finish; nil: nobody finished
	CourseBase   int64    // enrollments the median is based on
}

// LearnerPace reads a learner's days in each course, from its start (started_at, else
// enrolled_at) to completion, or until now when unfinished, beside the course's median.
func (v *SiteView) LearnerPace(ctx context.Context, learnerID int64, now time.Time) ([]LearnerPace, error) {
	var rows []struct {
		CourseID                        int64
		Course                          string
		Percent                         float64
		StartedAt, EnrolledAt, Complete *time.Time
	}
	err := v.db.reader(ctx).Raw(`SELECT e.course_id, COALESCE(c.name, '') AS course, e.percent, e.started_at, e.enrolled_at,
			e.completed_at AS complete
		FROM enrollments e LEFT JOIN courses c ON c.site_id = e.site_id AND c.id = e.course_id
		WHERE e.site_id = ? AND e.learner_id = ? ORDER BY e.course_id, e.id LIMIT 100`, v.siteID, learnerID).Scan(&rows).Error
	if err != nil {
		return nil, dbError(err, "pace")
	}
	out := make([]LearnerPace, 0, len(rows))
	medians := map[int64]LearnerPace{}
	for _, r := range rows {
		p := LearnerPace{CourseID: r.CourseID, Course: r.Course, Started: cmp.Or(r.StartedAt, r.EnrolledAt),
			Finished: r.Complete != nil, Percent: r.Percent}
		end := r.Complete
		if end == nil {
			end = &now
		}
		p.Days = wholeDays(p.Started, end)
		m, ok := medians[r.CourseID]
		if !ok {
			if m.CourseBase, m.CourseMedian, _, err = v.daysToFinish(ctx, r.CourseID); err != nil {
				return nil, err
			}
			medians[r.CourseID] = m
		}
		p.CourseMedian, p.CourseBase = m.CourseMedian, m.CourseBase
		out = append(out, p)
	}
	return out, nil
}
