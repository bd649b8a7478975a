package store

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

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
	Imported                bool // read from Thinkific's REST API: Percent is recorded as imported, as of the event time
}

// EnrollmentState is what an enrollment holds between two events: what the rollups and
// the pairing read, and the event time (SeenAt) that decides whose completion date wins.
type EnrollmentState struct {
	Percent     float64
	PercentAt   *time.Time // event time of Percent
	CompletedAt *time.Time
	EnrolledAt  *time.Time
	SeenAt      time.Time // event time of the newest event applied
	// What Thinkific's REST API said the percentage was, as of its updated_at.
	ImportedPercent *float64
	ImportedAsOf    *time.Time
}

// FromImport reports whether the enrollment's percentage is the import's reading: no
// event newer than it has moved it.
func (st *EnrollmentState) FromImport() bool {
	return st != nil && st.PercentAt != nil && st.ImportedAsOf != nil && st.ImportedPercent != nil && st.PercentAt.Equal(*st.ImportedAsOf)
}

// after is the state once an event at time at is merged in, by the rules the enrollments
// upsert (writeEnrollments) applies: the percentage follows the newest event, dates are
// kept once known, and a completion date is replaced only by a newer event's.
func (st *EnrollmentState) after(e Enrollment, at time.Time) *EnrollmentState {
	if st == nil {
		st = &EnrollmentState{SeenAt: at}
	}
	out := *st
	if e.Imported && e.Percent != nil && (st.ImportedAsOf == nil || !at.Before(*st.ImportedAsOf)) {
		out.ImportedPercent, out.ImportedAsOf = e.Percent, &at
	}
	if e.Percent != nil && (st.PercentAt == nil || !at.Before(*st.PercentAt)) {
		out.Percent, out.PercentAt = *e.Percent, &at
	}
	out.EnrolledAt = cmp.Or(st.EnrolledAt, e.EnrolledAt)
	if !at.Before(st.SeenAt) {
		out.CompletedAt, out.SeenAt = cmp.Or(e.CompletedAt, st.CompletedAt), at
	} else {
		out.CompletedAt = cmp.Or(st.CompletedAt, e.CompletedAt)
	}
	return &out
}

// enrollmentWrite is what a batch writes to one enrollment: its events folded in the order
// they were applied.
type enrollmentWrite struct {
	learner, course        int64 // used only when the row is new
	startedAt, activatedAt *time.Time
	expiryDate             *time.Time
	freeTrial              bool
	seen                   time.Time // newest event time folded in; its expiry and trial flag stand
	activity               *time.Time
	state                  *EnrollmentState
	importedPercent        *float64 // what REST said, as of importedAsOf
	importedAsOf           *time.Time
}

// ApplyEnrollment merges what an event at time at says into the enrollment, and returns
// what the enrollment held before (nil when it is new or only its activity moved). The
// merge runs here, from the state the batch read (Prefetch) or left; the enrollment is
// locked (Lock), so nothing else changes it meanwhile. Each enrollment is written once,
// with the batch.
func (s *SiteTx) ApplyEnrollment(e Enrollment, at time.Time) (*EnrollmentState, error) {
	at = at.UTC()
	key := EnrollmentKey{s.siteID, e.ID}
	before, err := s.w.enrollment(key)
	if err != nil {
		return nil, err
	}
	activityOnly := e.Percent == nil && e.EnrolledAt == nil && e.CompletedAt == nil && e.StartedAt == nil && e.ActivatedAt == nil
	if activityOnly && before != nil {
		s.buf.touch(key, at) // the enrollment exists: its activity moves with the batch
		return nil, nil
	}
	after := before.after(e, at)
	w := s.w.enrollmentWrites[key]
	if w == nil {
		w = &enrollmentWrite{learner: e.LearnerID, course: e.CourseID, expiryDate: e.ExpiryDate, freeTrial: e.FreeTrial, seen: at}
		s.w.enrollmentWrites[key] = w
	} else if !at.Before(w.seen) {
		w.expiryDate, w.freeTrial, w.seen = e.ExpiryDate, e.FreeTrial, at
	}
	w.startedAt, w.activatedAt = cmp.Or(w.startedAt, e.StartedAt), cmp.Or(w.activatedAt, e.ActivatedAt)
	if e.Activity && (w.activity == nil || at.After(*w.activity)) {
		w.activity = &at
	}
	if e.Imported && e.Percent != nil && (w.importedAsOf == nil || !at.Before(*w.importedAsOf)) {
		w.importedPercent, w.importedAsOf = e.Percent, &at
	}
	w.state = after
	s.w.states[key] = after
	if before == nil {
		s.buf.journeys[JourneyKey{s.siteID, e.LearnerID, e.CourseID}] = true // a new enrollment's next lesson is counted
	}
	if f := s.w.journeys[JourneyKey{s.siteID, e.LearnerID, e.CourseID}]; f != nil {
		f.note(after)
	}
	s.countEnrollment(e.CourseID, before, after, at)
	return before, nil
}

// enrollment is the state of an enrollment as the batch has it: read by Prefetch, or now.
func (w *WorkTx) enrollment(key EnrollmentKey) (*EnrollmentState, error) {
	if st, ok := w.states[key]; ok {
		return st, nil
	}
	var rows []EnrollmentState
	err := w.tx.Raw("SELECT percent, percent_at, completed_at, enrolled_at, seen_at, imported_percent, imported_as_of FROM enrollments WHERE site_id = ? AND id = ?",
		key.SiteID, key.ID).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	w.states[key] = nil
	if len(rows) > 0 {
		w.states[key] = &rows[0]
	}
	return w.states[key], nil
}

// writeEnrollments writes the enrollments the batch changed, in key order, in one
// statement. The merge rules are those of EnrollmentState.after, so that an older event
// written later (by a batch that read before this one committed) still cannot overwrite
// newer data.
func (w *WorkTx) writeEnrollments() error {
	if len(w.enrollmentWrites) == 0 {
		return nil
	}
	var sb strings.Builder
	var args []any
	keys := slices.SortedFunc(maps.Keys(w.enrollmentWrites), EnrollmentKey.compare)
	sb.WriteString(`INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, percent_at, enrolled_at,
			started_at, activated_at, completed_at, expiry_date, free_trial, last_activity_at, seen_at, imported_percent, imported_as_of) `)
	if w.db.postgres {
		// As arrays: one statement PostgreSQL plans once, whatever the batch's size.
		var c struct {
			sites, ids, learners, courses                 []int64
			percents                                      []float64
			percentAt, enrolled, started, activated, done []*time.Time
			expiry, activity, importedAsOf                []*time.Time
			seen                                          []time.Time
			trial                                         []bool
			imported                                      []*float64
		}
		for _, k := range keys {
			e := w.enrollmentWrites[k]
			c.sites, c.ids, c.learners, c.courses = append(c.sites, k.SiteID), append(c.ids, k.ID), append(c.learners, e.learner), append(c.courses, e.course)
			c.percents, c.percentAt, c.enrolled = append(c.percents, e.state.Percent), append(c.percentAt, utcPtr(e.state.PercentAt)), append(c.enrolled, utcPtr(e.state.EnrolledAt))
			c.started, c.activated, c.done = append(c.started, utcPtr(e.startedAt)), append(c.activated, utcPtr(e.activatedAt)), append(c.done, utcPtr(e.state.CompletedAt))
			c.expiry, c.trial, c.activity = append(c.expiry, utcPtr(e.expiryDate)), append(c.trial, e.freeTrial), append(c.activity, utcPtr(e.activity))
			c.seen, c.imported, c.importedAsOf = append(c.seen, e.seen.UTC()), append(c.imported, e.importedPercent), append(c.importedAsOf, utcPtr(e.importedAsOf))
		}
		sb.WriteString(`SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::timestamptz[], $7::timestamptz[],
			$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::bool[], $13::timestamptz[], $14::timestamptz[],
			$15::float8[], $16::timestamptz[])`)
		args = []any{c.sites, c.ids, c.learners, c.courses, c.percents, c.percentAt, c.enrolled, c.started, c.activated, c.done,
			c.expiry, c.trial, c.activity, c.seen, c.imported, c.importedAsOf}
	} else {
		sb.WriteString("VALUES ")
		for i, k := range keys {
			e := w.enrollmentWrites[k]
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, k.SiteID, k.ID, e.learner, e.course, e.state.Percent, utc(e.state.PercentAt), utc(e.state.EnrolledAt),
				utc(e.startedAt), utc(e.activatedAt), utc(e.state.CompletedAt), utc(e.expiryDate), e.freeTrial, utc(e.activity), e.seen,
				e.importedPercent, utc(e.importedAsOf))
		}
	}
	sb.WriteString(` ON CONFLICT (site_id, id) DO UPDATE SET
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
			seen_at = CASE WHEN enrollments.seen_at < excluded.seen_at THEN excluded.seen_at ELSE enrollments.seen_at END,
			imported_percent = CASE WHEN excluded.imported_as_of IS NOT NULL AND (enrollments.imported_as_of IS NULL OR enrollments.imported_as_of <= excluded.imported_as_of)
				THEN excluded.imported_percent ELSE enrollments.imported_percent END,
			imported_as_of = CASE WHEN excluded.imported_as_of IS NOT NULL AND (enrollments.imported_as_of IS NULL OR enrollments.imported_as_of <= excluded.imported_as_of)
				THEN excluded.imported_as_of ELSE enrollments.imported_as_of END`)
	clear(w.enrollmentWrites)
	return w.tx.Exec(sb.String(), args...).Error
}

// EnrollmentKey names an enrollment: Thinkific's enrollment ids are unique within a site.
type EnrollmentKey struct{ SiteID, ID int64 }

func (k EnrollmentKey) compare(o EnrollmentKey) int {
	return cmp.Or(cmp.Compare(k.SiteID, o.SiteID), cmp.Compare(k.ID, o.ID))
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func utc(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}
