package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// WorkTx is one worker transaction over a batch of claimed inbox rows (see BeginWork).
// Writes to records that many events share — learners, courses, chapters, lessons,
// counters — are gathered and written once per batch at the end, in key order, as are the
// batch's enrollments, so a batch costs a few statements per table and two workers never
// deadlock on a shared row.
type WorkTx struct {
	db    *DB
	tx    *gorm.DB
	now   time.Time
	batch *buffer
	// Halves are inserted together, enrollments read and written together.
	pending          []*Half                            // halves not yet inserted
	inserted         []*Half                            // halves the batch inserted together
	states           map[EnrollmentKey]*EnrollmentState // state; nil: no such enrollment
	enrollmentWrites map[EnrollmentKey]*enrollmentWrite // not yet written
	journeys         map[JourneyKey]*JourneyFacts       // read by PrefetchJourneys, kept up by ApplyEnrollment
}

// BeginWork begins a worker transaction. The caller claims rows (Claim), applies them,
// writes (Write), marks them processed (MarkProcessed) and commits; it defers Rollback,
// which undoes everything, shared writes included, unless Commit came first.
func (db *DB) BeginWork(ctx context.Context) (*WorkTx, error) {
	tx := db.gorm.WithContext(ctx).Begin()
	if tx.Error != nil {
		return nil, tx.Error
	}
	if err := db.takeWriter(tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	return &WorkTx{db: db, tx: tx, now: db.now(), batch: newBuffer(),
		states: map[EnrollmentKey]*EnrollmentState{}, enrollmentWrites: map[EnrollmentKey]*enrollmentWrite{},
		journeys: map[JourneyKey]*JourneyFacts{}}, nil
}

// Claim claims up to limit due rows. On PostgreSQL the rows are locked with SKIP LOCKED,
// so several workers in several processes take disjoint batches; a worker that dies
// releases its rows with its connection. On SQLite the transaction holds the write lock.
func (w *WorkTx) Claim(limit int) ([]InboxRow, error) {
	q := w.tx.Table("inbox").Select("id, site_id, event_id, topic, body, attempts, received_at").
		// The status is written into the SQL: the inbox_due index is partial on it, and a
		// generic plan with the status as a parameter could not use it.
		Where("status = '"+StatusAccepted+"' AND next_attempt_at <= ?", w.now).
		Order("next_attempt_at").Limit(limit) // the order the inbox_due index gives, so LIMIT stops early
	if w.db.postgres {
		q = q.Clauses(lockSkipLocked)
	}
	var rows []InboxRow
	err := q.Scan(&rows).Error
	return rows, err
}

// Commit makes the batch's work durable.
func (w *WorkTx) Commit() error { return w.tx.Commit().Error }

// Rollback undoes the batch; after Commit it does nothing.
func (w *WorkTx) Rollback() { w.tx.Rollback() }

// Site is a view of one site's records that writes shared records with the batch, for work
// done once per batch rather than per event.
func (w *WorkTx) Site(siteID int64) *SiteTx {
	return &SiteTx{tx: w.tx, siteID: siteID, db: w.db, buf: w.batch, w: w}
}

// Prefetch reads the state of the batch's enrollments, (site, enrollment id) pairs, in one
// query, so that applying each event does not read its enrollment again.
func (w *WorkTx) Prefetch(keys []EnrollmentKey) error {
	var sites, ids []int64
	for _, k := range keys {
		if _, dup := w.states[k]; dup {
			continue
		}
		w.states[k] = nil
		sites, ids = append(sites, k.SiteID), append(ids, k.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		SiteID, ID int64
		EnrollmentState
	}
	q, args := w.db.keyed(`SELECT e.site_id, e.id, e.percent, e.percent_at, e.completed_at, e.enrolled_at, e.seen_at,
		e.imported_percent, e.imported_as_of FROM enrollments e`, []string{"site_id", "id"}, sites, ids)
	err := w.tx.Raw(q, args...).Scan(&rows).Error
	for i := range rows {
		w.states[EnrollmentKey{rows[i].SiteID, rows[i].ID}] = &rows[i].EnrollmentState
	}
	return err
}

// JourneyKey names a learner's path through one course on a site: the key of pairing.
type JourneyKey struct{ SiteID, LearnerID, CourseID int64 }

// JourneyFacts is what a batch needs to settle a learner's first progress step in a course
// without looking for neighbours: whether any of the learner's enrollments in the course has
// held a percentage (only then can a progress step be stored), and when the earliest began.
type JourneyFacts struct {
	Progress bool
	Enrolled *time.Time
}

// note merges an enrollment's state, as an event leaves it, into the facts.
func (f *JourneyFacts) note(st *EnrollmentState) {
	if st.PercentAt != nil {
		f.Progress = true
	}
	if st.EnrolledAt != nil && (f.Enrolled == nil || st.EnrolledAt.Before(*f.Enrolled)) {
		f.Enrolled = st.EnrolledAt
	}
}

// PrefetchJourneys reads the facts of the batch's journeys from their enrollments, in one
// query.
func (w *WorkTx) PrefetchJourneys(keys []JourneyKey) error {
	var sites, learners, courses []int64
	for _, k := range keys {
		if _, dup := w.journeys[k]; dup {
			continue
		}
		w.journeys[k] = &JourneyFacts{}
		sites, learners, courses = append(sites, k.SiteID), append(learners, k.LearnerID), append(courses, k.CourseID)
	}
	if len(sites) == 0 {
		return nil
	}
	var rows []struct {
		SiteID, LearnerID, CourseID int64
		EnrollmentState
	}
	q, args := w.db.keyed(`SELECT e.site_id, e.learner_id, e.course_id, e.percent_at, e.enrolled_at FROM enrollments e`,
		[]string{"site_id", "learner_id", "course_id"}, sites, learners, courses)
	err := w.tx.Raw(q, args...).Scan(&rows).Error
	for i := range rows {
		r := &rows[i]
		w.journeys[JourneyKey{r.SiteID, r.LearnerID, r.CourseID}].note(&r.EnrollmentState)
	}
	return err
}

// keyed restricts query, a SELECT over a table aliased e, to the rows whose columns equal
// one of the tuples the columns of values give. On PostgreSQL the tuples are joined as
// arrays, a fixed statement that scans the primary key once per tuple; a list of hundreds
// of tuples would be planned anew each time, at a cost larger than the scans.
func (db *DB) keyed(query string, columns []string, values ...[]int64) (string, []any) {
	var sb strings.Builder
	var args []any
	sb.WriteString(query)
	if db.postgres {
		sb.WriteString(" JOIN unnest(")
		for i := range values {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "$%d::bigint[]", i+1)
			args = append(args, values[i])
		}
		sb.WriteString(") AS k(" + strings.Join(columns, ", ") + ") ON ")
		for i, c := range columns {
			if i > 0 {
				sb.WriteString(" AND ")
			}
			fmt.Fprintf(&sb, "e.%s = k.%s", c, c)
		}
		return sb.String(), args
	}
	sb.WriteString(" WHERE (e." + strings.Join(columns, ", e.") + ") IN (")
	tuple := "(" + strings.Repeat("?,", len(columns)-1) + "?)"
	for r := range values[0] {
		if r > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(tuple)
		for i := range values {
			args = append(args, values[i][r])
		}
	}
	sb.WriteString(")")
	return sb.String(), args
}

// Journey is what the batch knows of a learner's journey in a course so far; nil when
// PrefetchJourneys did not read it.
func (s *SiteTx) Journey(learnerID, courseID int64) *JourneyFacts {
	if s.w == nil {
		return nil
	}
	if f := s.w.journeys[JourneyKey{s.siteID, learnerID, courseID}]; f != nil {
		c := *f
		return &c
	}
	return nil
}

// Lock takes transaction-scoped advisory locks on keys, in the order given (callers sort
// them, so that two workers never wait on each other in a cycle), in one round trip.
func (w *WorkTx) Lock(keys []int64) error {
	if !w.db.postgres || len(keys) == 0 {
		return nil // SQLite: the transaction already holds the only write lock
	}
	return w.tx.Exec("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", keys).Error
}

// TryLock takes those of keys' advisory locks that no other transaction holds, without
// waiting, and returns the ones it holds. A transaction that waits for no lock cannot be
// part of a deadlock.
func (w *WorkTx) TryLock(keys []int64) (map[int64]bool, error) {
	held := make(map[int64]bool, len(keys))
	if !w.db.postgres {
		for _, k := range keys {
			held[k] = true // SQLite: the transaction already holds the only write lock
		}
		return held, nil
	}
	if len(keys) == 0 {
		return held, nil
	}
	var got []int64
	err := w.tx.Raw("SELECT k FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) WHERE pg_try_advisory_xact_lock(k) ORDER BY n", keys).Scan(&got).Error
	for _, k := range got {
		held[k] = true
	}
	return held, err
}

// Write sends what the batch gathered: its enrollments, then the shared records and
// counters, each table in one statement in key order.
func (w *WorkTx) Write() error {
	if err := w.writeEnrollments(); err != nil {
		return err
	}
	if err := w.batch.write(w.tx, w.db.postgres); err != nil {
		return err
	}
	return w.writeNextLessons()
}

// MarkProcessed marks rows applied.
func (w *WorkTx) MarkProcessed(ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if w.db.postgres {
		// One array parameter: a list of hundreds of ids would be planned anew each batch.
		return w.tx.Exec("UPDATE inbox SET status = $1, attempts = attempts + 1, processed_at = $2, last_error = '' WHERE id = ANY($3::bigint[])",
			StatusProcessed, w.now, ids).Error
	}
	return w.tx.Exec("UPDATE inbox SET status = ?, attempts = attempts + 1, processed_at = ?, last_error = '' WHERE id IN ?",
		StatusProcessed, w.now, ids).Error
}

// Failed parks a row the batch cannot read: it stays visible with its error and can be
// replayed.
func (w *WorkTx) Failed(row InboxRow, cause error) error {
	return w.tx.Table("inbox").Where("id = ?", row.ID).
		Updates(map[string]any{"status": StatusFailed, "attempts": row.Attempts + 1, "processed_at": w.now, "last_error": errorText(cause)}).Error
}
