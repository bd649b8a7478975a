// Package config loads Stride's configuration from the environment, once, and validates it.
// The variable names are a contract shared with the README, app.json and tests.
package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strideapp/stride/app/internal/loopback"
)

// Config is every setting of Stride, read from its environment; this package holds the one
// default of each. The packages Stride is built of take their settings as given.
type Config struct {
	Port           int
	AppURL         *url.URL   // no trailing slash
	PreviousURLs   []*url.URL // earlier APP_URLs: Stride's webhooks still aimed there are its own
	DatabaseURL    string     // PostgreSQL DSN with TLS settled; "" means embedded SQLite
	MaxConnections int        // PostgreSQL connections this process may open
	DataDir        string
	ClientID       string
	ClientSecret   string
	PreviousSecret string   // accepted on webhooks during a secret rotation
	SecretKey      []byte   // ≥ 32 bytes
	PreviousKeys   [][]byte // earlier SECRET_KEYs: what they sealed still opens
	SiteURL        string   // contains {subdomain}
	APIURL         string   // no trailing slash
	// APIRequestsPerMinute is how many API requests Stride sends one site in any minute,
	// across every process: Thinkific allows 120.
	APIRequestsPerMinute int
	AppSlug              string
	SweepInterval        time.Duration
	PairingWindow        time.Duration // ± window in which a lesson and a progress event are one step
	WaitForLesson        bool          // answer 409 to enrollment.progress until its lesson.completed is in
	UninstallGrace       time.Duration // how long an uninstalled site's data is kept
	Retention            time.Duration // how long the delivery log is kept
	LogLevel             slog.Level
	// WriteTimeout bounds writing a response, or each chunk of an export. It is not read
	// from the environment: Heroku's router gives up on a response after 30 s anyway.
	WriteTimeout time.Duration
	// DeliveryBodyTimeout bounds the arrival of a delivery's body, about a kilobyte that
	// Thinkific sends at once: a body still arriving after it is stalled. Not read from the
	// environment either.
	DeliveryBodyTimeout time.Duration
	// SMTP is where the weekly digest is sent through; nil when SMTP_URL is unset (no mail).
	SMTP *SMTP
	// MailFrom is the digest's From address; "" when mail is not set up.
	MailFrom string
	// MetricsToken is the bearer token that opens /metrics; "" turns /metrics off.
	MetricsToken string
}

// Need says which settings a command cannot run without.
type Need int

const (
	NeedDatabase Need = iota // migrate: only the database
	NeedAll                  // serve, worker: credentials and keys too
)

// Load reads and validates the configuration. The error lists one problem per line.
func Load(getenv func(string) string, need Need) (*Config, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}

	c := &Config{
		DataDir:             get("DATA_DIR", "./data"),
		ClientID:            get("THINKIFIC_CLIENT_ID", ""),
		ClientSecret:        get("THINKIFIC_CLIENT_SECRET", ""),
		PreviousSecret:      get("THINKIFIC_CLIENT_SECRET_PREVIOUS", ""),
		AppSlug:             get("THINKIFIC_APP_SLUG", ""),
		WriteTimeout:        30 * time.Second,
		DeliveryBodyTimeout: 5 * time.Second,
	}

	port, err := strconv.Atoi(get("PORT", "8080"))
	if err != nil || port < 1 || port > 65535 {
		bad("PORT must be a number from 1 to 65535, got %q", getenv("PORT"))
	}
	c.Port = port

	appURL := get("APP_URL", fmt.Sprintf("http://localhost:%d", port))
	if u, err := parseBaseURL(appURL); err != nil {
		bad("APP_URL %v", err)
	} else {
		c.AppURL = u
	}

	for _, raw := range strings.Split(get("PREVIOUS_APP_URLS", ""), ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		if u, err := parseBaseURL(raw); err != nil {
			bad("PREVIOUS_APP_URLS (comma-separated) %v", err)
		} else {
			c.PreviousURLs = append(c.PreviousURLs, u)
		}
	}

	if v := get("DATABASE_URL", ""); v != "" {
		dsn, err := postgresDSN(v)
		if err != nil {
			bad("DATABASE_URL %v", err)
		}
		c.DatabaseURL = dsn
	}

	// Heroku's smallest PostgreSQL plans allow 20 connections in all, shared by the web and
	// worker dynos, the release phase and anyone running psql.
	c.MaxConnections, err = strconv.Atoi(get("DATABASE_MAX_CONNECTIONS", "5"))
	if err != nil || c.MaxConnections < 1 || c.MaxConnections > 500 {
		bad("DATABASE_MAX_CONNECTIONS must be a number from 1 to 500, got %q", getenv("DATABASE_MAX_CONNECTIONS"))
	}

	c.SiteURL = strings.TrimSuffix(get("THINKIFIC_SITE_URL", "https://{subdomain}.thinkific.com"), "/")
	if !strings.Contains(c.SiteURL, "{subdomain}") {
		bad("THINKIFIC_SITE_URL must contain {subdomain}, got %q", c.SiteURL)
	} else if _, err := parseBaseURL(strings.ReplaceAll(c.SiteURL, "{subdomain}", "site")); err != nil {
		bad("THINKIFIC_SITE_URL %v", err)
	}
	c.APIURL = strings.TrimSuffix(get("THINKIFIC_API_URL", "https://api.thinkific.com"), "/")
	if _, err := parseBaseURL(c.APIURL); err != nil {
		bad("THINKIFIC_API_URL %v", err)
	}

	c.APIRequestsPerMinute, err = strconv.Atoi(get("THINKIFIC_API_REQUESTS_PER_MINUTE", "120"))
	if err != nil || c.APIRequestsPerMinute < 1 {
		bad("THINKIFIC_API_REQUESTS_PER_MINUTE must be a whole number of at least 1 (Thinkific allows 120 per site), got %q", getenv("THINKIFIC_API_REQUESTS_PER_MINUTE"))
	}

	duration := func(name, def string, min, max time.Duration) time.Duration {
		d, err := time.ParseDuration(get(name, def))
		if err != nil || d < min || d > max {
			bad("%s must be a duration from %v to %v (like %s), got %q", name, min, max, def, getenv(name))
		}
		return d
	}
	c.SweepInterval = duration("WEBHOOK_SWEEP_INTERVAL", "6h", time.Minute, 30*24*time.Hour)

	c.PairingWindow = duration("PAIRING_WINDOW", "500ms", time.Millisecond, time.Minute)
	c.UninstallGrace = duration("UNINSTALL_GRACE_PERIOD", "720h", 0, 10*365*24*time.Hour)
	c.Retention = duration("DELIVERY_RETENTION", "720h", time.Hour, 10*365*24*time.Hour)
	switch v := strings.ToLower(get("PAIRING_WAIT_FOR_LESSON", "false")); v {
	case "true", "1", "yes", "on":
		c.WaitForLesson = true
	case "false", "0", "no", "off":
	default:
		bad("PAIRING_WAIT_FOR_LESSON must be true or false, got %q", v)
	}

	c.SMTP, c.MailFrom = mailSettings(get("SMTP_URL", ""), get("MAIL_FROM", ""), bad)

	c.MetricsToken = get("METRICS_TOKEN", "")
	if n := len(c.MetricsToken); n > 0 && n < minMetricsToken {
		bad("METRICS_TOKEN must be at least %d characters (e.g. `openssl rand -hex 32`), got %d", minMetricsToken, n)
	}

	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		bad("LOG_LEVEL must be debug, info, warn or error, got %q", getenv("LOG_LEVEL"))
	}

	if need == NeedAll {
		if c.ClientID == "" {
			bad("THINKIFIC_CLIENT_ID is required (the app's client id from the Thinkific Partner Portal)")
		}
		if c.ClientSecret == "" {
			bad("THINKIFIC_CLIENT_SECRET is required (the app's client secret from the Thinkific Partner Portal)")
		}
		key, err := decodeKey(getenv("SECRET_KEY"))
		if err != nil {
			bad("SECRET_KEY %v", err)
		}
		c.SecretKey = key
		c.PreviousKeys = previousKeys(getenv("SECRET_KEY_PREVIOUS"), key, bad)
	}

	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// minMetricsToken is the shortest METRICS_TOKEN taken: /metrics is on the public URL.
const minMetricsToken = 16

// RedirectURI is the OAuth redirect URI registered in the Partner Portal.
func (c *Config) RedirectURI() string { return c.AppURL.String() + "/oauth/callback" }

// WebhookURL is the target of every webhook Stride registers.
func (c *Config) WebhookURL() string { return c.AppURL.String() + "/webhooks/thinkific" }

// PreviousWebhookURLs are the webhook targets of Stride's earlier addresses (PREVIOUS_APP_URLS).
func (c *Config) PreviousWebhookURLs() []string {
	var out []string
	for _, u := range c.PreviousURLs {
		out = append(out, u.String()+"/webhooks/thinkific")
	}
	return out
}

// SiteBaseURL is the base URL of one Thinkific site.
func (c *Config) SiteBaseURL(subdomain string) string {
	return strings.ReplaceAll(c.SiteURL, "{subdomain}", subdomain)
}

// SiteOrigin is a site's origin (scheme, host, port), the form CSP frame-ancestors takes.
func (c *Config) SiteOrigin(subdomain string) string {
	u, err := url.Parse(c.SiteBaseURL(subdomain))
	if err != nil {
		return c.SiteBaseURL(subdomain)
	}
	return u.Scheme + "://" + u.Host
}

// Secrets are the client secrets that may sign webhooks and launches, current first.
func (c *Config) Secrets() []string {
	if c.PreviousSecret == "" {
		return []string{c.ClientSecret}
	}
	return []string{c.ClientSecret, c.PreviousSecret}
}

// parseBaseURL accepts an absolute http(s) URL without query or fragment; plain http only
// for loopback hosts, since tokens and sessions travel over it.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("must be an absolute http(s) URL, got %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("must not carry a query, fragment or credentials, got %q", raw)
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return nil, fmt.Errorf("must use https unless its host is a loopback address, got %q", raw)
	}
	return u, nil
}

// postgresDSN checks a Heroku-style URL and settles TLS: required for any host that is not
// this machine; an explicit weaker sslmode for a remote host is refused.
func postgresDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("must be a postgres:// URL (as Heroku sets it)")
	}
	q := u.Query()
	host := u.Hostname()
	if host == "" {
		host = q.Get("host")
	}
	local := host == "" || strings.HasPrefix(host, "/") || loopback.Host(host)
	switch mode := q.Get("sslmode"); {
	case local:
	case mode == "":
		q.Set("sslmode", "require")
	case mode == "disable" || mode == "allow" || mode == "prefer":
		return "", fmt.Errorf("has sslmode=%s for the remote host %q: TLS is required (use require, verify-ca or verify-full)", mode, host)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// previousKeys reads SECRET_KEY_PREVIOUS: comma-separated keys, each checked like SECRET_KEY.
func previousKeys(list string, current []byte, bad func(string, ...any)) [][]byte {
	var keys [][]byte
	for i, raw := range strings.Split(list, ",") {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		key, err := decodeKey(raw)
		switch {
		case err != nil:
			bad("SECRET_KEY_PREVIOUS key %d %v", i+1, err)
		case bytes.Equal(key, current):
			bad("SECRET_KEY_PREVIOUS key %d is SECRET_KEY itself: list only the keys it replaced", i+1)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

// SecretKeys are SECRET_KEY and then SECRET_KEY_PREVIOUS: the first seals, all open.
func (c *Config) SecretKeys() [][]byte {
	return append([][]byte{c.SecretKey}, c.PreviousKeys...)
}

// decodeKey reads a secret key given as hex or base64 (standard or URL alphabet).
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is required: at least 32 random bytes, hex or base64 (e.g. `openssl rand -hex 32`)")
	}
	var key []byte
	if b, err := hex.DecodeString(s); err == nil {
		key = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				key = b
				break
			}
		}
	}
	if key == nil {
		return nil, errors.New("must be hex or base64 encoded (e.g. `openssl rand -hex 32`)")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("must decode to at least 32 bytes, got %d (e.g. `openssl rand -hex 32`)", len(key))
	}
	return key, nil
}
