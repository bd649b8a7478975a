package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// A course's pace and cohort rollups (pace_courses, pace_lessons, pace_cohorts) are counted
// whole from its events and enrollments: the worker, which cannot tell cheaply which gaps
// or cohort figures an event out of order moves, does not keep them. Pages count a course's
// when it never was or when its figures are stale and older than paceFreshFor; RefreshPace
// keeps those shown current in between.

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
