//go:build fault

package faulttest

import (
	"sync"
	"testing"
	"time"
)

// Thinkific may deliver an event again while the first delivery is still in flight: the
// same delivery sent three times at once is stored once, answered "accepted" once and
// "duplicate" twice, and applied once.
func TestSameDeliveryThreeTimesAtOnce(t *testing.T) {
	pg, srv, sites := stack(t, strideBin, 3)
	l := newLedger(srv.URL)
	gen := newEvents(sites)
	const n = 300
	inFlight := make(chan struct{}, 16)
	var all sync.WaitGroup
	start := time.Now()
	for range n {
		ev := gen.next()
		inFlight <- struct{}{}
		all.Go(func() {
			defer func() { <-inFlight }()
			var copies sync.WaitGroup
			ready := make(chan struct{})
			for range 3 {
				copies.Go(func() { <-ready; l.deliver(ev) })
			}
			close(ready)
			copies.Wait()
		})
	}
	all.Wait()
	sent := time.Since(start)

	recs := l.records()
	stored := read(t, pg)
	p := problems{what: "events sent 3 times at once not answered accepted once and duplicate twice"}
	for _, r := range recs {
		var accepted, duplicate int
		for _, a := range r.answers {
			switch {
			case a.ok() && a.Outcome == "accepted":
				accepted++
			case a.ok() && a.Outcome == "duplicate":
				duplicate++
			}
		}
		if len(r.answers) != 3 || accepted != 1 || duplicate != 2 {
			p.add("%v: %s", r.event, r.history())
		}
		if d := stored.duplicates[keyOf(r.event)]; d != 2 {
			p.add("%v: %d repeats counted, want 2", r.event, d)
		}
	}
	p.report(t)
	checkNoDeadlocks(t, pg)
	checkAckedStored(t, stored, recs, "after 3 parallel deliveries each")
	took := waitDrained(t, pg, 30*time.Second)
	checkApplied(t, read(t, pg), recs)
	t.Logf("%d events sent 3 times at once (%d requests) in %v; drained %v later",
		len(recs), 3*len(recs), sent.Round(time.Millisecond), took.Round(time.Millisecond))
	srv.stop()
}
