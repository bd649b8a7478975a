package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strideapp/stride/app/store"
)

// One batch holding repeats of itself and of what is stored: each event once, the repeats
// in the delivery log.
func TestInsertDeliveries(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		a := install(t, db, "a", "gid-a", "x")
		b := install(t, db, "b", "gid-b", "y")
		now := time.Now()
		d := func(site int64, id string) store.Delivery {
			return store.Delivery{SiteID: site, EventID: id, Topic: "lesson.completed", Body: []byte(`{}`), Status: store.StatusAccepted, ReceivedAt: now}
		}
		first, err := db.InsertDeliveries(ctx, []store.Delivery{d(a.ID, "1"), d(a.ID, "2")})
		if err != nil || !slices.Equal(first, []bool{true, true}) {
			t.Fatalf("%v %v", first, err)
		}
		got, err := db.InsertDeliveries(ctx, []store.Delivery{d(a.ID, "2"), d(a.ID, "3"), d(a.ID, "3"), d(b.ID, "1"), d(b.ID, "1")})
		if err != nil || !slices.Equal(got, []bool{false, true, false, true, false}) {
			t.Fatalf("%v %v", got, err)
		}
		for site, want := range map[int64]int64{a.ID: 3, b.ID: 1} {
			counts, _ := db.InboxCount(ctx, site)
			if counts[store.StatusAccepted] != want {
				t.Errorf("site %d: %v", site, counts)
			}
		}
		// Repeats are counted on their event's row, not stored as rows of their own.
		log, _ := db.View(a.ID).DeliveryLog(ctx, now.Add(time.Hour), 10)
		dups := map[string]int{}
		for _, l := range log {
			dups[l.EventID] = l.Duplicates
		}
		if len(log) != 3 || dups["1"] != 0 || dups["2"] != 1 || dups["3"] != 1 {
			t.Fatalf("log %+v", log)
		}
	})
}
