package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// How Stride reads an enrollment, so that every page, export and figure counts the same:
//
//   - completed: completed_at set or at 100 %.
//   - not started: no progress and no lesson yet, however old. Neither started_at, a
//     percentage above 0, nor a lesson completion of the learner in the course (has_lesson,
//     kept on the enrollment: see nextlesson.go). The import
//     stamps last_activity_at with Thinkific's updated_at even at 0 %, so that column alone
//     cannot tell.
//   - stalled: started, unfinished, idle for at least the site's threshold (Settings).
//   - in progress: the rest.
//
// An enrollment is idle since its last activity, or since enrolling when there was none (a
// not-started one never had any, whatever the import stamped). Needs attention is every
// unfinished enrollment idle for at least the threshold: the stalled ones, and those not
// started that many days after enrolling.
const (
	doneSQL       = `(e.completed_at IS NOT NULL OR e.percent >= 100)`
	notStartedSQL = `(e.percent = 0 AND e.started_at IS NULL AND NOT e.has_lesson)`
	idleFromSQL   = `CASE WHEN ` + notStartedSQL + ` THEN COALESCE(e.enrolled_at, e.last_activity_at)
		ELSE COALESCE(e.last_activity_at, e.enrolled_at) END`
	// statusSQL classifies an enrollment e; @stalled is the site's stalled cut-off.
	statusSQL = `CASE WHEN ` + doneSQL + ` THEN 'completed' WHEN ` + notStartedSQL + ` THEN 'not started'
		WHEN COALESCE(e.last_activity_at, e.enrolled_at) <= @stalled THEN 'stalled' ELSE 'in progress' END`
	// idleSQL keeps unfinished enrollments idle since @idle or before. Its first two lines
	// only let the database find them by the indexes of migration 00014 (enrollments_idle,
	// enrollments_unstarted); the last is the rule.
	idleSQL = `e.completed_at IS NULL AND e.percent < 100
		AND (COALESCE(e.last_activity_at, e.enrolled_at) <= @idle OR (e.percent = 0 AND e.started_at IS NULL AND e.enrolled_at <= @idle))
		AND ` + idleFromSQL + ` <= @idle`
)

// lessonColumnsSQL names the last lesson an enrollment e's learner completed in its course
// (by event time) and the next one: the first of the curriculum they have not completed,
// none once the course is completed. The last is a correlated subquery, so read only for
// the rows shown.
const lessonColumnsSQL = `
	(SELECT le.lesson_id FROM learner_events le WHERE le.site_id = e.site_id AND le.learner_id = e.learner_id
		AND le.course_id = e.course_id AND le.kind = 'lesson' ORDER BY le.occurred_at DESC, le.id DESC LIMIT 1) AS last_lesson_id,
	CASE WHEN ` + doneSQL + ` THEN NULL ELSE e.next_lesson_id END AS next_lesson_id`

// LearnerFilter says which enrollments a learner list holds. Every field is optional.
type LearnerFilter struct {
	CourseID int64  // 0: every course
	Status   string // NotStarted, InProgress, Stalled, Completed; "": any
	IdleDays *int   // unfinished enrollments idle at least that many whole days; nil: any
	Cohort   string // "2026-11": enrolled in that UTC month
	Search   string // part of an email or name
}

// CohortMonth is the UTC month a cohort string names, and the next one.
func CohortMonth(s string) (from, to time.Time, err error) {
	from, err = time.Parse("2006-01", s)
	if err != nil {
		return from, to, fmt.Errorf("cohort must be a month, as YYYY-MM")
	}
	return from, from.AddDate(0, 1, 0), nil
}

// where is f as SQL over enrollments e joined to learners l, with its named arguments.
func (v *SiteView) where(f LearnerFilter, now time.Time, st Settings) (string, []any, error) {
	w := "e.site_id = @site"
	args := []any{sql.Named("site", v.siteID), sql.Named("stalled", now.Add(-st.StalledAfter()).UTC())}
	if f.CourseID > 0 {
		w += " AND e.course_id = @course"
		args = append(args, sql.Named("course", f.CourseID))
	}
	if f.Status != "" {
		w += " AND " + statusSQL + " = @status"
		args = append(args, sql.Named("status", f.Status))
	}
	if f.IdleDays != nil {
		w += " AND " + idleSQL
		args = append(args, sql.Named("idle", now.Add(-time.Duration(*f.IdleDays)*24*time.Hour).UTC()))
	}
	if f.Cohort != "" {
		from, to, err := CohortMonth(f.Cohort)
		if err != nil {
			return "", nil, err
		}
		w += " AND e.enrolled_at >= @cohort_from AND e.enrolled_at < @cohort_to"
		args = append(args, sql.Named("cohort_from", from), sql.Named("cohort_to", to))
	}
	if f.Search != "" {
		w += " AND (LOWER(l.email) LIKE @search OR LOWER(l.first_name || ' ' || l.last_name) LIKE @search)"
		args = append(args, sql.Named("search", "%"+escapeLike(f.Search)+"%"))
	}
	return w, args, nil
}

// learnerSelect reads the columns of LearnerRow for the enrollments %[1]s picks (their
// site_id and id, in any order): the lessons are read for those rows only. MATERIALIZED
// keeps the planner from merging the steps, which read the lessons of every enrollment of
// the site before filtering them (30 s for learners.csv of 60,000 enrollments).
const learnerSelect = `WITH x AS MATERIALIZED (%[1]s),
	y AS MATERIALIZED (SELECT e.site_id, e.id, x.total, ` + lessonColumnsSQL + `
		FROM x JOIN enrollments e ON e.site_id = x.site_id AND e.id = x.id)
	SELECT e.id AS enrollment_id, e.learner_id, COALESCE(l.email, '') AS email,
		COALESCE(l.first_name, '') AS first_name, COALESCE(l.last_name, '') AS last_name,
		e.course_id, COALESCE(c.name, '') AS course, e.percent, e.enrolled_at, e.last_activity_at,
		` + statusSQL + ` AS status,
		y.total, y.last_lesson_id, COALESCE(ll.name, '') AS last_lesson, y.next_lesson_id, COALESCE(nl.name, '') AS next_lesson
	FROM y JOIN enrollments e ON e.site_id = y.site_id AND e.id = y.id
	LEFT JOIN learners l ON l.site_id = e.site_id AND l.id = e.learner_id
	LEFT JOIN courses c ON c.site_id = e.site_id AND c.id = e.course_id
	LEFT JOIN lessons ll ON ll.site_id = e.site_id AND ll.id = y.last_lesson_id
	LEFT JOIN lessons nl ON nl.site_id = e.site_id AND nl.id = y.next_lesson_id`

// pick selects the site_id and id of the enrollments where w holds, and how many they are
// in all (before any LIMIT), so that a page reads them once.
func pick(w string) string {
	return "SELECT e.site_id, e.id, COUNT(*) OVER () AS total FROM enrollments e LEFT JOIN learners l ON l.site_id = e.site_id AND l.id = e.learner_id WHERE " + w
}

// NeedsAttention counts the site's enrollments that need attention: unfinished and idle
// for at least the site's threshold.
func (v *SiteView) NeedsAttention(ctx context.Context, now time.Time) (int64, error) {
	st, err := v.Settings(ctx)
	if err != nil {
		return 0, err
	}
	w, args, _ := v.where(LearnerFilter{IdleDays: &st.StalledDays}, now, st)
	var n int64
	err = v.db.reader(ctx).Raw("SELECT COUNT(*) FROM enrollments e WHERE "+w, args...).Scan(&n).Error
	return n, dbError(err, "needs attention")
}

// EachLearner streams the enrollments f keeps, by course and enrollment, for learners.csv.
func (v *SiteView) EachLearner(ctx context.Context, f LearnerFilter, now time.Time, fn func(*LearnerRow) error) error {
	st, err := v.Settings(ctx)
	if err != nil {
		return err
	}
	w, args, err := v.where(f, now, st)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(learnerSelect, pick(w)) + " ORDER BY e.course_id, e.id"
	return v.each(ctx, q, args, func(rows *sql.Rows) error {
		var r LearnerRow
		if err := v.db.read.ScanRows(rows, &r); err != nil {
			return err
		}
		r.setIdle(now)
		return fn(&r)
	})
}

// setIdle sets since when r has been idle (as idleFromSQL) and how many whole days that
// is at now.
func (r *LearnerRow) setIdle(now time.Time) {
	switch {
	case r.Status == Completed:
		return
	case r.Status == NotStarted && r.EnrolledAt != nil, r.LastActivityAt == nil:
		r.IdleFrom = r.EnrolledAt
	default:
		r.IdleFrom = r.LastActivityAt
	}
	if r.IdleFrom == nil {
		return
	}
	d := int64(math.Floor(now.Sub(*r.IdleFrom).Hours() / 24))
	r.DaysIdle = &d
}

// Name is the learner's "first last".
func (r *LearnerRow) Name() string {
	switch {
	case r.FirstName == "":
		return r.LastName
	case r.LastName == "":
		return r.FirstName
	}
	return r.FirstName + " " + r.LastName
}
