// Package progress turns the inbox into a site's records: it claims delivered events,
// applies them by event time, and pairs each lesson completion with its progress change.
package progress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// Config is the worker's settings, taken as given: the first three come from config.Config,
// which holds their defaults.
type Config struct {
	Window    time.Duration // pairing window, ±
	Grace     time.Duration // how long an uninstalled site's data is kept
	Retention time.Duration // how long the delivery log is kept
	Poll      time.Duration // how often Run looks for work without a wake-up; see DefaultPoll

	// Metrics counts what it applied and how long events waited; nil counts nothing.
	Metrics *metrics.Metrics
}

// DefaultPoll is how often a worker looks for work when nothing wakes it: a worker dyno has
// no receiver beside it, so this is how soon it sees a delivery.
const DefaultPoll = 250 * time.Millisecond

const (
	maxAttempts = 10  // tries before an event is parked as failed
	batchSize   = 500 // events per transaction: a step shows paired when its batch commits; a batch costs statements per table, not per event
	concurrency = 2   // batches applied at once in this process
)

// Worker applies inbox events. Several may run, in one process or many.
type Worker struct {
	db    *store.DB
	cfg   Config
	clock stride.Clock
	log   *slog.Logger
	wake  chan struct{}
}

// New returns a worker.
func New(db *store.DB, cfg Config, clock stride.Clock, log *slog.Logger) *Worker {
	return &Worker{db: db, cfg: cfg, clock: clock, log: log, wake: make(chan struct{}, concurrency)}
}

// Wake tells the worker there is new work; it never blocks.
func (w *Worker) Wake() {
	for range concurrency {
		select {
		case w.wake <- struct{}{}:
		default:
			return
		}
	}
}

// Run works until ctx ends: concurrency loops take batches from the inbox as it fills (on
// PostgreSQL they claim disjoint rows), and every ten minutes one trims the delivery log and
// deletes the data of sites uninstalled past their grace period.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() { w.loop(ctx, i == 0) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx context.Context, upkeep bool) {
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	var lastUpkeep, lastAdopt time.Time
	lastPace := time.Now() // not at start: a worker starting on a backlog applies it first
	for ctx.Err() == nil {
		if upkeep && time.Since(lastAdopt) > adoptEvery {
			lastAdopt = time.Now()
			w.Adopt(ctx)
		}
		n, busy, err := w.drain(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("worker", "err", err)
		} else if n > 0 {
			w.log.Debug("worker applied events", "events", n)
		}
		if upkeep && time.Since(lastUpkeep) > 10*time.Minute {
			lastUpkeep = time.Now()
			w.upkeep(ctx)
		}
		if upkeep && time.Since(lastPace) > paceEvery {
			lastPace = time.Now()
			if err := w.db.RefreshPace(ctx); err != nil && ctx.Err() == nil {
				w.log.Error("counting pace and cohorts", "err", err)
			}
		}
		var soon <-chan time.Time
		if busy {
			// The other loop holds what this one claimed: look again once its batch has
			// likely committed, not a whole poll later.
			soon = time.After(busyWait)
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-poll.C:
		case <-soon:
		}
	}
}

// Drain processes batches until the inbox has nothing due, and returns how many events
// it handled. A batch that fails is undone whole; its events are then tried one per
// transaction, so that one event the database refuses is parked alone and the rest go on.
// A failure that is the database's moment (see store.Transient) counts against no event:
// Drain stops and the loop tries again later.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	n, _, err := w.drain(ctx)
	return n, err
}

// busyWait is how long a loop whose batch another worker held waits before it looks again.
const busyWait = 20 * time.Millisecond

// drain is Drain, and says whether it stopped because another worker held every event of
// its batch (see lock).
func (w *Worker) drain(ctx context.Context) (total int, busy bool, err error) {
	for ctx.Err() == nil {
		rows, err := w.applyBatch(ctx, together)
		switch {
		case err == nil:
			total += len(rows)
			if len(rows) < batchSize {
				return total, false, nil
			}
		case errors.Is(err, errBusy):
			return total, true, nil
		case store.Transient(err) || len(rows) == 0:
			return total, false, err
		default:
			w.log.Info("batch failed; applying its events one at a time", "events", len(rows), "err", err)
			n, err := w.drainAlone(ctx, len(rows))
			total += n
			if err != nil {
				return total, false, err
			}
		}
	}
	return total, false, nil
}

// The two ways a batch is applied.
type mode int

const (
	together mode = iota // up to batchSize due events in one transaction: the usual way
	alone                // one event per transaction, after a batch failed: a refused event is parked without the others
)

// batchTimeout bounds one batch's transaction.
const batchTimeout = 30 * time.Second

// applyBatch claims due events and applies them in one transaction; the first error undoes
// it whole. It returns the rows it claimed, whether or not they applied. A batch once begun
// is finished even when ctx ends (shutdown): it takes milliseconds, and one cut off would
// leave its rows locked until the database notices the connection is gone.
func (w *Worker) applyBatch(ctx context.Context, m mode) ([]store.InboxRow, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	tx, err := w.db.BeginWork(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	limit := batchSize
	if m == alone {
		limit = 1
	}
	rows, err := tx.Claim(limit)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	jobs, err := w.read(tx, rows)
	if err != nil {
		return rows, err
	}
	parked := len(rows) - len(jobs) // unreadable: parked with the batch
	// By event time, each step finds the one it moved from already applied: only an event
	// older than what earlier batches stored needs its neighbours looked up.
	slices.SortStableFunc(jobs, func(a, b *job) int { return a.ev.CreatedAt.Compare(b.ev.CreatedAt) })
	if jobs, err = lock(tx, m, jobs); err != nil {
		return rows, err
	}
	if err := tx.Prefetch(enrollmentsOf(jobs)); err != nil {
		return rows, err
	}
	if err := tx.PrefetchJourneys(journeysOf(jobs)); err != nil {
		return rows, err
	}
	var added []*store.Half
	for _, j := range jobs {
		if err := w.apply(tx.Site(j.row.SiteID), j); err != nil {
			return rows, err
		}
		added = append(added, j.added...)
	}
	flushed, err := tx.FlushHalves()
	if err != nil {
		return rows, err
	}
	for _, j := range jobs {
		if j.enrolled != nil {
			e := j.enrollment
			if err := w.settleFirstStep(tx.Site(j.row.SiteID), int64(e.User.ID), int64(e.CourseID), *j.enrolled); err != nil {
				return rows, err
			}
		}
	}
	halves := append(added, flushed...)
	if err := w.rematchBatch(tx, halves); err != nil {
		return rows, err
	}
	if err := tx.Write(); err != nil {
		return rows, err
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.row.ID
	}
	if err := tx.MarkProcessed(ids); err != nil {
		return rows, err
	}
	if err := tx.Commit(); err != nil {
		return rows, err
	}
	w.cfg.Metrics.Applied(len(jobs), stepWaits(jobs, halves, w.clock.Now()))
	w.cfg.Metrics.EventFailed(metrics.Parked, parked)
	return rows, nil
}

// drainAlone applies up to n due events, each in its own transaction, and marks each one
// that fails: retried later, or failed for good when the event or the database says it can
// never apply.
func (w *Worker) drainAlone(ctx context.Context, n int) (int, error) {
	done := 0
	for range n {
		if ctx.Err() != nil {
			return done, nil
		}
		rows, err := w.applyBatch(ctx, alone)
		if len(rows) == 0 {
			return done, err
		}
		done++
		if err == nil {
			continue
		}
		if store.Transient(err) {
			return done, err
		}
		row := rows[0]
		if store.Refused(err) || row.Attempts+1 >= maxAttempts {
			w.log.Warn("event failed", "site", row.SiteID, "event", row.EventID, "topic", row.Topic, "attempts", row.Attempts+1, "err", err)
			err = w.db.MarkFailed(ctx, row, err)
			w.cfg.Metrics.EventFailed(metrics.Parked, 1)
		} else {
			w.log.Info("event will be retried", "site", row.SiteID, "event", row.EventID, "attempt", row.Attempts+1, "err", err)
			err = w.db.MarkRetry(ctx, row, err, w.clock.Now().Add(backoff(row.Attempts)))
			w.cfg.Metrics.EventFailed(metrics.Retry, 1)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// paceEvery is how often the pace and cohort rollups of courses that moved are counted
// again, so that a course page rarely pays for it.
const paceEvery = 2 * time.Minute

// adoptEvery is how often held deliveries are offered to newly installed sites.
const adoptEvery = 2 * time.Second

// Adopt moves deliveries held for want of an installed site into the inbox of the site
// that is now installed (see store.Unrouted).
func (w *Worker) Adopt(ctx context.Context) {
	if n, err := w.db.AdoptUnrouted(ctx); err != nil && ctx.Err() == nil {
		w.log.Error("routing held deliveries", "err", err)
	} else if n > 0 {
		w.log.Info("held deliveries routed to their site", "deliveries", n)
		w.Wake()
	}
}

func (w *Worker) upkeep(ctx context.Context) {
	w.ResealTokens(ctx)
	if n, err := w.db.DeleteOldDeliveries(ctx, w.clock.Now().Add(-w.cfg.Retention)); err != nil && ctx.Err() == nil {
		w.log.Error("delivery log retention", "err", err)
	} else if n > 0 {
		w.log.Info("delivery log trimmed", "rows", n)
	}
	if n, err := w.db.PurgeUninstalled(ctx); err != nil && ctx.Err() == nil {
		w.log.Error("purging uninstalled sites", "err", err)
	} else if n > 0 {
		w.log.Info("data of uninstalled sites deleted", "sites", n)
	}
}

// read decodes a batch's rows. An event that cannot be read at all is parked at once,
// with the batch.
func (w *Worker) read(tx *store.WorkTx, rows []store.InboxRow) ([]*job, error) {
	jobs := make([]*job, 0, len(rows))
	now := w.clock.Now()
	for _, row := range rows {
		j := decode(row)
		if j.err == nil && j.ev.CreatedAt.After(now.Add(stride.ClockSkew)) {
			j.err = fmt.Errorf("%w: the event time %s is ahead of Stride's clock; replay it once that time has passed",
				events.ErrPayload, j.ev.CreatedAt.Format(time.RFC3339))
		}
		if j.err != nil {
			w.log.Warn("event failed", "site", row.SiteID, "event", row.EventID, "topic", row.Topic, "err", j.err)
			if err := tx.Failed(row, j.err); err != nil {
				return nil, err
			}
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// errBusy says every event of a batch touches records another worker is applying.
var errBusy = errors.New("every event of the batch waits for another worker")

// lock takes the locks of the batch's events and returns the events it may apply. Together,
// it takes only the locks free now: an event whose records another worker holds is left
// for a later batch rather than waited for, so two workers whose batches are neighbours
// (a learner step's two halves, one in each) work at once instead of in turn. When no event
// is free, the batch is given up (errBusy). Alone, the one event waits for its locks.
func lock(tx *store.WorkTx, m mode, jobs []*job) ([]*job, error) {
	keys := lockKeysOf(jobs)
	if m == alone {
		return jobs, tx.Lock(keys)
	}
	held, err := tx.TryLock(keys)
	if err != nil {
		return nil, err
	}
	free := jobs[:0:0]
	for _, j := range jobs {
		if !slices.ContainsFunc(j.locks, func(k int64) bool { return !held[k] }) {
			free = append(free, j)
		}
	}
	if len(free) == 0 && len(jobs) > 0 {
		return nil, errBusy
	}
	return free, nil
}

// lockKeysOf is every lock the batch's events need, sorted (see lockKeys).
func lockKeysOf(jobs []*job) []int64 {
	var keys []int64
	for _, j := range jobs {
		keys = append(keys, j.locks...)
	}
	return sortedUnique(keys)
}

// enrollmentsOf is every enrollment the batch's events name, for Prefetch.
func enrollmentsOf(jobs []*job) []store.EnrollmentKey {
	var keys []store.EnrollmentKey
	for _, j := range jobs {
		if j.enrollment != nil {
			keys = append(keys, store.EnrollmentKey{SiteID: j.row.SiteID, ID: int64(j.enrollment.ID)})
		} else if j.lesson != nil && j.lesson.Enrollment.ID != 0 {
			keys = append(keys, store.EnrollmentKey{SiteID: j.row.SiteID, ID: int64(j.lesson.Enrollment.ID)})
		}
	}
	return keys
}

// journeysOf is every learner journey the batch's enrollment events name, for
// PrefetchJourneys.
func journeysOf(jobs []*job) []store.JourneyKey {
	var keys []store.JourneyKey
	for _, j := range jobs {
		if e := j.enrollment; e != nil {
			keys = append(keys, store.JourneyKey{SiteID: j.row.SiteID, LearnerID: int64(e.User.ID), CourseID: int64(e.CourseID)})
		}
	}
	return keys
}

// backoff is 1 s, 2 s, 4 s, ... up to an hour between tries.
func backoff(attempts int) time.Duration {
	return time.Duration(math.Min(math.Pow(2, float64(attempts)), 3600)) * time.Second
}
