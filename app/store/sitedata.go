package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SiteTx is the worker's view of one site's records inside a transaction. Every statement
// it runs is scoped to its site: no caller can forget.
type SiteTx struct {
	db     *DB
	tx     *gorm.DB
	siteID int64
	buf    *buffer // writes to shared records, sent with the batch
	w      *WorkTx
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

// The records below are written with the batch (see WorkTx), each only by an event at
// least as new as what it holds, so a late older event never overwrites newer data.

func (s *SiteTx) key(ids ...any) rowKey { return rowKey{site: s.siteID, id: fmt.Sprint(ids...)} }

func (s *SiteTx) UpsertLearner(l Learner, at time.Time) {
	s.buf.put("learners", s.key(l.ID), at, s.siteID, l.ID, l.Email, l.FirstName, l.LastName, at.UTC())
}

func (s *SiteTx) UpsertCourse(id int64, name string, at time.Time) {
	if name != "" { // enrollment events may name the course, or only give its id
		s.buf.put("courses", s.key(id), at, s.siteID, id, name, at.UTC())
	}
}

func (s *SiteTx) UpsertChapter(id, courseID int64, name string, at time.Time) {
	s.buf.put("chapters", s.key(id), at, s.siteID, id, courseID, name, at.UTC())
}

func (s *SiteTx) UpsertLesson(l Lesson, at time.Time) {
	var chapter any
	if l.ChapterID != 0 {
		chapter = l.ChapterID
	}
	s.buf.put("lessons", s.key(l.ID), at, s.siteID, l.ID, l.CourseID, chapter, l.Name, l.Position, l.Type, at.UTC())
}

// LearnTenant records the site's Thinkific tenant_id, once, unless another site has it.
func (s *SiteTx) LearnTenant(tenantID string) { s.buf.tenants[s.siteID] = tenantID }

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
// follows the newest event; activity only moves forward; dates are kept once known. It
// returns what the enrollment held before (nil when it is new or only its activity moved).
func (s *SiteTx) ApplyEnrollment(e Enrollment, at time.Time) (*EnrollmentState, error) {
	at = at.UTC()
	var percentAt, activity any
	if e.Percent != nil {
		percentAt = at
	}
	if e.Activity {
		activity = at
	}
	key := [2]int64{s.siteID, e.ID}
	cached, known := s.w.cached(key)
	activityOnly := e.Percent == nil && e.EnrolledAt == nil && e.CompletedAt == nil && e.StartedAt == nil && e.ActivatedAt == nil
	if activityOnly && known && cached != nil {
		s.buf.touch(key, at) // the enrollment exists: its activity moves with the batch
		return nil, nil
	}
	if activityOnly && !known {
		// Only activity (a lesson completed): one statement when the enrollment exists.
		res := s.tx.Exec(`UPDATE enrollments SET last_activity_at = CASE WHEN last_activity_at IS NULL OR last_activity_at < ?
			THEN ? ELSE last_activity_at END WHERE site_id = ? AND id = ?`, at, at, s.siteID, e.ID)
		if res.Error != nil || res.RowsAffected > 0 {
			return nil, res.Error
		}
	}
	before := cached
	if !known {
		var err error
		if before, err = s.EnrollmentState(e.ID); err != nil {
			return nil, err
		}
	}
	var after []EnrollmentState
	err := s.tx.Raw(`INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, percent_at, enrolled_at,
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
			seen_at = CASE WHEN enrollments.seen_at < excluded.seen_at THEN excluded.seen_at ELSE enrollments.seen_at END
		RETURNING percent, percent_at, completed_at, enrolled_at`,
		s.siteID, e.ID, e.LearnerID, e.CourseID, e.Percent, percentAt, utc(e.EnrolledAt), utc(e.StartedAt), utc(e.ActivatedAt),
		utc(e.CompletedAt), utc(e.ExpiryDate), e.FreeTrial, activity, at).Scan(&after).Error
	if err != nil || len(after) == 0 {
		return nil, err
	}
	s.countEnrollment(e.CourseID, before, &after[0], at)
	s.w.remember(key, &after[0])
	return before, nil
}

func utc(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// cached is the batch's prefetched state of an enrollment; known says whether there is one.
func (w *WorkTx) cached(key [2]int64) (*EnrollmentState, bool) {
	if w == nil || w.states == nil {
		return nil, false
	}
	st, ok := w.states[key]
	return st, ok
}

func (w *WorkTx) remember(key [2]int64, st *EnrollmentState) {
	if w != nil && w.states != nil {
		w.states[key] = st
	}
}
