package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Delivery statuses, as the delivery log shows them.
const (
	StatusAccepted    = "accepted"    // stored, waiting for a worker
	StatusProcessed   = "processed"   // applied to the site's records
	StatusFailed      = "failed"      // gave up after retries; replayable
	StatusQuarantined = "quarantined" // signed, but not an event Stride can read; replayable
	StatusTest        = "test"        // a test delivery sent from the Thinkific admin: logged, never applied
)

// Delivery is one webhook delivery on its way into the inbox.
type Delivery struct {
	SiteID     int64
	EventID    string
	Topic      string
	Body       []byte
	Status     string // accepted, quarantined or test
	Note       string // why it was quarantined, for the delivery log
	ReceivedAt time.Time
}

// InsertDeliveries stores a batch of deliveries in one transaction — group commit: many
// webhook requests share one durable commit. new[i] is false when delivery i repeats an
// event already stored (or an earlier one in the batch); a repeat changes no data and is
// only counted on the stored row, for the delivery log.
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
			dups := map[key]*dupCount{}
			for i, d := range ds {
				k := key{d.SiteID, d.EventID}
				isNew[i] = first[k] == i && inserted[k.site][k.event]
				if !isNew[i] {
					c := dups[k]
					if c == nil {
						c = &dupCount{site: d.SiteID, event: d.EventID}
						dups[k] = c
					}
					c.n++
					c.last = maxTime(c.last, d.ReceivedAt.UTC())
				}
			}
			return db.countDuplicates(tx, slices.Collect(maps.Values(dups)))
		})
	})
	if err != nil {
		return nil, dbError(err, "inbox")
	}
	return isNew, nil
}

type dupCount struct {
	site  int64
	event string
	n     int
	last  time.Time
}

// countDuplicates adds repeats to their stored rows, in key order (as the inserts), so two
// batches counting the same rows never wait on each other in a cycle.
func (db *DB) countDuplicates(tx *gorm.DB, dups []*dupCount) error {
	if len(dups) == 0 {
		return nil
	}
	slices.SortFunc(dups, func(a, b *dupCount) int {
		if c := cmp.Compare(a.site, b.site); c != 0 {
			return c
		}
		return strings.Compare(a.event, b.event)
	})
	const set = `duplicates = duplicates + %s, last_duplicate_at = CASE WHEN last_duplicate_at IS NULL OR last_duplicate_at < %s THEN %s ELSE last_duplicate_at END`
	if !db.postgres {
		for _, d := range dups {
			if err := tx.Exec("UPDATE inbox SET "+fmt.Sprintf(set, "?", "?", "?")+" WHERE site_id = ? AND event_id = ?",
				d.n, d.last, d.last, d.site, d.event).Error; err != nil {
				return err
			}
		}
		return nil
	}
	sites, events, ns, lasts := make([]int64, len(dups)), make([]string, len(dups)), make([]int32, len(dups)), make([]time.Time, len(dups))
	for i, d := range dups {
		sites[i], events[i], ns[i], lasts[i] = d.site, d.event, int32(d.n), d.last
	}
	return tx.Exec(`UPDATE inbox SET `+fmt.Sprintf(set, "v.n", "v.last", "v.last")+`
		FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[]) AS v(site_id, event_id, n, last)
		WHERE inbox.site_id = v.site_id AND inbox.event_id = v.event_id`, sites, events, ns, lasts).Error
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// insertInbox inserts the deliveries at idx, skipping events already stored, and returns
// which (site, event) pairs it inserted.
func (db *DB) insertInbox(tx *gorm.DB, ds []Delivery, idx []int) (map[int64]map[string]bool, error) {
	var q string
	var args []any
	if db.postgres {
		// One statement text for every batch size: arrays, not a growing VALUES list.
		n := len(idx)
		sites, events, topics, statuses, notes := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		bodies, times := make([][]byte, n), make([]time.Time, n)
		for j, i := range idx {
			d := ds[i]
			sites[j], events[j], topics[j], statuses[j], notes[j], bodies[j], times[j] = d.SiteID, d.EventID, d.Topic, d.Status, logText(d.Note), d.Body, d.ReceivedAt.UTC()
		}
		q = `INSERT INTO inbox (site_id, event_id, topic, body, status, last_error, next_attempt_at, received_at)
			SELECT s, e, t, b, st, le, r, r FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::timestamptz[]) AS x(s, e, t, b, st, le, r)
			ON CONFLICT (site_id, event_id) DO NOTHING RETURNING site_id, event_id`
		args = []any{sites, events, topics, bodies, statuses, notes, times}
	} else {
		var sb strings.Builder
		sb.WriteString("INSERT INTO inbox (site_id, event_id, topic, body, status, last_error, next_attempt_at, received_at) VALUES ")
		for j, i := range idx {
			d := ds[i]
			if j > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?)")
			args = append(args, d.SiteID, d.EventID, d.Topic, d.Body, d.Status, logText(d.Note), d.ReceivedAt.UTC(), d.ReceivedAt.UTC())
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

// InboxCount counts a site's inbox rows by status.
func (db *DB) InboxCount(ctx context.Context, siteID int64) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := db.reader(ctx).Raw("SELECT status, COUNT(*) AS n FROM inbox WHERE site_id = ? GROUP BY status", siteID).Scan(&rows).Error
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
	ID              int64
	EventID         string
	Topic           string
	Status          string
	Attempts        int
	LastError       string
	ReceivedAt      time.Time
	Duplicates      int        // repeated deliveries of the same event, answered and not stored again
	LastDuplicateAt *time.Time // the latest of them
}

// InboxRow is an inbox row a worker has claimed.
type InboxRow struct {
	ID         int64
	SiteID     int64
	EventID    string
	Topic      string
	Body       []byte
	Attempts   int
	ReceivedAt time.Time
}

// MarkRetry records a failed attempt at a row, in its own transaction (the one that failed
// was rolled back), and puts the row back for another attempt at next. It changes nothing
// when the row moved on meanwhile (applied or marked by another worker).
func (db *DB) MarkRetry(ctx context.Context, row InboxRow, cause error, next time.Time) error {
	err := db.write(ctx).Table("inbox").Where("id = ? AND status = ? AND attempts = ?", row.ID, StatusAccepted, row.Attempts).
		Updates(map[string]any{"attempts": row.Attempts + 1, "next_attempt_at": next.UTC(), "last_error": errorText(cause)}).Error
	return dbError(err, "inbox")
}

// MarkFailed parks a row that failed for good, in its own transaction: it stays visible
// with its error and can be replayed.
func (db *DB) MarkFailed(ctx context.Context, row InboxRow, cause error) error {
	err := db.write(ctx).Table("inbox").Where("id = ? AND status = ? AND attempts = ?", row.ID, StatusAccepted, row.Attempts).
		Updates(map[string]any{"status": StatusFailed, "attempts": row.Attempts + 1, "processed_at": db.now(), "last_error": errorText(cause)}).Error
	return dbError(err, "inbox")
}

// errorText is an error as the delivery log keeps it (see logText).
func errorText(err error) string { return logText(err.Error()) }

// logText is a message as the delivery log keeps it: valid UTF-8 without NUL (PostgreSQL
// text refuses both, and a message may quote the bad input), at most 1,000 bytes.
func logText(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}
