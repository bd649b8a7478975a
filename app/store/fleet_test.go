package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testclock"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// The backlog is every site's accepted events; the wait is the longest-due one's, a retry
// counting from the end of its backoff. Imports are counted by state.
func TestInboxBacklogAndImportTallies(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, kind := range []string{"postgres", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			clock := testclock.At(t0)
			var db *store.DB
			if kind == "postgres" {
				db = openDBAt(t, testdb.Postgres(t), "", clock)
			} else {
				db = openDBAt(t, "", t.TempDir(), clock)
			}
			if b, err := db.InboxBacklog(ctx); err != nil || b != (store.Backlog{}) {
				t.Fatalf("empty inbox: %+v %v", b, err)
			}
			a, b := install(t, db, "a", "gid-a", "ta"), install(t, db, "b", "gid-b", "tb")
			var ds []store.Delivery
			for i, site := range []int64{a.ID, b.ID, a.ID} {
				ds = append(ds, store.Delivery{SiteID: site, EventID: fmt.Sprint("e", i), Topic: "lesson.completed", Body: []byte("{}"),
					Status: store.StatusAccepted, ReceivedAt: t0.Add(time.Duration(i) * time.Second)})
			}
			ds = append(ds, store.Delivery{SiteID: b.ID, EventID: "q", Topic: "x", Body: []byte("x"), Status: store.StatusQuarantined, ReceivedAt: t0})
			if _, err := db.InsertDeliveries(ctx, ds); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			got, err := db.InboxBacklog(ctx)
			if want := (store.Backlog{Depth: 3, Waited: time.Minute}); err != nil || got != want {
				t.Fatalf("backlog %+v %v, want %+v", got, err, want)
			}
			// The oldest is retried in 10 minutes: the next one is the longest-due.
			if err := db.MarkRetry(ctx, store.InboxRow{ID: inboxID(t, db, a.ID, "e0"), SiteID: a.ID, EventID: "e0"}, fmt.Errorf("x"), t0.Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, err = db.InboxBacklog(ctx)
			if want := (store.Backlog{Depth: 3, Waited: time.Minute - time.Second}); err != nil || got != want {
				t.Fatalf("backlog with a retry pending %+v %v, want %+v", got, err, want)
			}

			tallies, err := db.ImportTallies(ctx)
			if err != nil || len(tallies) != 1 || tallies[0] != (store.ImportTally{State: store.ImportQueued, Sites: 2}) {
				t.Fatalf("imports %+v %v", tallies, err)
			}
		})
	}
}

func inboxID(t *testing.T, db *store.DB, site int64, event string) int64 {
	t.Helper()
	var id int64
	if err := db.Gorm().Raw("SELECT id FROM inbox WHERE site_id = ? AND event_id = ?", site, event).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("inbox row %s: %v", event, err)
	}
	return id
}

// The backlog is read through the partial inbox_due index, never by scanning the delivery
// log: PostgreSQL's own counters of scans on the table and the index say which it did.
func TestInboxBacklogUsesTheIndex(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: testdb.Postgres(t), Keys: testKeys, MaxConns: 1}) // one backend: its statistics are the ones flushed
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	site := install(t, db, "a", "gid-a", "ta")
	// A delivery log of 50,000 applied events and a backlog of 50.
	const logged, waiting = 50_000, 50
	g := db.Gorm()
	if err := g.Exec(`INSERT INTO inbox (site_id, event_id, topic, body, status, next_attempt_at, received_at, processed_at)
		SELECT ?, 'e' || i, 'lesson.completed', '\x7b7d'::bytea, CASE WHEN i <= ? THEN 'accepted' ELSE 'processed' END, now(), now(), now()
		FROM generate_series(1, ?) AS i`, site.ID, waiting, logged+waiting).Error; err != nil {
		t.Fatal(err)
	}
	if err := g.Exec("ANALYZE inbox").Error; err != nil {
		t.Fatal(err)
	}
	type scans struct{ Seq, Index int64 }
	read := func() scans {
		t.Helper()
		// Flush this backend's pending counts, then read them on the next statement.
		if err := g.Exec("SELECT pg_stat_force_next_flush()").Error; err != nil {
			t.Fatal(err)
		}
		var s scans
		if err := g.Raw(`SELECT t.seq_scan AS seq, i.idx_scan AS index FROM pg_stat_user_tables t
			JOIN pg_stat_user_indexes i ON i.relid = t.relid AND i.indexrelname = 'inbox_due' WHERE t.relname = 'inbox'`).Scan(&s).Error; err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := read()
	b, err := db.InboxBacklog(ctx)
	if err != nil || b.Depth != waiting {
		t.Fatalf("backlog %+v %v", b, err)
	}
	after := read()
	if after.Seq != before.Seq || after.Index < before.Index+2 {
		t.Fatalf("scans of inbox before %+v, after %+v: want two of inbox_due and none of the table", before, after)
	}
	var plan []string
	g.Raw("EXPLAIN SELECT count(*) FROM inbox WHERE status = 'accepted'").Scan(&plan)
	t.Logf("table and inbox_due scans before %+v, after %+v; the count's plan: %q", before, after, plan)
}
