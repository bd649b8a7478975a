package install

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// refreshMargin is how long before expiry a token is refreshed, so no call carries a token
// that dies on the way.
const refreshMargin = 5 * time.Minute

// tokenKeeper hands out sites' access tokens and refreshes them: single-flight per site in
// this process (singleflight) and across processes (the store's lock on the token row).
type tokenKeeper struct {
	db     *store.DB
	api    *thinkific.Client
	clock  stride.Clock
	log    *slog.Logger
	flight singleflight.Group
}

// siteTokens is a thinkific.TokenSource for one site.
type siteTokens struct {
	k    *tokenKeeper
	site *stride.Site
}

func (k *tokenKeeper) source(site *stride.Site) *siteTokens { return &siteTokens{k: k, site: site} }

func (s *siteTokens) Token(ctx context.Context) (string, error) {
	t, err := s.k.db.Tokens(ctx, s.site.ID)
	if err != nil {
		return "", err
	}
	if s.k.clock.Now().Add(refreshMargin).Before(t.Expiry) {
		return t.Access, nil
	}
	return s.Refresh(ctx, t.Access)
}

func (s *siteTokens) Refresh(ctx context.Context, stale string) (string, error) {
	v, err, _ := s.k.flight.Do(strconv.FormatInt(s.site.ID, 10), func() (any, error) {
		t, err := s.k.db.UpdateTokens(ctx, s.site.ID, func(cur stride.Tokens) (stride.Tokens, error) {
			if cur.Access != stale && s.k.clock.Now().Add(refreshMargin).Before(cur.Expiry) {
				return cur, nil // another process refreshed while we waited for the lock
			}
			g, err := s.k.api.Refresh(ctx, s.site.Subdomain, cur.Refresh)
			if err != nil {
				return cur, err
			}
			s.k.log.Info("tokens refreshed", "site", s.site.ID, "expires", g.Tokens.Expiry)
			return g.Tokens, nil
		})
		return t.Access, err
	})
	if err != nil {
		s.k.log.Warn("token refresh failed", "site", s.site.ID, "err", err)
		return "", err
	}
	return v.(string), nil
}
