package progress_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Deliveries come every simulated day for four times the retention window; each day
// the worker applies them and trims the delivery log as its upkeep does. Once the window is
// full the delivery log (inbox and held deliveries) stops growing, in rows and, on
// PostgreSQL after a plain VACUUM, in bytes, while the learners' records keep every event.
func TestDeliveryLogStaysBounded(t *testing.T) {
	const (
		window     = 3 // days of DELIVERY_RETENTION
		days       = 4 * window
		stepsADay  = 40
		heldPerDay = 2 // signed deliveries for a site that is not installed
	)
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, func(_ *thinkificdouble.Config, env map[string]string) {
			env["DELIVERY_RETENTION"] = fmt.Sprintf("%dh", 24*window)
		})
		ctx := context.Background()
		site := h.School()
		type day struct {
			inbox, held, events    int64
			inboxBytes, indexBytes int64 // PostgreSQL only
		}
		var seen []day
		for d := range days {
			for i := range stepsADay {
				at := h.Clock.Now()
				learner, course := int64(100+i), int64(1+i%3)
				id := fmt.Sprintf("d%d-s%d", d, i)
				for _, body := range [][]byte{
					testkit.LessonEventFor(id+"-l", testkit.PublishedGID, at, learner, course, course*100+int64(d)),
					testkit.ProgressEvent(id+"-p", testkit.PublishedGID, at.Add(3*time.Millisecond), learner, course, fmt.Sprintf("%d.0", 5*(d+1))),
				} {
					if code, answer := h.Deliver("school", body, testkit.ClientSecret); code != 200 {
						t.Fatalf("day %d: delivery answered %d %s", d, code, answer)
					}
				}
			}
			for i := range heldPerDay {
				body := testkit.LessonEvent(fmt.Sprintf("d%d-held%d", d, i), "gid-not-installed", h.Clock.Now())
				if code, answer := h.Deliver("elsewhere", body, testkit.ClientSecret); code != 200 {
					t.Fatalf("day %d: held delivery answered %d %s", d, code, answer)
				}
			}
			h.Drain()
			// The worker's upkeep, as it runs every ten minutes.
			if _, err := h.DB.DeleteOldDeliveries(ctx, h.Clock.Now().Add(-h.Cfg.Retention)); err != nil {
				t.Fatal(err)
			}
			if err := h.DB.Vacuum(ctx); err != nil {
				t.Fatal(err)
			}
			today := day{
				inbox:  h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ?", site.ID),
				held:   h.Count("SELECT COUNT(*) FROM inbox_unrouted"),
				events: h.Count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID),
			}
			sizes, err := h.DB.TableSizes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sizes {
				if s.Table == "inbox" {
					today.inboxBytes, today.indexBytes = s.TableBytes, s.IndexBytes
				}
			}
			t.Logf("day %2d: inbox %4d rows %7d B + indexes %7d B, held %2d, learner events %4d", d, today.inbox, today.inboxBytes, today.indexBytes, today.held, today.events)
			seen = append(seen, today)
			h.Clock.Advance(24 * time.Hour)
		}

		// The test clock runs on with real time, so the deliveries of `window` days ago are
		// a little older than the window by the time of the trim: the log holds the days
		// since.
		full := seen[window]
		if want := int64(window * 2 * stepsADay); full.inbox != want || full.held != window*heldPerDay {
			t.Fatalf("once the window is full the log holds %d deliveries and %d held, want %d and %d", full.inbox, full.held, want, window*heldPerDay)
		}
		for d := window + 1; d < days; d++ {
			if seen[d].inbox != full.inbox || seen[d].held != full.held {
				t.Errorf("day %d: the delivery log holds %d deliveries and %d held, not %d and %d as on day %d",
					d, seen[d].inbox, seen[d].held, full.inbox, full.held, window)
			}
			// Space freed by the trim is reused: the inbox stays near the size it had when the
			// window was first full (a quarter of slack for where rows happen to land). Index
			// pages the trim empties are recycled only by a later VACUUM, so the indexes settle
			// later and higher; without the trim both would grow to (d+1)/window times as much.
			if limit := full.inboxBytes * 5 / 4; h.DB.Postgres() && seen[d].inboxBytes > limit {
				t.Errorf("day %d: the inbox takes %d B after VACUUM, more than 5/4 of the %d B of day %d", d, seen[d].inboxBytes, full.inboxBytes, window)
			}
			if limit := full.indexBytes * 2; h.DB.Postgres() && seen[d].indexBytes > limit {
				t.Errorf("day %d: the inbox's indexes take %d B after VACUUM, more than twice the %d B of day %d", d, seen[d].indexBytes, full.indexBytes, window)
			}
			if seen[d].events != int64((d+1)*2*stepsADay) {
				t.Errorf("day %d: %d learner events kept, want every one of %d", d, seen[d].events, (d+1)*2*stepsADay)
			}
		}
		if h.DB.Postgres() && seen[days-1].inboxBytes == 0 {
			t.Error("the inbox's size was not read")
		}
		var failed int64
		if err := h.DB.Gorm().Raw("SELECT COUNT(*) FROM inbox WHERE status <> ?", store.StatusProcessed).Scan(&failed).Error; err != nil || failed > 0 {
			t.Fatalf("%d deliveries not applied (%v)", failed, err)
		}
	})
}
