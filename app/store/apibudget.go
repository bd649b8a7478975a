package store

import (
	"context"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/strideapp/stride/app/stride"
)

const (
	// APIWindow is the span in which a site's requests are counted. Thinkific counts 120
	// per 60 s; Stride counts one more second, so that a request delayed between being
	// counted and arriving (the commit, a slow connection) or a small difference between
	// two dynos' clocks cannot put a 121st into one of Thinkific's minutes.
	APIWindow = 61 * time.Second
	// apiBudgetPoll is the longest a waiting take sleeps before it looks again: it notices
	// a clock moved under it (a test's, or NTP's) within that.
	apiBudgetPoll = time.Second
	// apiBudgetLocks is the first key of the PostgreSQL advisory locks that serialise a
	// site's takes (the second is the site id). The two-key form keeps clear of the one-key
	// locks the worker takes.
	apiBudgetLocks = 0x41504942 // "APIB"
	// apiSweepEvery is how often one process deletes every site's out-of-window requests;
	// a take deletes only its own site's, so a site that stopped calling keeps its last ones.
	apiSweepEvery = 10 * time.Minute
)

type apiRequestRow struct {
	SiteID int64
	At     time.Time
}

func (apiRequestRow) TableName() string { return "api_requests" }

type apiBlockRow struct {
	SiteID       int64 `gorm:"primaryKey;autoIncrement:false"`
	BlockedUntil time.Time
}

func (apiBlockRow) TableName() string { return "api_blocks" }

// APIBudget is every site's budget of Thinkific API requests, kept in the database so that
// every process sharing it keeps to one limit per site: at most Limit requests in any
// APIWindow (a sliding log, not a token bucket, which would allow a burst on top of its
// refill). It is a thinkific.Limiter.
type APIBudget struct {
	db        *DB
	limit     int
	poll      time.Duration
	lastSweep atomic.Int64 // unix nanoseconds of this process's last sweep
}

// APIBudget returns the budget allowing perMinute requests per site (THINKIFIC_API_REQUESTS_PER_MINUTE).
func (db *DB) APIBudget(perMinute int) *APIBudget {
	if perMinute < 1 {
		perMinute = 1
	}
	return &APIBudget{db: db, limit: perMinute, poll: apiBudgetPoll}
}

// Take waits until siteID may send one more request, and counts it as sent now. It fails
// when ctx ends first, or when the database cannot keep the count.
func (b *APIBudget) Take(ctx context.Context, siteID int64) error {
	for {
		wait, err := b.try(ctx, siteID)
		if err != nil {
			return err
		}
		if wait <= 0 {
			b.sweep(ctx)
			return nil
		}
		t := time.NewTimer(min(wait, b.poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return stride.Wrap(stride.EUNAVAILABLE, ctx.Err(), "Thinkific's rate limit for this site left no room in time")
		case <-t.C:
		}
	}
}

// try counts one request for the site if the window has room, and otherwise says how long
// until it may, in one short transaction that no other take of the site runs beside.
func (b *APIBudget) try(ctx context.Context, siteID int64) (time.Duration, error) {
	var wait time.Duration
	err := b.db.tx(ctx, func(tx *gorm.DB) error {
		if b.db.postgres {
			// SQLite: the transaction already holds the only write lock.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?, ?)", apiBudgetLocks, int32(siteID)).Error; err != nil {
				return err
			}
		}
		// The time is read once the lock is held: a take that waited for it must not record
		// its request as sent before the takes it waited for.
		now := leaseTime(b.db.now())
		var blocks []apiBlockRow
		if err := tx.Where("site_id = ?", siteID).Limit(1).Find(&blocks).Error; err != nil {
			return err
		}
		if len(blocks) == 1 && blocks[0].BlockedUntil.After(now) {
			wait = blocks[0].BlockedUntil.Sub(now)
			return nil
		}
		start := now.Add(-APIWindow)
		if err := tx.Where("site_id = ? AND at <= ?", siteID, start).Delete(&apiRequestRow{}).Error; err != nil {
			return err
		}
		var recent []time.Time
		if err := tx.Model(&apiRequestRow{}).Where("site_id = ?", siteID).Order("at").Pluck("at", &recent).Error; err != nil {
			return err
		}
		if n := len(recent); n >= b.limit {
			// Room opens when enough of the oldest leave for one fewer than the limit to remain.
			wait = recent[n-b.limit].Add(APIWindow).Sub(now)
			wait = max(wait, time.Millisecond)
			return nil
		}
		return tx.Create(&apiRequestRow{SiteID: siteID, At: now}).Error
	})
	return wait, dbError(err, "API budget")
}

// Block holds back siteID's requests in every process until `until`, when Thinkific
// answered 429 and named its reset. A reset further ahead than one window is taken as one
// window: Thinkific counts per minute, and a misread header must not stall a site for long.
// An earlier block never shortens a later one.
func (b *APIBudget) Block(ctx context.Context, siteID int64, until time.Time) error {
	now := b.db.now()
	if limit := now.Add(APIWindow); until.After(limit) {
		until = limit
	}
	until = leaseTime(until)
	if !until.After(now) {
		return nil
	}
	err := b.db.tx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "site_id"}},
			DoUpdates: clause.Set{{Column: clause.Column{Name: "blocked_until"},
				Value: gorm.Expr("CASE WHEN excluded.blocked_until > api_blocks.blocked_until THEN excluded.blocked_until ELSE api_blocks.blocked_until END")}},
		}).Create(&apiBlockRow{SiteID: siteID, BlockedUntil: until}).Error
	})
	return dbError(err, "API budget")
}

// sweep deletes every site's requests older than the window, at most once per
// apiSweepEvery in this process. A failure is left for the next one.
func (b *APIBudget) sweep(ctx context.Context) {
	now := b.db.now()
	last := b.lastSweep.Load()
	if now.UnixNano()-last < int64(apiSweepEvery) || !b.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	b.db.write(ctx).Where("at <= ?", leaseTime(now.Add(-APIWindow))).Delete(&apiRequestRow{})
}
