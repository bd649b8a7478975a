// Package thinkific talks to Thinkific: the OAuth endpoints of each site, the Webhooks API
// and the REST Admin API, the APIs within each site's rate budget. Every URL comes from
// config, so tests and the demo point it at the Thinkific double.
package thinkific

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"

	"github.com/strideapp/stride/app/stride"
)

// Config says where Thinkific is and who Stride is to it. Every field is taken as given.
type Config struct {
	SiteURL      string // base URL of a site, with {subdomain}
	APIURL       string // API host, without /api/...
	ClientID     string
	ClientSecret string
	RedirectURI  string
	UserAgent    string
	Clock        stride.Clock
	// Limiter is every site's budget of API requests, shared by every process (the store's
	// APIBudget). Required: New panics without it.
	Limiter Limiter
	// RetryWaitMin and RetryWaitMax bound the backoff between retries of 429 and 5xx
	// answers: DefaultRetryWaitMin and DefaultRetryWaitMax, or shorter in tests.
	RetryWaitMin, RetryWaitMax time.Duration
}

// The backoff between retries of the APIs, and how many retries.
const (
	DefaultRetryWaitMin = time.Second
	DefaultRetryWaitMax = time.Minute
	retryMax            = 4
	// attemptTimeout bounds one attempt at an API request, from when its budget let it go.
	attemptTimeout = 20 * time.Second
)

// Client is Stride's Thinkific client. It is safe for concurrent use.
type Client struct {
	cfg   Config
	oauth *http.Client          // token endpoint: never retried, a refresh token is single use
	api   *retryablehttp.Client // the APIs: 429 and 5xx retried with bounded backoff
}

// New returns a client. cfg.Limiter is required: an API call outside a site's budget is a
// bug, and this is where it would start.
func New(cfg Config) *Client {
	if cfg.Limiter == nil {
		panic("thinkific: Config.Limiter is required")
	}
	api := retryablehttp.NewClient()
	api.HTTPClient = &http.Client{Transport: &budgeted{next: http.DefaultTransport, limiter: cfg.Limiter, clock: cfg.Clock, timeout: attemptTimeout}}
	api.Logger = nil // it would log every request; we log outcomes ourselves
	api.RetryWaitMin, api.RetryWaitMax, api.RetryMax = cfg.RetryWaitMin, cfg.RetryWaitMax, retryMax
	api.Backoff = backoff(cfg.Clock)
	api.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if be := (*budgetError)(nil); errors.As(err, &be) {
			return false, err // the budget's wait already ended with ctx, or the database failed
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	api.ErrorHandler = retryablehttp.PassthroughErrorHandler // hand the last answer back to us
	return &Client{cfg: cfg, oauth: &http.Client{Timeout: 20 * time.Second}, api: api}
}

func (c *Client) siteURL(subdomain string) string {
	return strings.ReplaceAll(c.cfg.SiteURL, "{subdomain}", subdomain)
}

// AuthorizeURL is where an admin approves the install, with PKCE (S256) bound to verifier.
func (c *Client) AuthorizeURL(subdomain, state, verifier string) string {
	conf := oauth2.Config{
		ClientID:    c.cfg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: c.siteURL(subdomain) + "/oauth2/authorize"},
		RedirectURL: c.cfg.RedirectURI,
	}
	return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "query"))
}

// Grant is what the token endpoint gives.
type Grant struct {
	Tokens stride.Tokens
	GID    string
	Scope  string
}

// ExchangeCode trades an authorization code for the site's tokens.
func (c *Client) ExchangeCode(ctx context.Context, subdomain, code, verifier string) (Grant, error) {
	g, err := c.token(ctx, subdomain, map[string]string{"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
	if err != nil {
		return g, err
	}
	if g.GID == "" {
		return g, stride.Errorf(stride.EUNAVAILABLE, "Thinkific's token answer has no site id (gid)")
	}
	return g, nil
}

// Refresh trades a refresh token for a new pair; the old refresh token stops working.
func (c *Client) Refresh(ctx context.Context, subdomain, refreshToken string) (Grant, error) {
	return c.token(ctx, subdomain, map[string]string{"grant_type": "refresh_token", "refresh_token": refreshToken})
}

func (c *Client) token(ctx context.Context, subdomain string, body map[string]string) (Grant, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.siteURL(subdomain)+"/oauth2/token", bytes.NewReader(b))
	if err != nil {
		return Grant{}, err
	}
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.oauth.Do(req)
	if err != nil {
		return Grant{}, stride.Wrap(stride.EUNAVAILABLE, err, "Thinkific could not be reached")
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(raw, &e)
		code := stride.EUNAVAILABLE
		switch {
		case resp.StatusCode == http.StatusBadRequest && e.Error == "invalid_grant":
			code = stride.EUNAUTHORIZED
		case resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
			code = stride.EINVALID
		}
		return Grant{}, stride.Wrap(code, fmt.Errorf("token endpoint: %d %s", resp.StatusCode, e.Error),
			"Thinkific refused the authorization")
	}
	var t struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		ExpiresIn    json.Number     `json:"expires_in"`
		GID          json.RawMessage `json:"gid"`
		Scope        string          `json:"scope"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.AccessToken == "" || t.RefreshToken == "" {
		return Grant{}, stride.Errorf(stride.EUNAVAILABLE, "Thinkific's token answer could not be read")
	}
	secs, err := t.ExpiresIn.Float64()
	if err != nil || secs <= 0 {
		secs = 3600 // unknown lifetime: assume short, a refresh is cheap
	}
	return Grant{
		Tokens: stride.Tokens{Access: t.AccessToken, Refresh: t.RefreshToken,
			Expiry: c.cfg.Clock.Now().Add(time.Duration(secs) * time.Second)},
		GID:   stringOrNumber(t.GID),
		Scope: t.Scope,
	}, nil
}

// stringOrNumber reads an id Thinkific sends as a string in some places, a number in others.
func stringOrNumber(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
