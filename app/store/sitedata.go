package store

import (
	"time"

	"gorm.io/gorm"
)

// SiteTx is the worker's view of one site's records inside a transaction. Every statement
// it runs is scoped to its site: no caller can forget (DESIGN decision 3).
type SiteTx struct {
	db     *DB
	tx     *gorm.DB
	siteID int64
}

// SiteID is the site this view is bound to.
func (s *SiteTx) SiteID() int64 { return s.siteID }

// Learner, Course, Chapter and Lesson are a site's records as events describe them.
type Learner struct {
	ID                         int64
	Email, FirstName, LastName string
}

type Lesson struct {
	ID, CourseID, ChapterID int64
	Name, Type              string
	Position                int
}

// The upserts below take an event's time: a record changes only when the event is at least
// as new as what the record holds, so a late older event never overwrites newer data.

func (s *SiteTx) UpsertLearner(l Learner, at time.Time) error {
	return s.tx.Exec(`INSERT INTO learners (site_id, id, email, first_name, last_name, seen_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT (site_id, id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
		last_name = excluded.last_name, seen_at = excluded.seen_at WHERE learners.seen_at <= excluded.seen_at`,
		s.siteID, l.ID, l.Email, l.FirstName, l.LastName, at.UTC()).Error
}

func (s *SiteTx) UpsertCourse(id int64, name string, at time.Time) error {
	return s.tx.Exec(`INSERT INTO courses (site_id, id, name, seen_at) VALUES (?,?,?,?)
		ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at
		WHERE courses.seen_at <= excluded.seen_at AND excluded.name <> ''`,
		s.siteID, id, name, at.UTC()).Error
}

func (s *SiteTx) UpsertChapter(id, courseID int64, name string, at time.Time) error {
	return s.tx.Exec(`INSERT INTO chapters (site_id, id, course_id, name, seen_at) VALUES (?,?,?,?,?)
		ON CONFLICT (site_id, id) DO UPDATE SET course_id = excluded.course_id, name = excluded.name, seen_at = excluded.seen_at
		WHERE chapters.seen_at <= excluded.seen_at`,
		s.siteID, id, courseID, name, at.UTC()).Error
}

func (s *SiteTx) UpsertLesson(l Lesson, at time.Time) error {
	var chapter any
	if l.ChapterID != 0 {
		chapter = l.ChapterID
	}
	return s.tx.Exec(`INSERT INTO lessons (site_id, id, course_id, chapter_id, name, position, lesson_type, seen_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (site_id, id) DO UPDATE SET course_id = excluded.course_id, chapter_id = excluded.chapter_id,
		name = excluded.name, position = excluded.position, lesson_type = excluded.lesson_type, seen_at = excluded.seen_at
		WHERE lessons.seen_at <= excluded.seen_at`,
		s.siteID, l.ID, l.CourseID, chapter, l.Name, l.Position, l.Type, at.UTC()).Error
}

// Enrollment is what one event says of an enrollment. Nil fields say nothing.
type Enrollment struct {
	ID, LearnerID, CourseID int64
	Percent                 *float64
	EnrolledAt              *time.Time // set by enrollment.created
	StartedAt, ActivatedAt  *time.Time
	CompletedAt             *time.Time
	ExpiryDate              *time.Time
	FreeTrial               bool
	Activity                bool // the event is learner activity (progress, a lesson)
}

// ApplyEnrollment merges what an event at time at says into the enrollment. The percentage
// follows the newest event; activity only moves forward; dates are kept once known.
func (s *SiteTx) ApplyEnrollment(e Enrollment, at time.Time) error {
	at = at.UTC()
	var percentAt, activity any
	if e.Percent != nil {
		percentAt = at
	}
	if e.Activity {
		activity = at
	}
	before, err := s.enrollmentState(e.ID)
	if err != nil {
		return err
	}
	err = s.tx.Exec(`INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, percent_at, enrolled_at,
			started_at, activated_at, completed_at, expiry_date, free_trial, last_activity_at, seen_at)
		VALUES (?,?,?,?,COALESCE(CAST(? AS DOUBLE PRECISION), 0),?,?,?,?,?,?,?,?,?)
		ON CONFLICT (site_id, id) DO UPDATE SET
			percent = CASE WHEN excluded.percent_at IS NOT NULL AND (enrollments.percent_at IS NULL OR enrollments.percent_at <= excluded.percent_at)
				THEN excluded.percent ELSE enrollments.percent END,
			percent_at = CASE WHEN excluded.percent_at IS NOT NULL AND (enrollments.percent_at IS NULL OR enrollments.percent_at <= excluded.percent_at)
				THEN excluded.percent_at ELSE enrollments.percent_at END,
			enrolled_at = COALESCE(enrollments.enrolled_at, excluded.enrolled_at),
			started_at = COALESCE(enrollments.started_at, excluded.started_at),
			activated_at = COALESCE(enrollments.activated_at, excluded.activated_at),
			completed_at = CASE WHEN enrollments.seen_at <= excluded.seen_at THEN COALESCE(excluded.completed_at, enrollments.completed_at)
				ELSE COALESCE(enrollments.completed_at, excluded.completed_at) END,
			expiry_date = CASE WHEN enrollments.seen_at <= excluded.seen_at THEN excluded.expiry_date ELSE enrollments.expiry_date END,
			free_trial = CASE WHEN enrollments.seen_at <= excluded.seen_at THEN excluded.free_trial ELSE enrollments.free_trial END,
			last_activity_at = CASE WHEN enrollments.last_activity_at IS NULL OR enrollments.last_activity_at < excluded.last_activity_at
				THEN COALESCE(excluded.last_activity_at, enrollments.last_activity_at) ELSE enrollments.last_activity_at END,
			seen_at = CASE WHEN enrollments.seen_at < excluded.seen_at THEN excluded.seen_at ELSE enrollments.seen_at END`,
		s.siteID, e.ID, e.LearnerID, e.CourseID, e.Percent, percentAt, utc(e.EnrolledAt), utc(e.StartedAt), utc(e.ActivatedAt),
		utc(e.CompletedAt), utc(e.ExpiryDate), e.FreeTrial, activity, at).Error
	if err != nil {
		return err
	}
	after, err := s.enrollmentState(e.ID)
	if err != nil {
		return err
	}
	return s.countEnrollment(e.CourseID, before, after, at)
}

func utc(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}
