package store

import (
	"context"
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
		states: map[EnrollmentKey]*EnrollmentState{}, enrollmentWrites: map[EnrollmentKey]*enrollmentWrite{}}, nil
}

// Claim claims up to limit due rows. On PostgreSQL the rows are locked with SKIP LOCKED,
// so several workers in several processes take disjoint batches; a worker that dies
// releases its rows with its connection. On SQLite the transaction holds the write lock.
func (w *WorkTx) Claim(limit int) ([]InboxRow, error) {
	q := w.tx.Table("inbox").Select("id, site_id, event_id, topic, body, attempts, received_at").
		Where("status = ? AND next_attempt_at <= ?", StatusAccepted, w.now).
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
	if len(keys) == 0 {
		return nil
	}
	var tuples []string
	var args []any
	for _, k := range keys {
		if _, dup := w.states[k]; dup {
			continue
		}
		w.states[k] = nil
		tuples = append(tuples, "(?,?)")
		args = append(args, k.SiteID, k.ID)
	}
	var rows []struct {
		SiteID, ID int64
		EnrollmentState
	}
	err := w.tx.Raw("SELECT site_id, id, percent, percent_at, completed_at, enrolled_at, seen_at FROM enrollments WHERE (site_id, id) IN ("+
		strings.Join(tuples, ",")+")", args...).Scan(&rows).Error
	for i := range rows {
		w.states[EnrollmentKey{rows[i].SiteID, rows[i].ID}] = &rows[i].EnrollmentState
	}
	return err
}

// Lock takes transaction-scoped advisory locks on keys, in the order given (callers sort
// them, so that two workers never wait on each other in a cycle), in one round trip.
func (w *WorkTx) Lock(keys []int64) error {
	if !w.db.postgres || len(keys) == 0 {
		return nil // SQLite: the transaction already holds the only write lock
	}
	return w.tx.Exec("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", keys).Error
}

// Write sends what the batch gathered: its enrollments, then the shared records and
// counters, each table in one statement in key order.
func (w *WorkTx) Write() error {
	if err := w.writeEnrollments(); err != nil {
		return err
	}
	return w.batch.write(w.tx, w.db.postgres)
}

// MarkProcessed marks rows applied.
func (w *WorkTx) MarkProcessed(ids []int64) error {
	if len(ids) == 0 {
		return nil
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
