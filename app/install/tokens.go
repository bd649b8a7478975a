package install

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

const (
	// refreshMargin is how long before expiry a token is refreshed, so no call carries a
	// token that dies on the way.
	refreshMargin = 5 * time.Minute
	// refreshTimeout bounds one refresh — waiting for another process's, asking Thinkific
	// (its client gives up after 20 s), saving — whatever the caller's context says.
	refreshTimeout = 30 * time.Second
	// refreshLease outlasts refreshTimeout, so a lease never lapses under a running refresh.
	refreshLease = time.Minute
	// refreshPoll is how often a refresh waiting on another process's looks for its result.
	refreshPoll = 50 * time.Millisecond
)

// tokenKeeper hands out sites' access tokens and refreshes them: single-flight per site in
// this process (singleflight) and across processes (the store's refresh lease).
type tokenKeeper struct {
	db     *store.DB
	api    *thinkific.Client
	clock  stride.Clock
	log    *slog.Logger
	flight singleflight.Group

	metrics *metrics.Metrics
}

// siteTokens is a thinkific.TokenSource for one site.
type siteTokens struct {
	k    *tokenKeeper
	site *stride.Site
}

func (k *tokenKeeper) source(site *stride.Site) *siteTokens { return &siteTokens{k: k, site: site} }

func (s *siteTokens) SiteID() int64 { return s.site.ID }

func (s *siteTokens) Token(ctx context.Context) (string, error) {
	t, err := s.k.db.Tokens(ctx, s.site.ID)
	if err != nil {
		return "", err
	}
	if s.k.fresh(t) {
		return t.Access, nil
	}
	return s.Refresh(ctx, t.Access)
}

// Refresh runs apart from the caller's context: Thinkific rotates the refresh token as it
// answers, so once asked, the new pair must be saved even if the caller has gone (a
// deploy's SIGTERM), or the site is locked out. The caller may stop waiting.
func (s *siteTokens) Refresh(ctx context.Context, stale string) (string, error) {
	done := s.k.flight.DoChan(strconv.FormatInt(s.site.ID, 10), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return s.k.refresh(rctx, s.site, stale)
	})
	select {
	case r := <-done:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (k *tokenKeeper) fresh(t stride.Tokens) bool {
	return k.clock.Now().Add(refreshMargin).Before(t.Expiry)
}

// refresh replaces the site's access token stale. The store's lease makes it the only
// refresh of the site in any process; no transaction is open while Thinkific answers.
func (k *tokenKeeper) refresh(ctx context.Context, site *stride.Site, stale string) (string, error) {
	var cur stride.Tokens
	var until time.Time
	for {
		var claimed bool
		var err error
		until = k.clock.Now().Add(refreshLease)
		cur, claimed, err = k.db.ClaimTokenRefresh(ctx, site.ID, until)
		if err != nil {
			return "", err
		}
		if cur.Access != stale && k.fresh(cur) {
			// Someone else refreshed while we were on our way.
			if claimed {
				k.release(ctx, site, until)
			}
			return cur.Access, nil
		}
		if claimed {
			break
		}
		select {
		case <-ctx.Done():
			return "", stride.Wrap(stride.EUNAVAILABLE, ctx.Err(), "another refresh of the site's tokens did not finish")
		case <-time.After(refreshPoll):
		}
	}
	g, err := k.api.Refresh(ctx, site.Subdomain, cur.Refresh)
	if err != nil {
		k.release(ctx, site, until)
		if stride.ErrorCode(err) == stride.EUNAUTHORIZED {
			k.metrics.TokenRefresh(metrics.Refused)
			// invalid_grant: the refresh token is dead and only an admin installing again
			// gives Stride access to the site.
			k.log.Error("site needs reconnecting: Thinkific refused its refresh token", "site", site.ID, "subdomain", site.Subdomain)
			if err := k.db.MarkReconnectNeeded(ctx, site.ID); err != nil {
				k.log.Error("marking site for reconnection", "site", site.ID, "err", err)
			}
		} else {
			k.metrics.TokenRefresh(metrics.Failed)
			k.log.Warn("token refresh failed", "site", site.ID, "err", err)
		}
		return "", err
	}
	saved, err := k.db.SaveRefreshedTokens(ctx, site.ID, until, g.Tokens)
	if err != nil {
		k.metrics.TokenRefresh(metrics.Failed)
		k.log.Error("refreshed tokens not saved: the site may need reconnecting", "site", site.ID, "err", err)
		return "", err
	}
	k.metrics.TokenRefresh(metrics.Refreshed)
	k.log.Info("tokens refreshed", "site", site.ID, "expires", saved.Expiry)
	return saved.Access, nil
}

func (k *tokenKeeper) release(ctx context.Context, site *stride.Site, until time.Time) {
	if err := k.db.ReleaseTokenRefresh(ctx, site.ID, until); err != nil {
		k.log.Warn("token refresh lease not released", "site", site.ID, "err", err)
	}
}
