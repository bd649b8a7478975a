package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// InboxRow is an inbox row a worker has claimed.
type InboxRow struct {
	ID       int64
	SiteID   int64
	EventID  string
	Topic    string
	Body     []byte
	Attempts int
}

// WorkTx is one worker transaction over a batch of claimed inbox rows.
type WorkTx struct {
	db  *DB
	tx  *gorm.DB
	now time.Time
}

// ClaimInbox claims up to limit due rows and runs fn on them in one transaction. On
// PostgreSQL the rows are locked with SKIP LOCKED, so several workers in several processes
// take disjoint batches; a worker that dies releases its rows with its connection. On
// SQLite the transaction holds the write lock. It returns how many rows it claimed.
func (db *DB) ClaimInbox(ctx context.Context, limit int, fn func(w *WorkTx, rows []InboxRow) error) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *gorm.DB) error {
		now := db.now()
		q := tx.Table("inbox").Select("id, site_id, event_id, topic, body, attempts").
			Where("status = ? AND next_attempt_at <= ?", StatusAccepted, now).
			Order("next_attempt_at, id").Limit(limit)
		if db.postgres {
			q = q.Clauses(lockSkipLocked)
		}
		var rows []InboxRow
		if err := q.Scan(&rows).Error; err != nil {
			return err
		}
		n = len(rows)
		if n == 0 {
			return nil
		}
		return fn(&WorkTx{db: db, tx: tx, now: now}, rows)
	})
	return n, dbError(err, "inbox")
}

// Apply runs fn for one row inside a savepoint: if fn fails, what it wrote is undone and
// the rest of the batch goes on.
func (w *WorkTx) Apply(row InboxRow, fn func(s *SiteTx) error) error {
	if err := w.tx.SavePoint("event").Error; err != nil {
		return err
	}
	if err := fn(&SiteTx{tx: w.tx, siteID: row.SiteID, db: w.db}); err != nil {
		if rerr := w.tx.RollbackTo("event").Error; rerr != nil {
			return rerr
		}
		return err
	}
	return nil
}

// Processed marks a row applied.
func (w *WorkTx) Processed(row InboxRow) error {
	return w.tx.Table("inbox").Where("id = ?", row.ID).
		Updates(map[string]any{"status": StatusProcessed, "attempts": row.Attempts + 1, "processed_at": w.now, "last_error": ""}).Error
}

// Retry puts a row back for another attempt at next.
func (w *WorkTx) Retry(row InboxRow, cause error, next time.Time) error {
	return w.tx.Table("inbox").Where("id = ?", row.ID).
		Updates(map[string]any{"attempts": row.Attempts + 1, "next_attempt_at": next.UTC(), "last_error": truncate(cause.Error())}).Error
}

// Failed parks a row: it stays visible with its error and can be replayed.
func (w *WorkTx) Failed(row InboxRow, cause error) error {
	return w.tx.Table("inbox").Where("id = ?", row.ID).
		Updates(map[string]any{"status": StatusFailed, "attempts": row.Attempts + 1, "processed_at": w.now, "last_error": truncate(cause.Error())}).Error
}

// Lock takes transaction-scoped advisory locks on keys, in the order given (callers sort
// them, so that two workers never wait on each other in a cycle), in one round trip.
func (w *WorkTx) Lock(keys []int64) error {
	if !w.db.postgres || len(keys) == 0 {
		return nil // SQLite: the transaction already holds the only write lock
	}
	return w.tx.Exec("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", keys).Error
}

func truncate(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}
