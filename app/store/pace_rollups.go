package store

import (
	"context"
	"fmt"
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
	fp, _, err := db.paceFingerprint(ctx, g, siteID, courseID)
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
// progress_buckets) and its lesson completions (lesson_stats). An event stored late with an
// older id changes the counts it is written with, so the course is counted again, and the
// count looks back paceLookback ids for it; a changed imported percentage alone is counted
// at the next rebuild.
func (db *DB) paceFingerprint(ctx context.Context, g *gorm.DB, siteID, courseID int64) (string, int64, error) {
	var last struct{ ID *int64 }
	if err := g.Raw("SELECT MAX(id) AS id FROM learner_events WHERE site_id = ? AND course_id = ?", siteID, courseID).
		Scan(&last).Error; err != nil {
		return "", 0, dbError(err, "pace")
	}
	var counts struct{ Total, Done, Lessons int64 }
	if err := g.Raw(`SELECT COALESCE(SUM(enrollments), 0) AS total, COALESCE(SUM(CASE WHEN bucket >= 100 THEN enrollments ELSE 0 END), 0) AS done,
			(SELECT COALESCE(SUM(learners), 0) FROM lesson_stats WHERE site_id = ? AND course_id = ?) AS lessons
		FROM progress_buckets WHERE site_id = ? AND course_id = ?`, siteID, courseID, siteID, courseID).Scan(&counts).Error; err != nil {
		return "", 0, dbError(err, "pace")
	}
	id := int64(0)
	if last.ID != nil {
		id = *last.ID
	}
	return fmt.Sprintf("%d/%d/%d/%d", id, counts.Total, counts.Done, counts.Lessons), id, nil
}

// paceLookback is how far below the last count's newest event id a count looks for events:
// learner event ids are taken from one sequence as workers insert them, so an event whose
// transaction commits after one with a higher id was counted lies below it by at most the
// ids other batches took while its own was open — a batch holds at most 500 events, so
// 10,000 covers twenty batches open at once. Every count re-reads the journeys of the
// learners with events in that range, so it is kept no larger.
const paceLookback = 10_000

// RebuildPace counts the pace and cohort rollups of every course of a site again.
func (db *DB) RebuildPace(ctx context.Context, siteID int64) error {
	var courses []int64
	if err := db.reader(ctx).Raw("SELECT id FROM courses WHERE site_id = ? ORDER BY id", siteID).Scan(&courses).Error; err != nil {
		return dbError(err, "pace")
	}
	for _, c := range courses {
		if err := db.countCoursePace(ctx, siteID, c, db.now(), true); err != nil {
			return err
		}
	}
	return nil
}

// CountCoursePace counts one course's pace and cohort rollups again now: from all its
// events when full, else from the journeys of learners with events since the last count.
func (db *DB) CountCoursePace(ctx context.Context, siteID, courseID int64, full bool) error {
	return db.countCoursePace(ctx, siteID, courseID, db.now(), full)
}

// paceFirstCounts is how many never-counted courses one RefreshPace counts.
const paceFirstCounts = 5

// RefreshPace counts again the rollups of every counted course whose events or enrollments
// changed since, or one of whose cohorts became 7, 30 or 90 days old, and counts for the
// first time a few courses never counted (paceFirstCounts: a large course's first count
// reads all its events, which takes seconds). The worker's upkeep should call it every few
// minutes, so that course pages find their rollups current and do not count them
// themselves (which they do when never counted, or stale after paceFreshFor).
func (db *DB) RefreshPace(ctx context.Context) error {
	g := db.reader(ctx)
	var first []struct{ SiteID, ID int64 }
	if err := g.Raw(`SELECT c.site_id, c.id FROM courses c
		LEFT JOIN pace_courses p ON p.site_id = c.site_id AND p.course_id = c.id
		WHERE p.course_id IS NULL AND c.deleted_at IS NULL ORDER BY c.site_id, c.id LIMIT ?`, paceFirstCounts).Scan(&first).Error; err != nil {
		return dbError(err, "pace")
	}
	for _, c := range first {
		if err := db.countCoursePace(ctx, c.SiteID, c.ID, db.now(), true); err != nil {
			return err
		}
	}
	var courses []struct{ SiteID, CourseID int64 }
	if err := g.Raw("SELECT site_id, course_id FROM pace_courses ORDER BY site_id, course_id").Scan(&courses).Error; err != nil {
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
			if err := db.countCoursePace(ctx, c.SiteID, c.CourseID, now, false); err != nil {
				return err
			}
		}
	}
	return nil
}
