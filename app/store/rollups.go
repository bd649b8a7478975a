package store

import (
	"context"
	"database/sql"
	"math"
	"time"

	"gorm.io/gorm"
)

// The worker keeps these rollups in the transaction that applies each event, so the
// dashboard never counts raw events.

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func bucket(percent float64) int { return int(math.Max(0, math.Min(100, math.Floor(percent)))) }

func (s *SiteTx) bumpDaily(t time.Time, steps, completions, enrollments int64) {
	s.buf.add("daily_stats", s.siteID, []any{day(t)}, steps, completions, enrollments)
}

func (s *SiteTx) bumpBucket(course int64, b int, delta int64) {
	s.buf.add("progress_buckets", s.siteID, []any{course, b}, delta)
}

// countCompletion records that a learner completed a lesson: the funnel counts each learner
// once per lesson, and the day counts every learner step.
// The completion itself is written with the batch, which counts the learners it is new for.
func (s *SiteTx) countCompletion(h *Half) error {
	s.bumpDaily(h.OccurredAt, 1, 0, 0)
	s.buf.put("lesson_completions", s.key(*h.LessonID, h.LearnerID), h.OccurredAt, s.siteID, *h.LessonID, h.LearnerID, h.CourseID, h.OccurredAt.UTC())
	return nil
}

// countEnrollment moves the rollups from what an enrollment was to what it is now.
func (s *SiteTx) countEnrollment(course int64, before, after *EnrollmentState, at time.Time) {
	if before == nil {
		enrolled := at
		if after.EnrolledAt != nil {
			enrolled = *after.EnrolledAt
		}
		s.bumpDaily(enrolled, 0, 0, 1)
		s.bumpBucket(course, bucket(after.Percent), 1)
	} else if bucket(before.Percent) != bucket(after.Percent) {
		s.bumpBucket(course, bucket(before.Percent), -1)
		s.bumpBucket(course, bucket(after.Percent), 1)
	}
	if (before == nil || before.CompletedAt == nil) && after.CompletedAt != nil {
		s.bumpDaily(*after.CompletedAt, 0, 1, 0)
	}
}

// RebuildRollups counts a site's rollups again from its records, by the rules the worker
// follows as it applies events: steps are lesson completions by UTC day, the funnel counts
// each learner once per lesson, completions and enrollments count on the day of the
// enrollment's completed_at and enrolled_at, and each enrollment sits in the bucket of its
// percentage. The worker counts an enrollment none of whose events gave its start on the day
// of its first event, which the records do not keep: such enrollments count on no day here.
func (db *DB) RebuildRollups(ctx context.Context, siteID int64) error {
	day := func(col string) string { return "substr(" + col + ", 1, 10)" } // SQLite keeps UTC text
	if db.postgres {
		day = func(col string) string { return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')" }
	}
	statements := []string{
		"DELETE FROM lesson_stats WHERE site_id = @site",
		"DELETE FROM progress_buckets WHERE site_id = @site",
		"DELETE FROM daily_stats WHERE site_id = @site",
		`INSERT INTO lesson_stats (site_id, lesson_id, course_id, learners)
			SELECT @site, lesson_id, MIN(course_id), COUNT(DISTINCT learner_id) FROM learner_events
			WHERE site_id = @site AND kind = 'lesson' AND lesson_id IS NOT NULL GROUP BY lesson_id`,
		`INSERT INTO progress_buckets (site_id, course_id, bucket, enrollments)
			SELECT @site, course_id, b, COUNT(*) FROM (SELECT course_id,
				CASE WHEN percent >= 100 THEN 100 WHEN percent < 0 THEN 0 ELSE CAST(FLOOR(percent) AS INTEGER) END AS b
				FROM enrollments WHERE site_id = @site) e GROUP BY course_id, b`,
		`INSERT INTO daily_stats (site_id, day, steps, completions, enrollments)
			SELECT @site, day, SUM(steps), SUM(completions), SUM(enrollments) FROM (
				SELECT ` + day("occurred_at") + ` AS day, 1 AS steps, 0 AS completions, 0 AS enrollments FROM learner_events
					WHERE site_id = @site AND kind = 'lesson' AND lesson_id IS NOT NULL
				UNION ALL SELECT ` + day("completed_at") + `, 0, 1, 0 FROM enrollments WHERE site_id = @site AND completed_at IS NOT NULL
				UNION ALL SELECT ` + day("enrolled_at") + `, 0, 0, 1 FROM enrollments WHERE site_id = @site AND enrolled_at IS NOT NULL
			) d GROUP BY day`,
	}
	err := db.tx(ctx, func(tx *gorm.DB) error {
		for _, q := range statements {
			if err := tx.Exec(q, sql.Named("site", siteID)).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return dbError(err, "rollups")
}
