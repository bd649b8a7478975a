package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"gorm.io/gorm"
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
		if err := v.db.rebuildCoursePace(ctx, v.siteID, courseID, now); err != nil {
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

// paceState says when a course's rollups were counted and whether they may be served: they
// exist, and either they are younger than window or nothing they count changed
// (paceFingerprint) and no cohort became 7, 30 or 90 days old since.
func (db *DB) paceState(ctx context.Context, siteID, courseID int64, now time.Time, window time.Duration) (time.Time, bool, error) {
	var rows []struct {
		Fingerprint string
		BuiltAt     time.Time
	}
	g := db.reader(ctx)
	if err := g.Raw("SELECT fingerprint, built_at FROM pace_courses WHERE site_id = ? AND course_id = ?", siteID, courseID).
		Scan(&rows).Error; err != nil {
		return time.Time{}, false, dbError(err, "pace")
	}
	if len(rows) == 0 {
		return time.Time{}, false, nil
	}
	built := rows[0].BuiltAt
	if now.Sub(built) < window {
		return built, true, nil
	}
	fp, err := db.paceFingerprint(ctx, g, siteID, courseID)
	if err != nil {
		return built, false, err
	}
	if fp != rows[0].Fingerprint {
		return built, false, nil
	}
	var cohorts []string
	if err := g.Raw("SELECT cohort FROM pace_cohorts WHERE site_id = ? AND course_id = ?", siteID, courseID).Scan(&cohorts).Error; err != nil {
		return built, false, dbError(err, "pace")
	}
	for _, c := range cohorts {
		for _, n := range CohortDays {
			if at := cohortReady(c, n); at.After(built) && !at.After(now) {
				return built, false, nil
			}
		}
	}
	return built, true, nil
}

// paceFingerprint names the state of what a course's rollups count: its newest learner
// event (one probe of learner_events_course), its enrollments and those at 100 % (from
// progress_buckets). An event stored late with an older id is counted at the course's next
// change; a changed imported percentage alone, at the next rebuild.
func (db *DB) paceFingerprint(ctx context.Context, g *gorm.DB, siteID, courseID int64) (string, error) {
	var last struct{ ID *int64 }
	if err := g.Raw("SELECT MAX(id) AS id FROM learner_events WHERE site_id = ? AND course_id = ?", siteID, courseID).
		Scan(&last).Error; err != nil {
		return "", dbError(err, "pace")
	}
	var counts struct{ Total, Done int64 }
	if err := g.Raw(`SELECT COALESCE(SUM(enrollments), 0) AS total, COALESCE(SUM(CASE WHEN bucket >= 100 THEN enrollments ELSE 0 END), 0) AS done
		FROM progress_buckets WHERE site_id = ? AND course_id = ?`, siteID, courseID).Scan(&counts).Error; err != nil {
		return "", dbError(err, "pace")
	}
	id := int64(0)
	if last.ID != nil {
		id = *last.ID
	}
	return fmt.Sprintf("%d/%d/%d", id, counts.Total, counts.Done), nil
}

// RebuildPace counts the pace and cohort rollups of every course of a site again.
func (db *DB) RebuildPace(ctx context.Context, siteID int64) error {
	var courses []int64
	if err := db.reader(ctx).Raw("SELECT id FROM courses WHERE site_id = ? ORDER BY id", siteID).Scan(&courses).Error; err != nil {
		return dbError(err, "pace")
	}
	for _, c := range courses {
		if err := db.rebuildCoursePace(ctx, siteID, c, db.now()); err != nil {
			return err
		}
	}
	return nil
}

// RebuildCoursePace counts one course's pace and cohort rollups again, now.
func (db *DB) RebuildCoursePace(ctx context.Context, siteID, courseID int64) error {
	return db.rebuildCoursePace(ctx, siteID, courseID, db.now())
}

// RefreshPace counts again the rollups of every course a page has shown whose events or
// enrollments changed since, or one of whose cohorts became 7, 30 or 90 days old. The
// worker's upkeep calls it every few minutes, so that course pages find their rollups
// current and do not count them themselves (which they do only after paceFreshFor).
func (db *DB) RefreshPace(ctx context.Context) error {
	var courses []struct{ SiteID, CourseID int64 }
	if err := db.reader(ctx).Raw("SELECT site_id, course_id FROM pace_courses ORDER BY site_id, course_id").Scan(&courses).Error; err != nil {
		return dbError(err, "pace")
	}
	for _, c := range courses {
		now := db.now()
		// No freshness window: that is the page's, not the worker's.
		_, fresh, err := db.paceState(ctx, c.SiteID, c.CourseID, now, 0)
		if err != nil {
			return err
		}
		if !fresh {
			if err := db.rebuildCoursePace(ctx, c.SiteID, c.CourseID, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// courseEvent is one learner event of a course, as the rollups read it.
type courseEvent struct {
	LearnerID    int64
	EnrollmentID *int64
	Kind         string
	LessonID     *int64
	OccurredAt   time.Time
	PercentAfter *float64
}

// rebuildCoursePace counts one course's rollups from its events and enrollments: one read
// of each, in learner and time order, through learner_events_course and enrollments_course.
func (db *DB) rebuildCoursePace(ctx context.Context, siteID, courseID int64, now time.Time) error {
	g := db.reader(ctx)
	fp, err := db.paceFingerprint(ctx, g, siteID, courseID)
	if err != nil {
		return err
	}
	var evs []courseEvent
	if err := g.Raw(`SELECT learner_id, enrollment_id, kind, lesson_id, occurred_at, percent_after FROM learner_events
		WHERE site_id = ? AND course_id = ? ORDER BY learner_id, occurred_at, id`, siteID, courseID).Scan(&evs).Error; err != nil {
		return dbError(err, "pace")
	}
	var enrollments []cohortEnrollment
	if err := g.Raw(`SELECT id, learner_id, enrolled_at, completed_at, percent, imported_percent, imported_as_of FROM enrollments
		WHERE site_id = ? AND course_id = ? ORDER BY learner_id, id`, siteID, courseID).Scan(&enrollments).Error; err != nil {
		return dbError(err, "pace")
	}
	lessons := lessonGaps(evs)
	cohorts := countCohorts(enrollments, evs, now)
	err = db.tx(ctx, func(tx *gorm.DB) error {
		// The upsert first: it locks the course's row, so two rebuilds of one course take turns.
		if err := tx.Exec(`INSERT INTO pace_courses (site_id, course_id, fingerprint, built_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (site_id, course_id) DO UPDATE SET fingerprint = excluded.fingerprint, built_at = excluded.built_at`,
			siteID, courseID, fp, now.UTC()).Error; err != nil {
			return err
		}
		for _, t := range []string{"pace_lessons", "pace_cohorts"} {
			if err := tx.Exec("DELETE FROM "+t+" WHERE site_id = ? AND course_id = ?", siteID, courseID).Error; err != nil {
				return err
			}
		}
		for _, l := range lessons {
			if err := tx.Exec("INSERT INTO pace_lessons (site_id, course_id, lesson_id, gaps, median_seconds) VALUES (?, ?, ?, ?, ?)",
				siteID, courseID, l.lesson, l.gaps, l.median).Error; err != nil {
				return err
			}
		}
		for _, c := range cohorts {
			if err := tx.Exec(`INSERT INTO pace_cohorts (site_id, course_id, cohort, enrollments, completed,
					known7, unknown7, median7, known30, unknown30, median30, known90, unknown90, median90)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, siteID, courseID, c.Month, c.Enrollments, c.Completed,
				c.At[0].Known, c.At[0].Unknown, c.At[0].Median, c.At[1].Known, c.At[1].Unknown, c.At[1].Median,
				c.At[2].Known, c.At[2].Unknown, c.At[2].Median).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return dbError(err, "pace")
}

type lessonGap struct {
	lesson int64
	gaps   int64
	median float64 // seconds
}

// lessonGaps is, per lesson, the median time from each learner's previous lesson
// completion in the course to its completion; evs are in learner and time order.
func lessonGaps(evs []courseEvent) []lessonGap {
	gaps := map[int64][]float64{}
	var prev *courseEvent
	for i := range evs {
		e := &evs[i]
		if e.Kind != "lesson" || e.LessonID == nil {
			continue
		}
		if prev != nil && prev.LearnerID == e.LearnerID {
			gaps[*e.LessonID] = append(gaps[*e.LessonID], e.OccurredAt.Sub(prev.OccurredAt).Seconds())
		}
		prev = e
	}
	out := make([]lessonGap, 0, len(gaps))
	for lesson, g := range gaps {
		slices.Sort(g)
		out = append(out, lessonGap{lesson: lesson, gaps: int64(len(g)), median: *percentile(g, 0.5)})
	}
	slices.SortFunc(out, func(a, b lessonGap) int { return cmp.Compare(a.lesson, b.lesson) })
	return out
}
