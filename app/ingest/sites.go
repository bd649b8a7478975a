package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// siteCache keeps recent lookups of installed sites, by subdomain and by global id, so the
// webhook path does not read the sites table on every delivery. Only installed sites are
// kept: a site that is unknown or uninstalled is looked up again on every delivery (they
// are rare, and only signed deliveries get this far), so a reinstall is seen at once by
// every process. An uninstall is seen at once by the process that handled it and by the
// others within ttl.
type siteCache struct {
	db    *store.DB
	ttl   time.Duration
	clock stride.Clock
	mu    sync.Mutex
	m     map[string]cachedSite // "s:"+subdomain or "g:"+gid
}

type cachedSite struct {
	site *stride.Site
	at   time.Time
}

// bySubdomain and byGID return the installed site, or nil when there is none.
func (c *siteCache) bySubdomain(ctx context.Context, subdomain string) (*stride.Site, error) {
	return c.get(ctx, "s:"+subdomain, func() (*stride.Site, error) { return c.db.SiteBySubdomain(ctx, subdomain) })
}

func (c *siteCache) byGID(ctx context.Context, gid string) (*stride.Site, error) {
	return c.get(ctx, "g:"+gid, func() (*stride.Site, error) { return c.db.SiteByGID(ctx, gid) })
}

func (c *siteCache) get(ctx context.Context, key string, load func() (*stride.Site, error)) (*stride.Site, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.site, nil
	}
	site, err := load()
	if stride.ErrorCode(err) == stride.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !site.Installed() {
		c.forget(site)
		return nil, nil
	}
	c.mu.Lock()
	if len(c.m) > 100_000 { // bounded, whatever happens
		c.m = map[string]cachedSite{}
	}
	c.m[key] = cachedSite{site: site, at: now}
	c.mu.Unlock()
	return site, nil
}

// forget drops a site's entries, after it was uninstalled or reinstalled.
func (c *siteCache) forget(site *stride.Site) {
	c.mu.Lock()
	delete(c.m, "s:"+site.Subdomain)
	delete(c.m, "g:"+site.GID)
	c.mu.Unlock()
}
