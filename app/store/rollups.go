package store

import (
	"math"
	"time"
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
