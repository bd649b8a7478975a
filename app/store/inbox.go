package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/strideapp/stride/app/stride"
)

// Delivery statuses, as the delivery log shows them.
const (
	StatusAccepted    = "accepted"    // stored, waiting for a worker
	StatusProcessed   = "processed"   // applied to the site's records
	StatusFailed      = "failed"      // gave up after retries; replayable
	StatusQuarantined = "quarantined" // signed, but not an event Stride can read; replayable
	StatusDuplicate   = "duplicate"   // a repeat of an event already stored (log only)
)

// Delivery is one webhook delivery on its way into the inbox.
type Delivery struct {
	SiteID     int64
	EventID    string
	Topic      string
	Body       []byte
	Status     string // accepted or quarantined
	ReceivedAt time.Time
}

// InsertDeliveries stores a batch of deliveries in one transaction — group commit: many
// webhook requests share one durable commit. new[i] is false when delivery i repeats an
// event already stored (or an earlier one in the batch); a repeat changes no data and is
// only noted in the delivery log.
func (db *DB) InsertDeliveries(ctx context.Context, ds []Delivery) (isNew []bool, err error) {
	isNew = make([]bool, len(ds))
	type key struct {
		site  int64
		event string
	}
	first := map[key]int{}
	var unique []int
	for i, d := range ds {
		k := key{d.SiteID, d.EventID}
		if _, seen := first[k]; !seen {
			first[k] = i
			unique = append(unique, i)
		}
	}
	// Two batches in flight that hold the same events must insert them in the same order,
	// or each waits on the other's uncommitted row: a deadlock.
	slices.SortFunc(unique, func(a, b int) int {
		if c := cmp.Compare(ds[a].SiteID, ds[b].SiteID); c != 0 {
			return c
		}
		return strings.Compare(ds[a].EventID, ds[b].EventID)
	})
	err = db.retryConflicts(func() error {
		return db.tx(ctx, func(tx *gorm.DB) error {
			inserted, err := db.insertInbox(tx, ds, unique)
			if err != nil {
				return err
			}
			var dups []Delivery
			for i, d := range ds {
				k := key{d.SiteID, d.EventID}
				isNew[i] = first[k] == i && inserted[k.site][k.event]
				if !isNew[i] {
					dups = append(dups, d)
				}
			}
			if len(dups) == 0 {
				return nil
			}
			var sb strings.Builder
			args := make([]any, 0, 3*len(dups))
			sb.WriteString("INSERT INTO inbox_duplicates (site_id, event_id, received_at) VALUES ")
			for i, d := range dups {
				if i > 0 {
					sb.WriteString(",")
				}
				sb.WriteString("(?,?,?)")
				args = append(args, d.SiteID, d.EventID, d.ReceivedAt.UTC())
			}
			return tx.Exec(sb.String(), args...).Error
		})
	})
	if err != nil {
		return nil, dbError(err, "inbox")
	}
	return isNew, nil
}

// insertInbox inserts the deliveries at idx, skipping events already stored, and returns
// which (site, event) pairs it inserted.
func (db *DB) insertInbox(tx *gorm.DB, ds []Delivery, idx []int) (map[int64]map[string]bool, error) {
	var q string
	var args []any
	if db.postgres {
		// One statement text for every batch size: arrays, not a growing VALUES list.
		n := len(idx)
		sites, events, topics, statuses := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		bodies, times := make([][]byte, n), make([]time.Time, n)
		for j, i := range idx {
			d := ds[i]
			sites[j], events[j], topics[j], statuses[j], bodies[j], times[j] = d.SiteID, d.EventID, d.Topic, d.Status, d.Body, d.ReceivedAt.UTC()
		}
		q = `INSERT INTO inbox (site_id, event_id, topic, body, status, next_attempt_at, received_at)
			SELECT s, e, t, b, st, r, r FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::timestamptz[]) AS x(s, e, t, b, st, r)
			ON CONFLICT (site_id, event_id) DO NOTHING RETURNING site_id, event_id`
		args = []any{sites, events, topics, bodies, statuses, times}
	} else {
		var sb strings.Builder
		sb.WriteString("INSERT INTO inbox (site_id, event_id, topic, body, status, next_attempt_at, received_at) VALUES ")
		for j, i := range idx {
			d := ds[i]
			if j > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?)")
			args = append(args, d.SiteID, d.EventID, d.Topic, d.Body, d.Status, d.ReceivedAt.UTC(), d.ReceivedAt.UTC())
		}
		sb.WriteString(" ON CONFLICT (site_id, event_id) DO NOTHING RETURNING site_id, event_id")
		q = sb.String()
	}
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	inserted := map[int64]map[string]bool{}
	for rows.Next() {
		var site int64
		var event string
		if err := rows.Scan(&site, &event); err != nil {
			return nil, err
		}
		if inserted[site] == nil {
			inserted[site] = map[string]bool{}
		}
		inserted[site][event] = true
	}
	return inserted, rows.Err()
}

// InboxCount counts a site's inbox rows by status, for tests and the connection page.
func (db *DB) InboxCount(ctx context.Context, siteID int64) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := db.gorm.WithContext(ctx).Raw("SELECT status, COUNT(*) AS n FROM inbox WHERE site_id = ? GROUP BY status", siteID).Scan(&rows).Error
	if err != nil {
		return nil, dbError(err, "inbox")
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// LoggedDelivery is one line of a site's delivery log.
type LoggedDelivery struct {
	ID         int64 // 0 for a duplicate (it has no inbox row of its own)
	EventID    string
	Topic      string
	Status     string
	Attempts   int
	LastError  string
	ReceivedAt time.Time
}

// DeliveryLog lists a site's deliveries, newest first, received before `before`.
func (db *DB) DeliveryLog(ctx context.Context, siteID int64, before time.Time, limit int) ([]LoggedDelivery, error) {
	var out, dups []LoggedDelivery
	g := db.gorm.WithContext(ctx)
	err := g.Table("inbox").Select("id, event_id, topic, status, attempts, last_error, received_at").
		Where("site_id = ? AND received_at < ?", siteID, before.UTC()).Order("received_at DESC, id DESC").Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, dbError(err, "delivery log")
	}
	var rows []struct {
		EventID    string
		ReceivedAt time.Time
	}
	err = g.Table("inbox_duplicates").Select("event_id, received_at").
		Where("site_id = ? AND received_at < ?", siteID, before.UTC()).Order("received_at DESC").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, dbError(err, "delivery log")
	}
	topics := map[string]string{}
	for _, d := range out {
		topics[d.EventID] = d.Topic
	}
	for _, r := range rows {
		dups = append(dups, LoggedDelivery{EventID: r.EventID, Topic: topics[r.EventID], Status: StatusDuplicate, ReceivedAt: r.ReceivedAt})
	}
	out = append(out, dups...)
	slices.SortStableFunc(out, func(a, b LoggedDelivery) int { return b.ReceivedAt.Compare(a.ReceivedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Replay puts a failed or quarantined delivery of the site back in line for the workers.
func (db *DB) Replay(ctx context.Context, siteID, id int64) error {
	res := db.gorm.WithContext(ctx).Exec(`UPDATE inbox SET status = ?, attempts = 0, next_attempt_at = ?, last_error = '', processed_at = NULL
		WHERE site_id = ? AND id = ? AND status IN (?, ?)`, StatusAccepted, db.now(), siteID, id, StatusFailed, StatusQuarantined)
	if res.Error != nil {
		return dbError(res.Error, "delivery")
	}
	if res.RowsAffected == 0 {
		return stride.Errorf(stride.ENOTFOUND, "no failed or quarantined delivery %d", id)
	}
	return nil
}
