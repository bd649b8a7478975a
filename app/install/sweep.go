package install

import (
	"context"
	"time"
)

// retrySoon is when a site whose webhooks could not be reconciled is tried again.
const retrySoon = 15 * time.Minute

// Sweep reconciles the webhooks of every installed site that is due, so that webhooks
// Thinkific deactivated or someone deleted come back. Several processes may sweep at once:
// each site is claimed by one. It returns how many sites it reconciled.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		sites, err := s.db.ClaimWebhookSweep(ctx, s.clock.Now().Add(s.cfg.SweepInterval), 50)
		if err != nil {
			return n, err
		}
		if len(sites) == 0 {
			break
		}
		for _, site := range sites {
			rep, err := s.Reconcile(ctx, site)
			s.schedule(ctx, site, rep, err)
			n++
		}
	}
	if _, err := s.db.DeleteExpiredPendingInstalls(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// RunSweeper sweeps every tick until ctx ends. Sites carry their own due time, so a
// short tick costs one indexed query when nothing is due.
func (s *Service) RunSweeper(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("webhook sweep", "err", err)
		} else if n > 0 {
			s.log.Info("webhook sweep", "sites", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
