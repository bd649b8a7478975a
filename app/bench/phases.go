package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/strideapp/stride/app/store"
)

// backlogGiveUp is how long the bench waits for the worker to apply a backlog.
const backlogGiveUp = 5 * time.Minute

// measure runs the phases against the server process pid and records them in rep. The
// fixed rate goes first, on a quiet server; each closed-loop burst follows once the worker
// has applied what came before, so that no phase pays for another's backlog. Sizes,
// memory and CPU are read on the way.
func (l *load) measure(ctx context.Context, o options, db *store.DB, meter *costMeter, pid int, rep *report) error {
	lesson, progress := l.step(time.Now())
	rep.bodies = [2]int{len(lesson.body), len(progress.body)}
	rss := watchRSS(pid, 100*time.Millisecond)
	defer func() { rep.maxRSS = rss() }()

	ids := l.siteIDs()
	// A second at the fixed rate, not counted, opens the connections (HTTP and the server's
	// database pool) and fills the site cache, as in a server that has been up a while.
	l.fixedRate(ctx, o.rate, time.Second, make(chan pendingStep, o.rate))
	if _, err := inboxWaiting(ctx, db, ids, backlogGiveUp); err != nil {
		return err
	}

	steps := make(chan pendingStep, o.rate*int(o.duration/time.Second+1)/2+1)
	watched := make(chan error, 1)
	go func() {
		var err error
		rep.pairing, err = watchPairing(ctx, db, steps)
		watched <- err
	}()
	before, spent := sampleCPU(pid), meter.sample(ctx, pid)
	rep.fixed = l.fixedRate(ctx, o.rate, o.duration, steps)
	rep.cpuFixed = before.to(sampleCPU(pid))
	fixedEnd := time.Now()
	close(steps)
	if err := <-watched; err != nil {
		return err
	}
	var err error
	if rep.fixedLeft, err = inboxWaiting(ctx, db, ids, backlogGiveUp); err != nil {
		return err
	}
	rep.fixedApplied = time.Since(fixedEnd)
	rep.costFixed = spent.to(meter.sample(ctx, pid), "serve", int64(len(rep.fixed.acked))-rep.fixedLeft)

	if rep.throughput, err = l.burst(ctx, o, db, meter, pid, ids); err != nil {
		return err
	}
	if rep.oneSite, err = l.onSite(0).burst(ctx, o, db, meter, pid, ids); err != nil {
		return err
	}
	rep.peakRSS = statusBytes(pid, "VmHWM")
	return nil
}

func (l *load) siteIDs() []int64 {
	ids := make([]int64, len(l.sites))
	for i, s := range l.sites {
		ids[i] = s.id
	}
	return ids
}

// onSite is a load that sends every step to the i-th site alone, over l's connections.
// Its steps carry on from l's, so its learners are further along than l's ever were.
func (l *load) onSite(i int) *load {
	one := &load{url: l.url, secret: l.secret, client: l.client, sites: l.sites[i : i+1], run: l.run}
	one.steps.Store(l.steps.Load())
	return one
}

// burst is a closed-loop phase and the worker catching up after it.
type burst struct {
	*phase
	left      int64         // events the worker had yet to apply when sending ended
	applied   time.Duration // from then until it had applied them all, or gave up
	unapplied int64         // events still not applied when the bench gave up
	cpu       cpuShare
	cost      cost
}

// burst sends from o.concurrency connections back to back for o.duration, then waits for
// the worker to apply what the phase left.
func (l *load) burst(ctx context.Context, o options, db *store.DB, meter *costMeter, pid int, ids []int64) (*burst, error) {
	before, spent := sampleCPU(pid), meter.sample(ctx, pid)
	b := &burst{phase: l.throughput(ctx, o.concurrency, o.duration)}
	end := time.Now()
	b.cpu = before.to(sampleCPU(pid))
	var err error
	if b.left, err = inboxWaiting(ctx, db, ids, 0); err != nil {
		return nil, err
	}
	if b.unapplied, err = inboxWaiting(ctx, db, ids, backlogGiveUp); err != nil {
		return nil, err
	}
	b.applied = time.Since(end)
	b.cost = spent.to(meter.sample(ctx, pid), "serve", int64(len(b.acked))-b.unapplied)
	return b, nil
}

// drain is `stride worker` alone applying a backlog.
type drain struct {
	events  int
	elapsed time.Duration // from the worker's start until it had applied them all, or gave up
	left    int64         // events it had not applied then
	cost    cost
}

// drainAlone times `stride worker` on a backlog with no server running: as many events as
// the fixed-rate phase sends, written to the inbox as the receiver writes them, then the
// worker started and timed from its start until the inbox holds none to apply.
func (l *load) drainAlone(ctx context.Context, o options, env map[string]string, db *store.DB, meter *costMeter, rep *report) error {
	n := int(int64(o.rate)*int64(o.duration)/int64(time.Second)) &^ 1
	if err := l.fillInbox(ctx, db, n, o.rate); err != nil {
		return err
	}
	ids := l.siteIDs()
	w, err := startStride(o.exe, "worker", env)
	if err != nil {
		return err
	}
	defer w.shutdown(30 * time.Second) // a no-op once stopped below
	start := time.Now()
	spent := meter.sample(ctx, w.pid)
	d := drain{events: n}
	for {
		left, err := inboxWaiting(ctx, db, ids, time.Second)
		if err != nil {
			return err
		}
		d.elapsed, d.left = time.Since(start), left
		select {
		case <-w.done:
			return fmt.Errorf("bench: stride worker ended while applying the backlog: %v", w.err)
		default:
		}
		if left == 0 || d.elapsed > backlogGiveUp || ctx.Err() != nil {
			break
		}
	}
	d.cost = spent.to(meter.sample(ctx, w.pid), "worker", int64(n)-d.left)
	if _, err := w.shutdown(30 * time.Second); err != nil {
		return fmt.Errorf("bench: stride worker: %w", err)
	}
	rep.drain = &d
	return nil
}

// fillInbox writes events accepted deliveries, the halves of learner steps that arrived at
// rate a second until now, in the receiver's batches.
func (l *load) fillInbox(ctx context.Context, db *store.DB, events, rate int) error {
	const batchSize = 500
	interval := time.Second / time.Duration(rate)
	start := time.Now().Add(-time.Duration(events) * interval)
	batch := make([]store.Delivery, 0, batchSize)
	for i := 0; i < events; i += 2 {
		at := start.Add(time.Duration(i) * interval)
		lesson, progress := l.step(at)
		for _, d := range []delivery{lesson, progress} {
			batch = append(batch, store.Delivery{SiteID: d.site.id, EventID: d.eventID, Topic: d.topic, Body: d.body,
				Status: store.StatusAccepted, ReceivedAt: at})
		}
		if len(batch) >= batchSize || i+2 >= events {
			if _, err := db.InsertDeliveries(ctx, batch); err != nil {
				return fmt.Errorf("bench: filling the inbox: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}
