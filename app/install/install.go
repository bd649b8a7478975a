// Package install is the life of an installation: the OAuth install flow, the site's
// tokens, and the webhooks Stride keeps registered on the site.
//
// The words: an install is the OAuth flow that ends with Stride granted access to a site
// (a store.Grant, saved by store.SaveInstall); the site's webhooks are the subscriptions
// Stride registers through Thinkific's Webhooks API (this package); a delivery is one POST
// Thinkific makes to one of them (received by app/ingest).
package install

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

const (
	// callbackTimeout bounds what the install callback asks of Thinkific (token exchange,
	// the admin check), below the server's 30 s write timeout.
	callbackTimeout = 20 * time.Second
	// webhookLease is how long a reconcile may hold a site's webhooks; reconcileTimeout is
	// shorter, so a lease never lapses under a reconcile still running.
	webhookLease     = 10 * time.Minute
	reconcileTimeout = 5 * time.Minute
)

// StateTTL is how long an install may take from /install to the callback.
const StateTTL = 10 * time.Minute

// Config is what the install flow needs to know, taken as given (config.Config holds the
// defaults).
type Config struct {
	WebhookURL string // target of every webhook Stride registers
	// PreviousWebhookURLs are Stride's earlier targets (PREVIOUS_APP_URLS): webhooks aimed
	// there are Stride's own, to be moved to WebhookURL.
	PreviousWebhookURLs []string
	SweepInterval       time.Duration // how often each site's webhooks are reconciled
	// Installed, when set, is told of each install once it is saved (its import is queued
	// with it): the importer's Wake.
	Installed func()
	// Metrics counts token refreshes and reconciled webhooks; nil counts nothing.
	Metrics *metrics.Metrics
}

// Service runs installs and keeps sites' webhooks registered.
type Service struct {
	db     *store.DB
	api    *thinkific.Client
	cfg    Config
	clock  stride.Clock
	log    *slog.Logger
	tokens *tokenKeeper

	// Webhook registrations an install started run here, apart from its request.
	work     sync.WaitGroup
	workCtx  context.Context
	stopWork context.CancelFunc
}

// New returns a Service.
func New(db *store.DB, api *thinkific.Client, cfg Config, clock stride.Clock, log *slog.Logger) *Service {
	workCtx, stopWork := context.WithCancel(context.Background())
	return &Service{db: db, api: api, cfg: cfg, clock: clock, log: log,
		tokens:  &tokenKeeper{db: db, api: api, clock: clock, log: log, metrics: cfg.Metrics},
		workCtx: workCtx, stopWork: stopWork}
}

// Tokens is the TokenSource for a site's API calls.
func (s *Service) Tokens(site *stride.Site) thinkific.TokenSource { return s.tokens.source(site) }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Pending is an install between /install and its callback. It lives only in the browser's
// install cookie (signed and encrypted): /install writes nothing to the database.
type Pending struct {
	Subdomain string
	StateHash string // SHA-256 of the OAuth state sent to Thinkific
	Verifier  string // PKCE verifier
	ExpiresAt time.Time
}

// Matches reports, in constant time, whether state is this install's.
func (p Pending) Matches(state string) bool {
	return p.StateHash != "" && subtle.ConstantTimeCompare([]byte(hash(state)), []byte(p.StateHash)) == 1
}

// Begin starts an install of subdomain: it returns the site's authorize URL and the pending
// install for the browser to keep.
func (s *Service) Begin(subdomain string) (string, Pending, error) {
	if !stride.ValidSubdomain(subdomain) {
		return "", Pending{}, stride.Errorf(stride.EINVALID, "That is not a Thinkific site name. Install Stride from the Thinkific App Store.")
	}
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	p := Pending{Subdomain: subdomain, StateHash: hash(state), Verifier: verifier, ExpiresAt: s.clock.Now().Add(StateTTL)}
	return s.api.AuthorizeURL(subdomain, state, verifier), p, nil
}

// Callback is what Thinkific sends back to the redirect URI.
type Callback struct {
	Code, State, Subdomain string
}

// Complete finishes an install begun in the browser that kept p: every check of the state
// comes before the token request.
//
// Nothing is stored per install, yet a callback is good once: Thinkific redeems an
// authorization code only once, so a replayed callback gets no tokens, and the caller
// replaces the browser's pending install once it is used.
func (s *Service) Complete(ctx context.Context, cb Callback, p Pending) (*stride.Site, error) {
	if cb.State == "" || cb.Code == "" {
		return nil, stride.Errorf(stride.EINVALID, "This install link is incomplete. Please start the install again.")
	}
	if !stride.ValidSubdomain(cb.Subdomain) {
		return nil, stride.Errorf(stride.EINVALID, "That is not a Thinkific site name.")
	}
	if p.StateHash == "" || p.Verifier == "" {
		return nil, stride.Errorf(stride.EINVALID, "This install was started in another browser. Please start the install again here.")
	}
	if !p.Matches(cb.State) {
		return nil, stride.Errorf(stride.EINVALID, "This install link is unknown or was already used. Please start the install again.")
	}
	if !s.clock.Now().Before(p.ExpiresAt) {
		return nil, stride.Errorf(stride.EINVALID, "This install link has expired. Please start the install again.")
	}
	if cb.Subdomain != p.Subdomain {
		return nil, stride.Errorf(stride.EINVALID, "This install was started for another site. Please start the install again.")
	}
	// The admin waits on these calls: they must end well inside the server's write timeout.
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	grant, err := s.api.ExchangeCode(ctx, cb.Subdomain, cb.Code, p.Verifier)
	if stride.ErrorCode(err) == stride.EUNAUTHORIZED {
		return nil, stride.Wrap(stride.EINVALID, err, "This install link was already used or has expired. Please start the install again.")
	} else if err != nil {
		return nil, err
	}
	// Anyone may run the OAuth flow, but only an admin's token may manage webhooks: try it
	// before it can replace the admin token Stride holds.
	auth := &thinkific.GrantToken{Access: grant.Tokens.Access}
	if known, err := s.db.SiteByGID(ctx, grant.GID); err == nil {
		auth.Site = known.ID // a reinstall: the site's budget is already counting
	} else if stride.ErrorCode(err) != stride.ENOTFOUND {
		return nil, err
	}
	hooks, err := s.api.ListWebhooks(ctx, auth)
	if c := stride.ErrorCode(err); c == stride.EFORBIDDEN || c == stride.EUNAUTHORIZED {
		return nil, stride.Wrap(stride.EFORBIDDEN, err, "Only a site owner or admin can install Stride.")
	} else if err != nil {
		return nil, err
	}
	site, known, err := s.db.SaveInstall(ctx, store.Grant{Subdomain: cb.Subdomain, GID: grant.GID, Scopes: grant.Scope, Tokens: grant.Tokens})
	if err != nil {
		return nil, err
	}
	// A new site's check above went uncounted: it had no id yet.
	if err := s.api.Charge(ctx, auth, site.ID); err != nil {
		s.log.Warn("install's first API requests not counted in the site's budget", "site", site.ID, "err", err)
	}
	s.log.Info("site installed", "site", site.ID, "subdomain", site.Subdomain, "reinstall", known)
	s.registerWebhooks(ctx, site, hooks)
	if s.cfg.Installed != nil {
		s.cfg.Installed()
	}
	return site, nil
}

// registerWebhooks reconciles a new install's webhooks in the background, so the callback
// answers at once. The site's lease is claimed first, here, so the sweep cannot start on
// the site meanwhile; if someone already holds it, their reconcile does the work.
func (s *Service) registerWebhooks(ctx context.Context, site *stride.Site, hooks []thinkific.Webhook) {
	leased, err := s.db.ClaimWebhooks(ctx, site.ID, s.clock.Now().Add(webhookLease))
	if err != nil || !leased {
		// The install made the site due now: the sweep registers its webhooks.
		s.log.Info("webhooks left to the sweep", "site", site.ID, "leased_elsewhere", !leased, "err", err)
		return
	}
	s.work.Go(func() {
		ctx, cancel := context.WithTimeout(s.workCtx, reconcileTimeout)
		defer cancel()
		rep, err := s.reconcile(ctx, site, s.tokens.source(site), hooks)
		s.release(site, rep, err)
	})
}

// Drain waits for the webhook registrations started by installs. If ctx ends first they
// are stopped, their leases lapse and the sweep finishes their work.
func (s *Service) Drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.stopWork()
		<-done
	}
}
