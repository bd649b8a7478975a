package install

import (
	"context"
	"time"

	"github.com/strideapp/stride/app/stride"
)

const (
	// retrySoon is when a site missing a webhook for a passing reason (Thinkific not
	// answering, its rate limit) is tried again: the sweep ticks every minute.
	retrySoon = time.Minute
	// retryRefused is when a site whose webhooks Thinkific refused (422) is tried again:
	// a refusal does not change from one minute to the next.
	retryRefused = 15 * time.Minute
)

// Sweep reconciles the webhooks of every installed site that is due, so that webhooks
// Thinkific deactivated or someone deleted come back. Several processes may sweep at once:
// each site is claimed by one. It returns how many sites it reconciled.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		sites, err := s.db.ClaimWebhookSweep(ctx, s.clock.Now().Add(webhookLease), 50)
		if err != nil {
			return n, err
		}
		if len(sites) == 0 {
			break
		}
		for _, site := range sites {
			rctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
			rep, err := s.Reconcile(rctx, site)
			cancel()
			s.release(site, rep, err)
			n++
		}
	}
	return n, nil
}

// release ends a reconcile: it frees the site's lease and sets when the sweep next looks at
// the site, soon when a webhook is missing, a full interval otherwise. It runs even when
// the reconcile's context ended, or the lease would stay held until it lapses.
func (s *Service) release(site *stride.Site, rep Report, err error) {
	next := s.cfg.SweepInterval
	switch {
	case err != nil || (len(rep.Failed) > 0 && !rep.Refused):
		next = min(next, retrySoon)
	case len(rep.Failed) > 0:
		next = min(next, retryRefused)
	}
	if err != nil || len(rep.Failed) > 0 {
		s.log.Warn("webhooks not fully registered", "site", site.ID, "failed", rep.Failed, "err", err, "retry_in", next)
	} else if len(rep.Created)+len(rep.Replaced) > 0 {
		s.log.Info("webhooks registered", "site", site.ID, "created", rep.Created, "replaced", rep.Replaced)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.db.ReleaseWebhooks(ctx, site.ID, s.clock.Now().Add(next)); err != nil {
		s.log.Error("scheduling webhook sweep", "site", site.ID, "err", err)
	}
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
