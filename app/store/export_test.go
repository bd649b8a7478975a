package store

import (
	"context"
	"time"
)

// SetPoll makes a waiting take look again after at most d: tests move their clock in steps
// and should not wait a second to see it.
func (b *APIBudget) SetPoll(d time.Duration) { b.poll = d }

// MigrateTo applies the migrations up to version.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
