package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Learner statuses in a course (see attention.go for what each means).
const (
	NotStarted = "not started"
	InProgress = "in progress"
	Completed  = "completed"
	Stalled    = "stalled" // started, unfinished, idle for the site's threshold (Settings.StalledDays)
)

// Statuses are the learner statuses in the order pages list them.
var Statuses = []string{NotStarted, InProgress, Stalled, Completed}

// LearnerRow is an enrollment in a learner list, with its learner and where they stand.
type LearnerRow struct {
	EnrollmentID   int64
	LearnerID      int64
	Email          string
	FirstName      string
	LastName       string
	CourseID       int64
	Course         string
	Percent        float64
	EnrolledAt     *time.Time
	LastActivityAt *time.Time
	Status         string
	IdleFrom       *time.Time // since when it is idle; nil once completed
	DaysIdle       *int64     // whole days idle; nil once completed
	LastLessonID   *int64     // the latest lesson completed, by event time
	LastLesson     string
	NextLessonID   *int64 // the first lesson of the curriculum not completed; nil once completed
	NextLesson     string
	Total          int64 `gorm:"->"` // how many rows the list holds in all, as the page query counts them
}

// LearnerQuery says which page of a learner list to read.
type LearnerQuery struct {
	LearnerFilter
	Sort string // progress, activity, email, idle (default activity)
	Desc bool
	Page int // from 1
	Size int
}

// learnerSorts order learner lists: progress (closest to finishing first, descending),
// activity, email, idle (when it became idle: the most recently stalled first, descending).
var learnerSorts = map[string]string{"progress": "e.percent", "activity": "e.last_activity_at", "email": "l.email",
	"idle": "CASE WHEN " + doneSQL + " THEN NULL ELSE " + idleFromSQL + " END"}

// Learners reads one page of a learner list and how many enrollments it holds in all.
func (v *SiteView) Learners(ctx context.Context, q LearnerQuery, now time.Time) ([]LearnerRow, int64, error) {
	st, err := v.Settings(ctx)
	if err != nil {
		return nil, 0, err
	}
	w, args, err := v.where(q.LearnerFilter, now, st)
	if err != nil {
		return nil, 0, err
	}
	g := v.db.reader(ctx)
	col, ok := learnerSorts[q.Sort]
	if !ok {
		col = learnerSorts["activity"]
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	size := max(1, min(q.Size, 200))
	page := max(1, q.Page)
	order := fmt.Sprintf("%s %s NULLS LAST, e.id", col, dir)
	var out []LearnerRow
	err = g.Raw(fmt.Sprintf(learnerSelect, fmt.Sprintf("%s ORDER BY %s LIMIT %d OFFSET %d", pick(w), order, size, (page-1)*size))+
		" ORDER BY "+order, args...).Scan(&out).Error
	if err != nil {
		return nil, 0, dbError(err, "learners")
	}
	var total int64
	if len(out) > 0 {
		total = out[0].Total
	} else if page > 1 { // past the last page: count apart
		if err := g.Raw("SELECT COUNT(*) FROM ("+pick(w)+") x", args...).Scan(&total).Error; err != nil {
			return nil, 0, dbError(err, "learners")
		}
	}
	for i := range out {
		out[i].setIdle(now)
	}
	return out, total, nil
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' {
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = append(out, r)
	}
	return string(out)
}

// LearnerProfile is a learner and their enrollments.
type LearnerProfile struct {
	ID                         int64
	Email, FirstName, LastName string
	Enrollments                []LearnerEnrollment
}

// LearnerEnrollment is one course of a learner.
type LearnerEnrollment struct {
	CourseID        int64
	Course          string
	Percent         float64
	LastActivityAt  *time.Time
	CompletedAt     *time.Time
	ImportedPercent *float64   // what Thinkific's REST API said when the site was imported
	ImportedAsOf    *time.Time // the enrollment's updated_at in that answer
}

// Learner reads a learner of the site.
func (v *SiteView) Learner(ctx context.Context, id int64) (*LearnerProfile, error) {
	g := v.db.reader(ctx)
	var rows []Learner
	if err := g.Raw("SELECT id, email, first_name, last_name FROM learners WHERE site_id = ? AND id = ?", v.siteID, id).Scan(&rows).Error; err != nil {
		return nil, dbError(err, "learner")
	}
	if len(rows) == 0 {
		return nil, notFound("learner")
	}
	p := &LearnerProfile{ID: rows[0].ID, Email: rows[0].Email, FirstName: rows[0].FirstName, LastName: rows[0].LastName}
	err := g.Raw(`SELECT e.course_id, COALESCE(c.name, '') AS course, e.percent, e.last_activity_at, e.completed_at,
			e.imported_percent, e.imported_as_of
		FROM enrollments e LEFT JOIN courses c ON c.site_id = e.site_id AND c.id = e.course_id
		WHERE e.site_id = ? AND e.learner_id = ? ORDER BY e.last_activity_at DESC`, v.siteID, id).Scan(&p.Enrollments).Error
	return p, dbError(err, "enrollments")
}

// Step is one learner step with the names of what it refers to.
type Step struct {
	OccurredAt    time.Time
	LearnerID     int64
	Email         string
	CourseID      int64
	Course        string
	ChapterID     *int64
	Chapter       string
	LessonID      *int64
	Lesson        string
	PercentBefore *float64
	PercentAfter  *float64
}

const stepSelect = `SELECT s.occurred_at, s.learner_id, COALESCE(l.email, '') AS email, s.course_id, COALESCE(c.name, '') AS course,
		s.chapter_id, COALESCE(ch.name, '') AS chapter, s.lesson_id, COALESCE(ls.name, '') AS lesson, s.percent_before, s.percent_after
	FROM steps s
	LEFT JOIN learners l ON l.site_id = s.site_id AND l.id = s.learner_id
	LEFT JOIN courses c ON c.site_id = s.site_id AND c.id = s.course_id
	LEFT JOIN chapters ch ON ch.site_id = s.site_id AND ch.id = s.chapter_id
	LEFT JOIN lessons ls ON ls.site_id = s.site_id AND ls.id = s.lesson_id`

// Timeline reads a learner's steps, newest first.
func (v *SiteView) Timeline(ctx context.Context, learnerID int64, limit int) ([]Step, error) {
	var out []Step
	err := v.db.reader(ctx).Raw(stepSelect+` WHERE s.site_id = ? AND s.learner_id = ? ORDER BY s.occurred_at DESC LIMIT ?`,
		v.siteID, learnerID, limit).Scan(&out).Error
	return out, dbError(err, "timeline")
}

// EachStep streams the site's steps in time order (a course's only, when courseID > 0).
func (v *SiteView) EachStep(ctx context.Context, courseID int64, fn func(*Step) error) error {
	q, args := stepSelect+" WHERE s.site_id = ?", []any{v.siteID}
	if courseID > 0 {
		q, args = q+" AND s.course_id = ?", append(args, courseID)
	}
	return v.each(ctx, q+" ORDER BY s.occurred_at", args, func(rows *sql.Rows) error {
		var s Step
		if err := v.db.read.ScanRows(rows, &s); err != nil {
			return err
		}
		return fn(&s)
	})
}

// EnrollmentRow is one enrollment for the export.
type EnrollmentRow struct {
	ID             int64
	LearnerID      int64
	Email          string
	CourseID       int64
	Course         string
	Percent        float64
	Status         string
	StartedAt      *time.Time
	ActivatedAt    *time.Time
	EnrolledAt     *time.Time
	CompletedAt    *time.Time
	LastActivityAt *time.Time
}

// Started is when the learner started: Thinkific's started_at, else when the enrollment
// was activated or created.
func (e *EnrollmentRow) Started() *time.Time {
	for _, t := range []*time.Time{e.StartedAt, e.ActivatedAt, e.EnrolledAt} {
		if t != nil {
			return t
		}
	}
	return nil
}

// EachEnrollment streams the site's enrollments (a course's only, when courseID > 0).
func (v *SiteView) EachEnrollment(ctx context.Context, courseID int64, now time.Time, fn func(*EnrollmentRow) error) error {
	q := `SELECT e.id, e.learner_id, COALESCE(l.email, '') AS email, e.course_id, COALESCE(c.name, '') AS course, e.percent,
			` + statusSQL + ` AS status, e.started_at, e.activated_at, e.enrolled_at, e.completed_at, e.last_activity_at
		FROM enrollments e
		LEFT JOIN learners l ON l.site_id = e.site_id AND l.id = e.learner_id
		LEFT JOIN courses c ON c.site_id = e.site_id AND c.id = e.course_id
		WHERE e.site_id = @site`
	st, err := v.Settings(ctx)
	if err != nil {
		return err
	}
	args := []any{sql.Named("stalled", now.Add(-st.StalledAfter()).UTC()), sql.Named("site", v.siteID)}
	if courseID > 0 {
		q, args = q+" AND e.course_id = @course", append(args, sql.Named("course", courseID))
	}
	return v.each(ctx, q+" ORDER BY e.course_id, e.id", args, func(rows *sql.Rows) error {
		var e EnrollmentRow
		if err := v.db.read.ScanRows(rows, &e); err != nil {
			return err
		}
		return fn(&e)
	})
}

func (v *SiteView) each(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := v.db.reader(ctx).Raw(q, args...).Rows()
	if err != nil {
		return dbError(err, "export")
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return dbError(rows.Err(), "export")
}
