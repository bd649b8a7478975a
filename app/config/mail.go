package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
)

// SMTP is the mail server the weekly digest goes through (SMTP_URL).
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string // never logged: String leaves it out
	// ImplicitTLS: smtps://, TLS from the first byte. Otherwise STARTTLS when the server
	// offers it, and required when there are credentials (RequireTLS).
	ImplicitTLS bool
}

// RequireTLS reports whether sending must fail rather than go out in clear: credentials
// never travel unencrypted.
func (s *SMTP) RequireTLS() bool { return s.ImplicitTLS || s.Username != "" || s.Password != "" }

// String is the server without its password, for logs and errors.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: s.Host + ":" + strconv.Itoa(s.Port)}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// AdminURL opens Stride inside a site's Thinkific admin: the app's page when its slug is
// known (THINKIFIC_APP_SLUG), the admin's home otherwise. Mail carries this, never a launch.
func (c *Config) AdminURL(subdomain string) string {
	if c.AppSlug != "" {
		return c.SiteBaseURL(subdomain) + "/manage/apps/" + url.PathEscape(c.AppSlug)
	}
	return c.SiteBaseURL(subdomain) + "/manage"
}

// MailReady reports whether Stride can send mail: SMTP_URL and MAIL_FROM are both set.
func (c *Config) MailReady() bool { return c.SMTP != nil && c.MailFrom != "" }

// mailSettings reads SMTP_URL and MAIL_FROM, both optional but only useful together.
// Problems never quote SMTP_URL, which may carry a password.
func mailSettings(rawURL, from string, bad func(string, ...any)) (*SMTP, string) {
	var smtp *SMTP
	if rawURL != "" {
		var err error
		if smtp, err = parseSMTP(rawURL); err != nil {
			bad("SMTP_URL %v", err)
		}
	}
	if from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			bad("MAIL_FROM must be an email address (like Stride <digest@example.com>), got %q", from)
		} else {
			from = a.String()
		}
	}
	switch {
	case rawURL != "" && from == "":
		bad("MAIL_FROM is required with SMTP_URL: the address the weekly digest comes from")
	case rawURL == "" && from != "":
		bad("SMTP_URL is required with MAIL_FROM: the mail server the weekly digest goes through")
	}
	return smtp, from
}

func parseSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("must be a URL like smtp://user:password@host:587 or smtps://user:password@host:465")
	}
	s := &SMTP{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.ImplicitTLS = 465, true
	default:
		return nil, fmt.Errorf("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), got %q", u.Scheme+"://")
	}
	if s.Host == "" {
		return nil, fmt.Errorf("has no host (like smtp://user:password@smtp.example.com:587)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port must be a number from 1 to 65535, got %q", p)
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("must be only scheme, credentials, host and port (no path or query)")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}
