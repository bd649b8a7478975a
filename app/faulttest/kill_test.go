//go:build fault

package faulttest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A crashed dyno (SIGKILL, no graceful shutdown) in the middle of a stream of deliveries
// loses nothing it acknowledged and applies nothing twice: every 2xx is in the inbox exactly
// once before anything is re-sent, and the deliveries left unanswered, sent again as
// Thinkific's retries would, end up there exactly once too.
func TestKillServerDuringLoad(t *testing.T) {
	pg, srv, sites := stack(t, strideBin, 3)
	l := newLedger(srv.URL)
	ctx, stopLoad := context.WithCancel(context.Background())
	waitLoad := l.load(ctx, newEvents(sites), 8)
	t.Cleanup(func() { stopLoad(); waitLoad() })

	time.Sleep(1500 * time.Millisecond)
	killedAt := time.Now()
	srv.kill()
	time.Sleep(300 * time.Millisecond) // Thinkific keeps sending while the dyno is down
	restartingAt := time.Now()
	srv.start()
	healthyAt := time.Now()
	time.Sleep(time.Second)
	stopLoad()
	waitLoad()

	recs := l.records()
	var answers, beforeKill, inFlight, down, other int
	p := problems{what: "answers other than 200 or no answer"}
	for _, r := range recs {
		for _, a := range r.answers {
			answers++
			switch {
			case a.Status == http.StatusOK:
				if a.Got.Before(killedAt) {
					beforeKill++
				}
			case a.Status == 0 && a.Sent.Before(killedAt):
				inFlight++ // sent to the process that was killed; its answer died with it
			case a.Status == 0:
				down++
			default:
				other++
				p.add("%v: answered %v (sent %s), while the database was up", r.event, a, clock(a.Sent))
			}
		}
	}
	p.report(t)
	stored := read(t, pg)
	acked := checkAckedStored(t, stored, recs, "after the kill and restart, before any re-send")
	var lostAnswers int // unanswered, yet committed: the re-send must be a duplicate
	for _, r := range l.unacked() {
		if len(stored.inbox[keyOf(r.event)]) > 0 {
			lostAnswers++
		}
	}
	t.Logf("events sent %d (answers %d); acked %d (%d before the kill); killed at +1.5 s with %d requests in flight, %d refused while down, %d other answers",
		len(recs), answers, acked, beforeKill, inFlight, down, other)
	t.Logf("restart: healthy %v after start; %d unanswered deliveries were committed anyway (their answers died with the process)",
		healthyAt.Sub(restartingAt).Round(time.Millisecond), lostAnswers)

	unacked := len(l.unacked())
	if failed := l.resend(8); len(failed) > 0 {
		for _, r := range failed {
			t.Errorf("%v never got a 2xx when sent again: %s", r.event, r.history())
		}
	}
	took := waitDrained(t, pg, 30*time.Second)
	checkApplied(t, read(t, pg), l.records())
	checkOneAccepted(t, l.records())
	t.Logf("re-sent %d unanswered events; workers drained the inbox %v later", unacked, took.Round(time.Millisecond))
	checkNoDeadlocks(t, pg)
	srv.stop()
}
