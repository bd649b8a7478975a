// Package ingest receives Thinkific's webhook deliveries: verify, route to the site, store in
// the inbox exactly once, answer. The one event applied on this path is app.uninstalled, so
// that access ends at once.
package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// Config is the receiver's settings, taken as given (config.Config holds their defaults).
type Config struct {
	Secrets []string // client secrets that may sign deliveries, current first
	// WaitForLesson answers 409 to an enrollment.progress whose lesson.completed is not in
	// yet, so that Thinkific's retries do the waiting. It makes Stride's webhooks look
	// failing to Thinkific. Window is the pairing window it looks in.
	WaitForLesson bool
	Window        time.Duration
	Grace         time.Duration // how long an uninstalled site's data is kept
}

const (
	commitTimeout = 2500 * time.Millisecond // longest a delivery may wait for its commit
	commitBatch   = 256                     // most deliveries per commit
	committers    = 2                       // commits in flight at once
	siteTTL       = 5 * time.Second         // how long a site lookup is cached
)

// Receiver takes deliveries in.
type Receiver struct {
	cfg    Config
	db     *store.DB
	sites  *siteCache
	commit *committer
	clock  stride.Clock
	log    *slog.Logger
	notify func() // wakes the local worker
	Stats  Stats
}

// Stats count outcomes since start.
type Stats struct {
	Accepted, Duplicate, Quarantined, Test, Held, BadSignature, Unavailable atomic.Int64
}

// New starts a receiver; notify (may be nil) is called after each new delivery commits.
func New(db *store.DB, cfg Config, clock stride.Clock, log *slog.Logger, notify func()) *Receiver {
	if notify == nil {
		notify = func() {}
	}
	return &Receiver{cfg: cfg, db: db, clock: clock, log: log, notify: notify,
		sites:  &siteCache{db: db, ttl: siteTTL, clock: clock, m: map[string]cachedSite{}},
		commit: newCommitter(db, commitBatch, committers, commitTimeout)}
}

// Outcome is what became of a delivery.
type Outcome string

const (
	Accepted    Outcome = "accepted"    // new, stored, waiting for a worker
	Duplicate   Outcome = "duplicate"   // already stored: nothing changed
	Quarantined Outcome = "quarantined" // signed but not applicable as it is: stored for a person to look at
	Test        Outcome = "test"        // a test delivery from the Thinkific admin: logged, never applied
	Held        Outcome = "held"        // signed, but no installed site is named: kept until one is
)

// Result says what happened to a delivery.
type Result struct {
	Outcome Outcome
	Site    *stride.Site     // nil when held
	Event   *events.Envelope // nil when the body is not a readable event
	EventID string
}

// Receive verifies and stores one delivery. The site is the one the signed body names
// (tenant_global_id); the unsigned X-Thinkific-Subdomain header is used only when the body
// names none. A signed delivery that names no installed site is held, not dropped. Errors:
// EUNAUTHORIZED for a bad signature, EINVALID when neither the body nor the header names a
// site, EUNAVAILABLE when the delivery cannot be stored in time. With an error, the Result
// holds the event of a signed delivery, when it is readable, and nothing else.
//
// An accepted app.uninstalled is applied before Receive returns: the site is locked out at
// once, not when a worker gets to it (the worker's apply is a no-op then). Should that
// fail, the stored event still brings it about through the worker.
func (r *Receiver) Receive(ctx context.Context, subdomain, signature string, body []byte) (Result, error) {
	res, err := r.receive(ctx, subdomain, signature, body)
	if err == nil && res.Outcome == Accepted && res.Event.Topic() == stride.TopicAppUninstalled {
		r.uninstall(ctx, res.Site, res.Event)
	}
	return res, err
}

func (r *Receiver) uninstall(ctx context.Context, site *stride.Site, ev *events.Envelope) {
	if acted, err := r.db.Uninstall(ctx, site.ID, ev.CreatedAt, r.cfg.Grace); err != nil {
		r.log.Error("uninstall", "site", site.ID, "err", err)
	} else if acted {
		r.log.Info("site uninstalled", "site", site.ID, "subdomain", site.Subdomain)
	}
	r.Forget(site)
}

func (r *Receiver) receive(ctx context.Context, subdomain, signature string, body []byte) (Result, error) {
	if !r.verify(signature, body) {
		r.Stats.BadSignature.Add(1)
		r.log.Warn("webhook refused: bad signature", "bytes", len(body), "refused_total", r.Stats.BadSignature.Load())
		return Result{}, stride.Errorf(stride.EUNAUTHORIZED, "signature does not match")
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	now := r.clock.Now()
	d := store.Delivery{Body: body, Status: store.StatusAccepted, ReceivedAt: now}
	ev, err := events.ParseEnvelope(body)
	switch {
	case err != nil:
		ev = nil
		d.EventID, d.Status, d.Note = contentID(body), store.StatusQuarantined, err.Error()
	case !events.ValidKey(ev.ID):
		d.EventID, d.Status, d.Note = contentID(body), store.StatusQuarantined, "the event id is not printable text"
	default:
		d.EventID, d.Topic = ev.ID, ev.Topic()
		switch {
		case !events.ValidKey(d.Topic) || !events.KnownTopic(d.Topic):
			if !events.ValidKey(d.Topic) {
				d.Topic = ""
			}
			d.Status, d.Note = store.StatusQuarantined, "not a topic Thinkific sends"
		case ev.CreatedAt.After(now.Add(stride.ClockSkew)):
			d.Status, d.Note = store.StatusQuarantined, "the event time "+ev.CreatedAt.Format(time.RFC3339)+
				" is ahead of Stride's clock; replay it once that time has passed, or if the clock was wrong"
		case events.IsTestDelivery(ev):
			d.Status = store.StatusTest
		}
	}

	site, routeKey, why, err := r.route(ctx, subdomain, ev)
	if err != nil {
		r.Stats.Unavailable.Add(1)
		return Result{Event: ev}, err
	}
	if site == nil {
		return r.hold(ctx, d, ev, routeKey, why)
	}
	d.SiteID = site.ID
	if d.Status == store.StatusAccepted {
		if err := r.waitForLesson(ctx, site, ev); err != nil {
			return Result{Event: ev}, err
		}
	}
	isNew, err := r.commit.submit(ctx, d)
	if err != nil {
		r.Stats.Unavailable.Add(1)
		return Result{Event: ev}, err
	}
	res := Result{Site: site, Event: ev, EventID: d.EventID}
	switch {
	case !isNew:
		res.Outcome = Duplicate
		r.Stats.Duplicate.Add(1)
	case d.Status == store.StatusQuarantined:
		res.Outcome = Quarantined
		r.Stats.Quarantined.Add(1)
		r.log.Warn("webhook quarantined", "site", site.ID, "event", d.EventID, "topic", d.Topic, "why", d.Note)
	case d.Status == store.StatusTest:
		res.Outcome = Test
		r.Stats.Test.Add(1)
		r.log.Info("Thinkific test event received", "site", site.ID, "topic", d.Topic)
	default:
		res.Outcome = Accepted
		r.Stats.Accepted.Add(1)
		r.notify()
	}
	return res, nil
}

// route finds the installed site a delivery belongs to. It returns nil and the route key
// to hold the delivery under when there is none yet.
func (r *Receiver) route(ctx context.Context, subdomain string, ev *events.Envelope) (site *stride.Site, routeKey, why string, err error) {
	if ev != nil && ev.TenantGlobalID != "" {
		gid := ev.TenantGlobalID
		if !events.ValidKey(gid) {
			return nil, "", "", stride.Errorf(stride.EINVALID, "tenant_global_id is not printable text")
		}
		if site, err = r.sites.byGID(ctx, gid); err != nil || site != nil {
			if site != nil && subdomain != site.Subdomain {
				r.log.Info("webhook routed by its signed site, not its subdomain header", "site", site.ID, "subdomain", site.Subdomain)
			}
			return site, "", "", err
		}
		return nil, store.RouteByGID(gid), "no installed site has the signed tenant_global_id", nil
	}
	if !stride.ValidSubdomain(subdomain) {
		return nil, "", "", stride.Errorf(stride.EINVALID, "the event names no site and X-Thinkific-Subdomain is not a subdomain")
	}
	if site, err = r.sites.bySubdomain(ctx, subdomain); err != nil {
		return nil, "", "", err
	}
	switch {
	case site == nil:
		return nil, store.RouteBySubdomain(subdomain), "no installed site has this subdomain", nil
	case ev != nil && ev.TenantID != "" && site.TenantID != "" && ev.TenantID != site.TenantID:
		// The signed tenant_id is another site's than the header names: neither is trusted.
		return nil, "tenant:" + ev.TenantID, "the signed tenant_id is not the subdomain header's site", nil
	}
	return site, "", "", nil
}

// hold keeps a signed delivery that no installed site can take yet (see store.Unrouted).
func (r *Receiver) hold(ctx context.Context, d store.Delivery, ev *events.Envelope, routeKey, why string) (Result, error) {
	isNew, err := r.db.HoldUnrouted(ctx, store.Unrouted{RouteKey: routeKey, EventID: d.EventID, Topic: d.Topic, Body: d.Body,
		Status: d.Status, Reason: why, ReceivedAt: d.ReceivedAt})
	if err != nil {
		r.Stats.Unavailable.Add(1)
		return Result{Event: ev}, err
	}
	if !isNew {
		r.Stats.Duplicate.Add(1)
		return Result{Outcome: Duplicate, Event: ev, EventID: d.EventID}, nil
	}
	r.Stats.Held.Add(1)
	r.log.Warn("webhook held: no installed site to route it to", "route", routeKey, "event", d.EventID, "topic", d.Topic, "why", why)
	return Result{Outcome: Held, Event: ev, EventID: d.EventID}, nil
}

// contentID names a delivery whose own id cannot be stored: its body's hash, so a
// retry of the same delivery is still recognised.
func contentID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verify checks the hex HMAC-SHA256 of the raw body in constant time against every secret
// that may sign (the current one, and the previous during a rotation).
func (r *Receiver) verify(signature string, body []byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := false
	for _, secret := range r.cfg.Secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		// no early exit: the time taken does not tell which secret matched
		ok = hmac.Equal(mac.Sum(nil), got) || ok
	}
	return ok
}

// Wake tells the local worker there is work (a replayed delivery).
func (r *Receiver) Wake() { r.notify() }

// Forget drops a cached site, after it was uninstalled or reinstalled.
func (r *Receiver) Forget(site *stride.Site) { r.sites.forget(site) }

// waitGiveUp is how old a progress event may get before it is taken without its lesson: an
// admin removing a lesson sends progress that no lesson will ever join, and Thinkific's
// retries (about an hour by the 11th) must not run out before Stride keeps it.
const waitGiveUp = time.Hour

func (r *Receiver) waitForLesson(ctx context.Context, site *stride.Site, ev *events.Envelope) error {
	if !r.cfg.WaitForLesson || ev == nil || ev.Topic() != stride.TopicEnrollmentProgress || r.clock.Now().Sub(ev.CreatedAt) > waitGiveUp {
		return nil
	}
	e, err := events.ParseEnrollment(ev.Payload)
	if err != nil {
		return nil // the worker will say what is wrong with it
	}
	ok, err := r.db.HasLessonNear(ctx, site.ID, int64(e.User.ID), int64(e.CourseID), ev.CreatedAt, r.cfg.Window)
	if err != nil {
		return err
	}
	if !ok {
		return stride.Errorf(stride.ECONFLICT, "the lesson.completed of this progress event is not in yet; retry later")
	}
	return nil
}
