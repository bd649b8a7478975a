// Package progress turns the inbox into a site's records: it claims delivered events,
// applies them by event time, and pairs each lesson completion with its progress change.
package progress

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// Config tunes the worker.
type Config struct {
	Window      time.Duration // pairing window, ± (default 500 ms)
	Grace       time.Duration // how long an uninstalled site's data is kept (default 30 days)
	Retention   time.Duration // how long the delivery log is kept (default 30 days)
	MaxAttempts int           // tries before an event is parked as failed (default 10)
	Batch       int           // events per transaction (default 50: a step shows paired when its batch commits)
	Concurrency int           // batches applied at once in this process (default 2)
	Poll        time.Duration // how often to look for work without a wake-up (default 250 ms)
}

// Worker applies inbox events. Several may run, in one process or many.
type Worker struct {
	db          *store.DB
	cfg         Config
	clock       stride.Clock
	log         *slog.Logger
	wake        chan struct{}
	onUninstall func(siteID int64)
}

// New returns a worker; onUninstall (may be nil) hears of each site it uninstalls.
func New(db *store.DB, cfg Config, clock stride.Clock, log *slog.Logger, onUninstall func(siteID int64)) *Worker {
	if cfg.Window == 0 {
		cfg.Window = 500 * time.Millisecond
	}
	if cfg.Grace == 0 {
		cfg.Grace = 30 * 24 * time.Hour
	}
	if cfg.Retention == 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Batch == 0 {
		cfg.Batch = 50
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 2
	}
	if cfg.Poll == 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if onUninstall == nil {
		onUninstall = func(int64) {}
	}
	return &Worker{db: db, cfg: cfg, clock: clock, log: log, wake: make(chan struct{}, cfg.Concurrency), onUninstall: onUninstall}
}

// Wake tells the worker there is new work; it never blocks.
func (w *Worker) Wake() {
	for range w.cfg.Concurrency {
		select {
		case w.wake <- struct{}{}:
		default:
			return
		}
	}
}

// Run works until ctx ends: Concurrency loops take batches from the inbox as it fills (on
// PostgreSQL they claim disjoint rows), and every ten minutes one trims the delivery log and
// deletes the data of sites uninstalled past their grace period.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.cfg.Concurrency {
		wg.Go(func() { w.loop(ctx, i == 0) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx context.Context, upkeep bool) {
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	var lastUpkeep time.Time
	for ctx.Err() == nil {
		n, err := w.Drain(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("worker", "err", err)
		} else if n > 0 {
			w.log.Debug("worker applied events", "events", n)
		}
		if upkeep && time.Since(lastUpkeep) > 10*time.Minute {
			lastUpkeep = time.Now()
			w.upkeep(ctx)
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-poll.C:
		}
	}
}

// Drain processes batches until the inbox has nothing due, and returns how many events
// it handled.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	total, careful := 0, false
	for {
		n, err := w.db.ClaimInbox(ctx, w.cfg.Batch, careful, w.process)
		if err != nil && !careful {
			careful = true
			continue // the same rows again, each in a savepoint, to find which one fails
		}
		careful = false
		total += n
		if err != nil || n < w.cfg.Batch {
			return total, err
		}
	}
}

func (w *Worker) upkeep(ctx context.Context) {
	w.ResealTokens(ctx)
	if n, err := w.db.DeleteOldDeliveries(ctx, w.clock.Now().Add(-w.cfg.Retention)); err != nil {
		w.log.Error("delivery log retention", "err", err)
	} else if n > 0 {
		w.log.Info("delivery log trimmed", "rows", n)
	}
	if n, err := w.db.PurgeUninstalled(ctx); err != nil {
		w.log.Error("purging uninstalled sites", "err", err)
	} else if n > 0 {
		w.log.Info("data of uninstalled sites deleted", "sites", n)
	}
}

// process applies one claimed batch in its transaction. Quickly, the first error aborts the
// batch; carefully (see store.ClaimInbox), each event succeeds or fails on its own.
func (w *Worker) process(tx *store.WorkTx, rows []store.InboxRow) error {
	jobs := make([]*job, len(rows))
	var keys []int64
	for i, row := range rows {
		jobs[i] = decode(row)
		keys = append(keys, jobs[i].locks...)
	}
	if err := tx.Lock(sortedUnique(keys)); err != nil {
		return err
	}
	var enrollments [][2]int64
	for _, j := range jobs {
		if j.enrollment != nil {
			enrollments = append(enrollments, [2]int64{j.row.SiteID, int64(j.enrollment.ID)})
		} else if j.lesson != nil && j.lesson.Enrollment.ID != 0 {
			enrollments = append(enrollments, [2]int64{j.row.SiteID, int64(j.lesson.Enrollment.ID)})
		}
	}
	if err := tx.Prefetch(enrollments); err != nil {
		return err
	}
	now := w.clock.Now()
	var added []*store.Half
	for _, j := range jobs {
		j.deferRematch = !tx.Careful()
		err := j.err
		if err == nil {
			err = tx.Apply(j.row, func(s *store.SiteTx) error { return w.apply(s, j) })
		}
		switch {
		case err == nil:
			tx.Processed(j.row)
			added = append(added, j.added...)
		case !tx.Careful():
			return err
		case errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrPayload) || j.row.Attempts+1 >= w.cfg.MaxAttempts:
			w.log.Warn("event failed", "site", j.row.SiteID, "event", j.row.EventID, "topic", j.row.Topic, "err", err)
			err = tx.Failed(j.row, err)
		default:
			w.log.Info("event will be retried", "site", j.row.SiteID, "event", j.row.EventID, "attempt", j.row.Attempts+1, "err", err)
			err = tx.Retry(j.row, err, now.Add(backoff(j.row.Attempts)))
		}
		if err != nil {
			return err
		}
	}
	flushed, err := tx.FlushHalves()
	if err != nil {
		return err
	}
	return w.rematchBatch(tx, append(added, flushed...))
}

// backoff is 1 s, 2 s, 4 s, ... up to an hour between tries.
func backoff(attempts int) time.Duration {
	return time.Duration(math.Min(math.Pow(2, float64(attempts)), 3600)) * time.Second
}
