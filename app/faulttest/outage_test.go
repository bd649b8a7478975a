//go:build fault

package faulttest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// The database going away under load: Stride answers every delivery within 3 s, with 503
// (never a 2xx) while PostgreSQL is down, takes deliveries again within 15 s of its return,
// and every 2xx it gave is in the inbox exactly once. Deliveries answered 503, sent again
// afterwards as Thinkific would, end up there exactly once too. A fast shutdown ends the
// server's sessions; an immediate one is a crash, followed by WAL recovery.
func TestPostgresStoppedDuringLoad(t *testing.T) {
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) { databaseOutage(t, mode) })
	}
}

const (
	maxAnswer   = 3 * time.Second  // Thinkific's patience, with margin
	maxRecovery = 15 * time.Second // from PostgreSQL's return to the first 2xx
)

func databaseOutage(t *testing.T, mode string) {
	pg, srv, sites := stack(t, strideBin, 3)
	l := newLedger(srv.URL)
	ctx, stopLoad := context.WithCancel(context.Background())
	waitLoad := l.load(ctx, newEvents(sites), 8)
	t.Cleanup(func() { stopLoad(); waitLoad() })

	time.Sleep(1500 * time.Millisecond)
	stopping := time.Now()
	if err := pg.Stop(mode); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(4 * time.Second)
	starting := time.Now()
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	back, ok := firstOK(l, starting, up.Add(maxRecovery+5*time.Second))
	time.Sleep(time.Second) // and some more load once it is back
	stopLoad()
	waitLoad()

	var outage, unavailable, slow int
	var maxOutage, maxAll time.Duration
	var last503 time.Time
	p := problems{what: "answers that break the outage contract (stopped " + clock(stopping) + ", down " + clock(down) +
		", restarting " + clock(starting) + ", up " + clock(up) + ")"}
	for _, a := range l.answers() {
		maxAll = max(maxAll, a.took())
		if a.Got.After(stopping) && a.Sent.Before(up) {
			outage++
			maxOutage = max(maxOutage, a.took())
		}
		if a.Status == http.StatusServiceUnavailable {
			unavailable++
			if a.Got.After(last503) {
				last503 = a.Got
			}
		}
		switch {
		case a.Status == 0:
			p.add("%v sent %s: %v; the server must answer", a.ev, clock(a.Sent), a.answer)
		case a.Status != http.StatusOK && a.Status != http.StatusServiceUnavailable:
			p.add("%v sent %s: answered %v; want 200, or 503 while the database is away", a.ev, clock(a.Sent), a.answer)
		case !a.Sent.Before(down) && !a.Got.After(starting) && a.Status != http.StatusServiceUnavailable:
			p.add("%v sent %s while PostgreSQL was down: answered %v; want 503", a.ev, clock(a.Sent), a.answer)
		}
		if a.took() > maxAnswer {
			slow++
			p.add("%v sent %s: answered %v; want an answer within %v", a.ev, clock(a.Sent), a.answer, maxAnswer)
		}
	}
	p.report(t)
	recovery := max(back.Sub(up), 0)
	if !ok {
		t.Errorf("no 2xx within %v of PostgreSQL's return (up at %s); want one within %v", maxRecovery+5*time.Second, clock(up), maxRecovery)
	} else if recovery > maxRecovery {
		t.Errorf("first 2xx %v after PostgreSQL's return (up at %s, 2xx at %s); want within %v", recovery, clock(up), clock(back), maxRecovery)
	}

	recs := l.records()
	acked := checkAckedStored(t, read(t, pg), recs, "after the outage, before any re-send")
	t.Logf("pg_ctl stop -m %s took %v, down %v, pg_ctl start took %v",
		mode, down.Sub(stopping).Round(time.Millisecond), starting.Sub(down).Round(time.Millisecond), up.Sub(starting).Round(time.Millisecond))
	t.Logf("events sent %d, acked %d, 503 answers %d (last %v after PostgreSQL was up), answers over %v: %d",
		len(recs), acked, unavailable, max(last503.Sub(up), 0).Round(time.Millisecond), maxAnswer, slow)
	t.Logf("during the outage: %d answers, the slowest in %v (slowest of the whole run %v); first 2xx %v after PostgreSQL was up",
		outage, maxOutage.Round(time.Millisecond), maxAll.Round(time.Millisecond), recovery.Round(time.Millisecond))
	if outage == 0 {
		t.Error("no delivery was answered during the outage: the test tested nothing")
	}

	unacked := len(l.unacked())
	if failed := l.resend(8); len(failed) > 0 {
		for _, r := range failed {
			t.Errorf("%v never got a 2xx when sent again: %s", r.event, r.history())
		}
	}
	took := waitDrained(t, pg, 30*time.Second)
	checkApplied(t, read(t, pg), l.records())
	checkOneAccepted(t, l.records())
	t.Logf("re-sent %d events answered 503; workers drained the inbox %v later", unacked, took.Round(time.Millisecond))
	checkNoDeadlocks(t, pg)
	srv.stop()
}

// firstOK waits for the first 2xx answered after since, until the deadline.
func firstOK(l *ledger, since, deadline time.Time) (time.Time, bool) {
	for time.Now().Before(deadline) {
		var first time.Time
		for _, a := range l.answers() {
			if a.ok() && a.Got.After(since) && (first.IsZero() || a.Got.Before(first)) {
				first = a.Got
			}
		}
		if !first.IsZero() {
			return first, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, false
}
