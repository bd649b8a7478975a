package progress_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
)

// Pairing against a generated ground truth: shuffled order, duplicates, a fifth of the
// deliveries held back for hours, two workers applying while deliveries arrive. Every step
// must come out exact.
func TestPairingGroundTruth(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		testkit.DBKinds(t, func(t *testing.T, dbURL string) {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				h := testkit.New(t, dbURL)
				site := h.School()
				g := testkit.Journeys(seed, testkit.PublishedGID, 5, 2)
				r := rand.New(rand.NewPCG(seed, 99))
				order := r.Perm(len(g.Bodies))
				var now, later [][]byte
				for _, i := range order {
					b := g.Bodies[i]
					if r.IntN(5) == 0 {
						later = append(later, b)
					} else {
						now = append(now, b)
					}
					if r.IntN(10) == 0 { // Thinkific delivers some twice
						now = append(now, b)
					}
				}

				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for range 2 {
					w := progress.New(h.DB, progress.Config{Window: h.Cfg.PairingWindow, Grace: h.Cfg.UninstallGrace, Retention: h.Cfg.Retention, Poll: 5 * time.Millisecond}, h.Clock, slog.New(slog.DiscardHandler))
					wg.Go(func() { w.Run(ctx) })
				}
				send := func(bodies [][]byte) {
					var sw sync.WaitGroup
					ch := make(chan []byte)
					for range 8 {
						sw.Go(func() {
							for b := range ch {
								if code, resp := h.DeliverRetrying("school", b, testkit.ClientSecret); code != 200 {
									t.Errorf("%d %s", code, resp)
								}
							}
						})
					}
					for _, b := range bodies {
						ch <- b
					}
					close(ch)
					sw.Wait()
				}
				send(now)
				h.Clock.Advance(5 * time.Hour)
				send(later)
				cancel()
				wg.Wait()
				h.Drain()

				counts, _ := h.DB.InboxCount(context.Background(), site.ID)
				if len(counts) != 1 || counts["processed"] != int64(len(g.Bodies)) {
					var errs []string
					h.DB.Gorm().Raw("SELECT DISTINCT last_error FROM inbox WHERE site_id = ? AND status <> 'processed'", site.ID).Scan(&errs)
					t.Fatalf("inbox %v, want all %d processed; errors: %q", counts, len(g.Bodies), errs)
				}
				got := testkit.CheckSteps(t, h.DB, site.ID, g.Steps)
				if t.Failed() {
					t.FailNow()
				}
				testkit.CheckRollups(t, h.DB, site.ID)
				t.Logf("%d deliveries, %d steps exact", len(now)+len(later), len(got))
			})
		})
	}
}

// Events apply by event time: a late older progress never overwrites a newer percentage.
func TestLateOlderEventDoesNotOverwrite(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		h.Deliver("school", testkit.ProgressEvent("p2", testkit.PublishedGID, t0.Add(time.Minute), 7, 70, "40.0"), testkit.ClientSecret)
		h.Drain()
		h.Deliver("school", testkit.ProgressEvent("p1", testkit.PublishedGID, t0, 7, 70, "30.0"), testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 770 AND percent = 40", site.ID); n != 1 {
			t.Fatal("the older event overwrote the percentage")
		}
		// The late step still takes its place in the timeline: 30 → 40 follows it.
		if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND percent_before = 30 AND percent_after = 40", site.ID); n != 1 {
			t.Fatal("the later step does not move from the late step's percentage")
		}
		// A real decrease (an admin removed a lesson) is newer, so it applies.
		h.Deliver("school", testkit.ProgressEvent("p3", testkit.PublishedGID, t0.Add(2*time.Minute), 7, 70, "35.0"), testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id IS NULL AND percent_before = 40 AND percent_after = 35", site.ID); n != 1 {
			t.Fatal("the decrease is not a step of its own")
		}
	})
}
