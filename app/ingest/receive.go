// Package ingest receives Thinkific's webhook deliveries: verify, route to the site, store in
// the inbox exactly once, answer. Nothing else happens on this path (DESIGN decision 1).
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

// Config tunes the receiver.
type Config struct {
	Secrets    []string      // client secrets that may sign deliveries, current first
	Timeout    time.Duration // longest a delivery may wait for its commit (default 2.5 s)
	Batch      int           // most deliveries per commit (default 256)
	Committers int           // commits in flight at once (default 2)
	SiteTTL    time.Duration // how long a site lookup is cached (default 5 s)
	// WaitForLesson answers 409 to an enrollment.progress whose lesson.completed is not in
	// yet, so that Thinkific's retries do the waiting (seed 003). Off by default: it makes
	// Stride's webhooks look failing to Thinkific. Window is the pairing window it looks in.
	WaitForLesson bool
	Window        time.Duration
}

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
	Accepted, Duplicate, Quarantined, Ignored, BadSignature, WrongSite, Unavailable atomic.Int64
}

// New starts a receiver; notify (may be nil) is called after each new delivery commits.
func New(db *store.DB, cfg Config, clock stride.Clock, log *slog.Logger, notify func()) *Receiver {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2500 * time.Millisecond
	}
	if cfg.Batch == 0 {
		cfg.Batch = 256
	}
	if cfg.Committers == 0 {
		cfg.Committers = 2
	}
	if cfg.SiteTTL == 0 {
		cfg.SiteTTL = 5 * time.Second
	}
	if notify == nil {
		notify = func() {}
	}
	return &Receiver{cfg: cfg, db: db, clock: clock, log: log, notify: notify,
		sites:  &siteCache{db: db, ttl: cfg.SiteTTL, clock: clock, m: map[string]cachedSite{}},
		commit: newCommitter(db, cfg.Batch, cfg.Committers, cfg.Timeout)}
}

// Outcome is what became of a delivery.
type Outcome string

const (
	Accepted    Outcome = "accepted"    // new, stored, waiting for a worker
	Duplicate   Outcome = "duplicate"   // already stored: nothing changed
	Quarantined Outcome = "quarantined" // signed but unreadable: stored for a person to look at
	Ignored     Outcome = "ignored"     // for a site Stride does not serve: nothing stored
)

// Result says what happened to a delivery.
type Result struct {
	Outcome Outcome
	Site    *stride.Site
	Event   *events.Envelope // nil when quarantined or ignored
	EventID string
}

// Receive verifies and stores one delivery. Errors: EUNAUTHORIZED for a bad signature,
// EFORBIDDEN when the body belongs to another site than the header names, EINVALID for a
// malformed subdomain header, EUNAVAILABLE when the inbox cannot commit in time.
func (r *Receiver) Receive(ctx context.Context, subdomain, signature string, body []byte) (Result, error) {
	if !r.verify(signature, body) {
		r.Stats.BadSignature.Add(1)
		r.log.Warn("webhook refused: bad signature", "subdomain", subdomain, "bytes", len(body), "refused_total", r.Stats.BadSignature.Load())
		return Result{}, stride.Errorf(stride.EUNAUTHORIZED, "signature does not match")
	}
	if !stride.ValidSubdomain(subdomain) {
		return Result{}, stride.Errorf(stride.EINVALID, "X-Thinkific-Subdomain is not a subdomain")
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	site, err := r.sites.get(ctx, subdomain)
	if err != nil {
		r.Stats.Unavailable.Add(1)
		return Result{}, err
	}
	if site == nil || !site.Installed() {
		r.Stats.Ignored.Add(1)
		r.log.Info("webhook ignored: site not installed", "subdomain", subdomain)
		return Result{Outcome: Ignored}, nil
	}

	d := store.Delivery{SiteID: site.ID, Body: body, Status: store.StatusAccepted, ReceivedAt: r.clock.Now()}
	ev, err := events.ParseEnvelope(body)
	switch {
	case err != nil:
		sum := sha256.Sum256(body)
		d.EventID, d.Topic, d.Status = "sha256:"+hex.EncodeToString(sum[:]), "", store.StatusQuarantined
		ev = nil
	case !events.KnownTopic(ev.Topic()):
		d.EventID, d.Topic, d.Status = ev.ID, ev.Topic(), store.StatusQuarantined
	default:
		if !sameSite(site, ev) {
			r.Stats.WrongSite.Add(1)
			r.log.Warn("webhook refused: body names another site", "subdomain", subdomain, "event", ev.ID)
			return Result{}, stride.Errorf(stride.EFORBIDDEN, "the event belongs to another site than X-Thinkific-Subdomain names")
		}
		d.EventID, d.Topic = ev.ID, ev.Topic()
		if err := r.waitForLesson(ctx, site, ev); err != nil {
			return Result{}, err
		}
	}

	isNew, err := r.commit.submit(ctx, d)
	if err != nil {
		r.Stats.Unavailable.Add(1)
		return Result{}, err
	}
	res := Result{Site: site, Event: ev, EventID: d.EventID}
	switch {
	case !isNew:
		res.Outcome = Duplicate
		r.Stats.Duplicate.Add(1)
	case d.Status == store.StatusQuarantined:
		res.Outcome = Quarantined
		r.Stats.Quarantined.Add(1)
		r.log.Warn("webhook quarantined", "site", site.ID, "event", d.EventID, "topic", d.Topic)
	default:
		res.Outcome = Accepted
		r.Stats.Accepted.Add(1)
		r.notify()
	}
	return res, nil
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

// sameSite checks the signed body against the site the unsigned header names: the global id
// must match when the event carries it, and the tenant id when Stride has learned it.
func sameSite(site *stride.Site, ev *events.Envelope) bool {
	if ev.TenantGlobalID != "" && !strings.EqualFold(ev.TenantGlobalID, site.GID) {
		return false
	}
	if ev.TenantID != "" && site.TenantID != "" && ev.TenantID != site.TenantID {
		return false
	}
	return true
}

// Wake tells the local worker there is work (a replayed delivery).
func (r *Receiver) Wake() { r.notify() }

// Forget drops a cached site, after it was uninstalled or reinstalled.
func (r *Receiver) Forget(subdomain string) { r.sites.forget(subdomain) }

// waitGiveUp is how old a progress event may get before it is taken without its lesson: an
// admin removing a lesson sends progress that no lesson will ever join, and Thinkific's
// retries (about an hour by the 11th) must not run out before Stride keeps it.
const waitGiveUp = time.Hour

func (r *Receiver) waitForLesson(ctx context.Context, site *stride.Site, ev *events.Envelope) error {
	if !r.cfg.WaitForLesson || ev.Topic() != "enrollment.progress" || r.clock.Now().Sub(ev.CreatedAt) > waitGiveUp {
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
