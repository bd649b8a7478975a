// Package digest sends each opted-in site's weekly digest email: what happened in the 7
// days before, who stalled and where, the lesson that loses most learners, and a way back
// into Stride through the Thinkific admin. The worker sends it once per site per week,
// however many processes run, by claiming the week in the database before sending.
package digest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

const (
	// Poll is how often the runner looks for digests that have come due.
	Poll = time.Minute
	// tries bounds the sends of one week's digest; retryAfter spaces them (doubling).
	tries      = 5
	retryAfter = 10 * time.Minute
	sendWithin = 2 * time.Minute
)

// ErrNoMail is returned when SMTP_URL and MAIL_FROM are not both set.
var ErrNoMail = errors.New("mail is not set up: set SMTP_URL and MAIL_FROM to send the weekly digest")

// Runner sends digests.
type Runner struct {
	db    *store.DB
	cfg   *config.Config
	clock stride.Clock
	log   *slog.Logger
	// TLS, when set, is the TLS configuration mail goes with (tests: a test CA);
	// otherwise the system's roots verify SMTP_URL's host.
	TLS *tls.Config
}

// New is a runner of cfg's mail settings on db.
func New(db *store.DB, cfg *config.Config, clock stride.Clock, log *slog.Logger) *Runner {
	return &Runner{db: db, cfg: cfg, clock: clock, log: log}
}

// Run sends digests as they come due, until ctx ends. Without mail set up it does nothing.
func (r *Runner) Run(ctx context.Context) {
	if !r.cfg.MailReady() {
		return
	}
	t := time.NewTicker(Poll)
	defer t.Stop()
	for {
		if _, err := r.Due(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("digest: reading due digests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Due sends every digest that has come due and no process has claimed, and says how many
// it sent. A failed send gives its claim back, to be tried again later.
func (r *Runner) Due(ctx context.Context) (int, error) {
	if !r.cfg.MailReady() {
		return 0, ErrNoMail
	}
	sites, err := r.db.DigestSites(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, s := range sites {
		week, ok := due(s, r.clock.Now())
		if !ok || len(s.Recipients()) == 0 {
			continue
		}
		claimed, err := r.db.ClaimDigest(ctx, s.SiteID, week)
		if err != nil {
			return sent, err
		}
		if !claimed {
			continue
		}
		if err := r.send(ctx, s.SiteID, s.Recipients()); err != nil {
			r.release(ctx, s, week, err)
			continue
		}
		sent++
		r.log.Info("digest sent", "site_id", s.SiteID, "week", week, "recipients", len(s.Recipients()))
	}
	return sent, nil
}

func (r *Runner) release(ctx context.Context, s store.Settings, week string, cause error) {
	retry, released, err := r.db.ReleaseDigest(ctx, s.SiteID, week, s.DigestSentWeek, s.DigestSentAt, retryAfter, tries)
	switch {
	case err != nil:
		r.log.Error("digest not sent, and its week stays claimed", "site_id", s.SiteID, "week", week, "err", cause, "release_err", err)
	case released:
		r.log.Warn("digest not sent: trying again later", "site_id", s.SiteID, "week", week, "retry_at", retry, "err", cause)
	default:
		r.log.Error("digest not sent: gave up for this week", "site_id", s.SiteID, "week", week, "err", cause)
	}
}

// Send sends the site's digest now, to the given addresses or, when there are none, to its
// recipients, whether or not its admin turned the digest on (`stride digest`).
func (r *Runner) Send(ctx context.Context, subdomain string, to ...string) error {
	if !r.cfg.MailReady() {
		return ErrNoMail
	}
	site, err := r.db.SiteBySubdomain(ctx, subdomain)
	if err != nil {
		return fmt.Errorf("no site %q: %w", subdomain, err)
	}
	if len(to) == 0 {
		s, err := r.db.View(site.ID).Settings(ctx)
		if err != nil {
			return err
		}
		if to = s.Recipients(); len(to) == 0 {
			return fmt.Errorf("site %q has no digest recipients: give --to ADDRESS or add them on its settings page", subdomain)
		}
	}
	return r.send(ctx, site.ID, to)
}

// send composes the site's digest and mails it to each address, one message each: each
// carries its own unsubscribe link.
func (r *Runner) send(ctx context.Context, siteID int64, to []string) error {
	site, err := r.db.Site(ctx, siteID)
	if err != nil {
		return err
	}
	now := r.clock.Now()
	c, err := compose(ctx, r.db.View(siteID), site.Subdomain, r.cfg.AdminURL(site.Subdomain), now)
	if err != nil {
		return err
	}
	var msgs []*mail.Msg
	for _, addr := range to {
		m, err := r.message(c, siteID, addr, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	client, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendWithin)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msgs...); err != nil {
		// go-mail's errors name the server and the step, never the password.
		return fmt.Errorf("digest: sending through %s: %w", r.cfg.SMTP, err)
	}
	return nil
}

// UnsubscribeURL is the one-click link of address for the site's digest.
func (r *Runner) UnsubscribeURL(siteID int64, address string) string {
	return r.cfg.AppURL.String() + "/digest/unsubscribe?token=" + url.QueryEscape(Token(r.cfg.SecretKey, siteID, address))
}

func (r *Runner) message(c *Content, siteID int64, to string, now time.Time) (*mail.Msg, error) {
	html, text, err := render(c, r.UnsubscribeURL(siteID, to))
	if err != nil {
		return nil, err
	}
	m := mail.NewMsg()
	if err := m.From(r.cfg.MailFrom); err != nil {
		return nil, fmt.Errorf("digest: MAIL_FROM: %w", err)
	}
	if err := m.To(to); err != nil {
		return nil, fmt.Errorf("digest: recipient %q: %w", to, err)
	}
	m.Subject(subject(c))
	m.SetDateWithValue(now)
	m.SetMessageID()
	m.SetGenHeader(mail.HeaderListUnsubscribe, "<"+r.UnsubscribeURL(siteID, to)+">")
	m.SetGenHeader(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetBodyString(mail.TypeTextPlain, text)
	m.AddAlternativeString(mail.TypeTextHTML, html)
	return m, nil
}

func subject(c *Content) string {
	return fmt.Sprintf("Stride weekly digest for %s: %d new enrollment%s, %d completion%s, %d stalled", c.Subdomain,
		c.Week.Enrollments, plural(c.Week.Enrollments), c.Week.Completions, plural(c.Week.Completions), c.Week.StalledCount)
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// client is a mail client of SMTP_URL: smtps:// is TLS from the start; smtp:// upgrades
// with STARTTLS when the server offers it and must when there are credentials.
func (r *Runner) client() (*mail.Client, error) {
	s := r.cfg.SMTP
	tlsCfg := r.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTLSConfig(tlsCfg), mail.WithTimeout(30 * time.Second)}
	switch {
	case s.ImplicitTLS:
		opts = append(opts, mail.WithSSL())
	case s.RequireTLS():
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("digest: mail client for %s: %w", s, err)
	}
	return c, nil
}
