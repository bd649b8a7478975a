package store

import (
	"context"
	"time"
)

// Backlog is the inbox's unapplied work, across every site.
type Backlog struct {
	Depth int64 // accepted events not applied yet, retries waiting out their backoff included
	// Waited is how long the longest-waiting due event has been due: since its receipt, or
	// since its retry backoff ended. 0 when nothing is due.
	Waited time.Duration
}

// InboxBacklog reads the backlog every worker shares. Both reads go through the partial
// inbox_due index (the status is written into the SQL, as in Claim, so that it can), and
// the second stops at its first row: cheap however long the delivery log is.
func (db *DB) InboxBacklog(ctx context.Context) (Backlog, error) {
	var b Backlog
	r := db.reader(ctx)
	if err := r.Raw("SELECT count(*) FROM inbox WHERE status = '" + StatusAccepted + "'").Scan(&b.Depth).Error; err != nil {
		return Backlog{}, dbError(err, "inbox")
	}
	var due []struct{ NextAttemptAt time.Time }
	err := r.Raw("SELECT next_attempt_at FROM inbox WHERE status = '" + StatusAccepted + "' ORDER BY next_attempt_at LIMIT 1").Scan(&due).Error
	if err != nil {
		return Backlog{}, dbError(err, "inbox")
	}
	if len(due) == 1 {
		b.Waited = max(0, db.now().Sub(due[0].NextAttemptAt))
	}
	return b, nil
}

// ImportTally is how many sites' imports are in one state, and the API requests they made
// (in their current run, or their last one when it ended).
type ImportTally struct {
	State    string
	Sites    int64
	Requests int64
}

// ImportTallies counts imports by state; a state no import is in is left out. One row per
// site: a scan of a table as small as the list of installs.
func (db *DB) ImportTallies(ctx context.Context) ([]ImportTally, error) {
	var out []ImportTally
	err := db.reader(ctx).Raw("SELECT state, count(*) AS sites, COALESCE(sum(requests), 0) AS requests FROM site_imports GROUP BY state").
		Scan(&out).Error
	return out, dbError(err, "imports")
}
