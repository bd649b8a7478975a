package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// siteCache keeps recent subdomain lookups, so the webhook path does not read the sites
// table on every delivery. Entries live a few seconds: an uninstall or a new install is seen
// by every process within that time (and at once by the process that handled it).
type siteCache struct {
	db    *store.DB
	ttl   time.Duration
	clock stride.Clock
	mu    sync.Mutex
	m     map[string]cachedSite
}

type cachedSite struct {
	site *stride.Site // nil: no such site
	at   time.Time
}

func (c *siteCache) get(ctx context.Context, subdomain string) (*stride.Site, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[subdomain]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.site, nil
	}
	site, err := c.db.SiteBySubdomain(ctx, subdomain)
	if err != nil && stride.ErrorCode(err) != stride.ENOTFOUND {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 100_000 { // junk subdomains must not grow it without bound
		c.m = map[string]cachedSite{}
	}
	c.m[subdomain] = cachedSite{site: site, at: now}
	c.mu.Unlock()
	return site, nil
}

func (c *siteCache) forget(subdomain string) {
	c.mu.Lock()
	delete(c.m, subdomain)
	c.mu.Unlock()
}
