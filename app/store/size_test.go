package store_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strideapp/stride/app/store"
)

// TableSizes counts every row of every table and reads the room the rows and their indexes
// take; the delivery log's trim and a VACUUM are seen in it.
func TestTableSizes(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		site := install(t, db, "sized", "gid-sized", "a")
		inbox := func() store.TableSize {
			t.Helper()
			sizes, err := db.TableSizes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range sizes {
				if i > 0 && s.Total() > sizes[i-1].Total() {
					t.Errorf("%s (%d B) listed after %s (%d B)", s.Table, s.Total(), sizes[i-1].Table, sizes[i-1].Total())
				}
				if s.Table == "goose_db_version" {
					t.Error("the migration tool's table is listed")
				}
			}
			for _, s := range sizes {
				if s.Table == "inbox" {
					return s
				}
			}
			t.Fatal("no inbox in the table sizes")
			return store.TableSize{}
		}
		empty := inbox()
		const n = 500
		ds := make([]store.Delivery, n)
		for i := range ds {
			ds[i] = store.Delivery{SiteID: site.ID, EventID: fmt.Sprint("e", i), Topic: "lesson.completed",
				Body: bytes.Repeat([]byte("x"), 1000), Status: store.StatusTest, ReceivedAt: time.Now().Add(-time.Hour)}
		}
		if _, err := db.InsertDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		full := inbox()
		if full.Rows != n || empty.Rows != 0 {
			t.Fatalf("inbox rows %d before and %d after %d deliveries", empty.Rows, full.Rows, n)
		}
		// 500 rows of 1 kB: at least their bodies' room, in the table or its TOAST.
		if db.Postgres() && (full.TableBytes < n*1000 || full.IndexBytes <= empty.IndexBytes) {
			t.Fatalf("inbox of %d deliveries takes %d B, indexes %d B (empty: %d B)", n, full.TableBytes, full.IndexBytes, empty.IndexBytes)
		}
		if full.Total() != full.TableBytes+full.IndexBytes {
			t.Fatal("total is not table and indexes")
		}
		if _, err := db.DeleteOldDeliveries(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := db.Vacuum(ctx); err != nil {
			t.Fatal(err)
		}
		trimmed := inbox()
		// A plain VACUUM gives the empty pages at the end of the table back.
		if trimmed.Rows != 0 || (db.Postgres() && trimmed.TableBytes >= full.TableBytes) {
			t.Fatalf("after the trim and VACUUM the inbox holds %d rows in %d B (before: %d B)", trimmed.Rows, trimmed.TableBytes, full.TableBytes)
		}
		t.Logf("inbox: empty %d+%d B, %d deliveries %d+%d B, trimmed %d+%d B", empty.TableBytes, empty.IndexBytes,
			n, full.TableBytes, full.IndexBytes, trimmed.TableBytes, trimmed.IndexBytes)
	})
}
