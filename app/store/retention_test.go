package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strideapp/stride/app/store"
)

// The delivery log's trim takes, on every site, the settled deliveries received before the
// cutoff and the held ones; deliveries still waiting for a worker stay however old.
func TestDeleteOldDeliveries(t *testing.T) {
	ctx := context.Background()
	eachDB(t, func(t *testing.T, db *store.DB) {
		a, b := install(t, db, "trim-a", "gid-trim-a", "a"), install(t, db, "trim-b", "gid-trim-b", "b")
		now := time.Now()
		cutoff := now.Add(-72 * time.Hour)
		old, recent := cutoff.Add(-time.Minute), cutoff.Add(time.Minute)
		var ds []store.Delivery
		for _, s := range []int64{a.ID, b.ID} {
			ds = append(ds,
				store.Delivery{SiteID: s, EventID: "old-test", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusTest, ReceivedAt: old},
				store.Delivery{SiteID: s, EventID: "old-quarantined", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusQuarantined, ReceivedAt: old},
				store.Delivery{SiteID: s, EventID: "old-waiting", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusAccepted, ReceivedAt: old},
				store.Delivery{SiteID: s, EventID: "recent-test", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusTest, ReceivedAt: recent})
		}
		if _, err := db.InsertDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		for _, u := range []store.Unrouted{
			{RouteKey: store.RouteByGID("gid-nowhere"), EventID: "held-old", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusAccepted, ReceivedAt: old},
			{RouteKey: store.RouteByGID("gid-nowhere"), EventID: "held-recent", Topic: "lesson.completed", Body: []byte("{}"), Status: store.StatusAccepted, ReceivedAt: recent},
		} {
			if _, err := db.HoldUnrouted(ctx, u); err != nil {
				t.Fatal(err)
			}
		}

		n, err := db.DeleteOldDeliveries(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("%d deliveries deleted, want 5 (two settled on each site, one held)", n)
		}
		var left []string
		if err := db.Gorm().Raw("SELECT event_id FROM inbox ORDER BY site_id, event_id").Scan(&left).Error; err != nil {
			t.Fatal(err)
		}
		if want := []string{"old-waiting", "recent-test", "old-waiting", "recent-test"}; !slices.Equal(left, want) {
			t.Errorf("inbox keeps %v, want %v", left, want)
		}
		var held []string
		if err := db.Gorm().Raw("SELECT event_id FROM inbox_unrouted").Scan(&held).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(held, []string{"held-recent"}) {
			t.Errorf("held deliveries kept: %v, want [held-recent]", held)
		}
	})
}
