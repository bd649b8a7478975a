package thinkific

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/strideapp/stride/app/stride"
)

// TokenSource gives the access token for one site's API calls, and names the site, whose
// rate budget every one of those calls is taken from.
type TokenSource interface {
	// Token returns a usable access token, refreshing it first if it is about to expire.
	Token(ctx context.Context) (string, error)
	// Refresh replaces stale, an access token Thinkific refused, and returns the new one.
	Refresh(ctx context.Context, stale string) (string, error)
	// SiteID is Stride's id of the site. Only a GrantToken may say 0.
	SiteID() int64
}

// GrantToken is the TokenSource of an access token fresh from an install, used before
// Stride saves it: it cannot be refreshed. Site is the site's id when Stride already knows
// the site (a reinstall). A new site has no id, and so no budget, yet: its calls are
// tallied, and Charge takes them from the budget once the site is saved.
type GrantToken struct {
	Access string
	Site   int64
	sent   atomic.Int64 // requests sent while Site was 0
}

func (g *GrantToken) Token(context.Context) (string, error) { return g.Access, nil }
func (g *GrantToken) Refresh(context.Context, string) (string, error) {
	return "", stride.Errorf(stride.EUNAUTHORIZED, "Thinkific refused a new access token")
}
func (g *GrantToken) SiteID() int64 { return g.Site }

// Charge takes from site's budget the requests g sent before the site had an id. Each is
// counted as sent now, later than it was: the count errs on the safe side.
func (c *Client) Charge(ctx context.Context, g *GrantToken, site int64) error {
	for n := g.sent.Swap(0); n > 0; n-- {
		if err := c.cfg.Limiter.Take(ctx, site); err != nil {
			g.sent.Add(n)
			return err
		}
	}
	return nil
}

// APIError is an answer of the API other than success, after retries.
type APIError struct {
	Status int
	Errors map[string]string // field → problem, from a 422
	Body   string
}

func (e *APIError) Error() string {
	if len(e.Errors) > 0 {
		return fmt.Sprintf("thinkific: %d: %s", e.Status, e.Detail())
	}
	return fmt.Sprintf("thinkific: %d", e.Status)
}

// Detail is a 422's complaints as one line, like "url is not valid".
func (e *APIError) Detail() string {
	var parts []string
	for k, v := range e.Errors {
		parts = append(parts, k+" "+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// call sends one API request about what ("webhook", "course": named in its errors). 429 and
// 5xx are retried by the retrying client; a 401 gets one token refresh and one more try.
// Every attempt is taken from the site's rate budget first (see budgeted).
func (c *Client) call(ctx context.Context, auth TokenSource, method, path, what string, in, out any) error {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	ctx, err := withBudget(ctx, auth)
	if err != nil {
		return err
	}
	token, err := auth.Token(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		req, err := retryablehttp.NewRequestWithContext(ctx, method, c.cfg.APIURL+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", c.cfg.UserAgent)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.api.Do(req)
		if resp == nil {
			if be := (*budgetError)(nil); errors.As(err, &be) {
				return be.err
			}
			return stride.Wrap(stride.EUNAVAILABLE, err, "Thinkific could not be reached")
		}
		// With retries spent on a 5xx, err says so beside the last answer: the answer is
		// what counts.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			if token, err = auth.Refresh(ctx, token); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out == nil || len(raw) == 0 {
				return nil
			}
			if err := json.Unmarshal(raw, out); err != nil {
				return stride.Wrap(stride.EUNAVAILABLE, err, "Thinkific's answer could not be read")
			}
			return nil
		}
		return apiError(resp.StatusCode, raw, what)
	}
}

func apiError(status int, raw []byte, what string) error {
	e := &APIError{Status: status, Body: string(raw)}
	var parsed struct {
		Errors map[string]any `json:"errors"`
	}
	if json.Unmarshal(raw, &parsed) == nil && len(parsed.Errors) > 0 {
		e.Errors = map[string]string{}
		for k, v := range parsed.Errors {
			e.Errors[k] = fmt.Sprint(v)
		}
	}
	code := stride.EUNAVAILABLE
	msg := "Thinkific is not answering right now"
	switch status {
	case http.StatusUnauthorized:
		code, msg = stride.EUNAUTHORIZED, "Thinkific no longer accepts Stride's access to this site"
	case http.StatusForbidden:
		code, msg = stride.EFORBIDDEN, "Thinkific does not give this account access to the site's "+what+"s"
	case http.StatusNotFound:
		code, msg = stride.ENOTFOUND, "Thinkific does not know this "+what
	case http.StatusUnprocessableEntity:
		code, msg = stride.EINVALID, "Thinkific refused the "+what+": "+e.Detail()
	case http.StatusTooManyRequests:
		msg = "Thinkific's rate limit was still reached after waiting"
	}
	return stride.Wrap(code, e, msg)
}
