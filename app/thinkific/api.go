package thinkific

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/strideapp/stride/app/stride"
)

// TokenSource gives the access token for one site's API calls.
type TokenSource interface {
	// Token returns a usable access token, refreshing it first if it is about to expire.
	Token(ctx context.Context) (string, error)
	// Refresh replaces stale, an access token Thinkific refused, and returns the new one.
	Refresh(ctx context.Context, stale string) (string, error)
}

// StaticToken is a TokenSource for a token that cannot be refreshed (a fresh grant).
type StaticToken string

func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }
func (s StaticToken) Refresh(context.Context, string) (string, error) {
	return "", stride.Errorf(stride.EUNAUTHORIZED, "Thinkific refused a new access token")
}

// Webhook is one webhook on a site, as the Webhooks API shows it.
type Webhook struct {
	ID        string
	Status    string
	Topic     string
	TargetURL string
	CreatedBy string
}

// UnmarshalJSON reads a webhook whose id and created_by are strings in Thinkific's examples
// but numbers in its schema: both are kept as text, digits unchanged.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID        json.RawMessage `json:"id"`
		Status    string          `json:"status"`
		Topic     string          `json:"topic"`
		TargetURL string          `json:"target_url"`
		CreatedBy json.RawMessage `json:"created_by"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*w = Webhook{ID: stringOrNumber(raw.ID), Status: raw.Status, Topic: raw.Topic, TargetURL: raw.TargetURL,
		CreatedBy: stringOrNumber(raw.CreatedBy)}
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

// ListWebhooks lists every webhook of the site, following the pages to the end.
func (c *Client) ListWebhooks(ctx context.Context, auth TokenSource) ([]Webhook, error) {
	var all []Webhook
	next := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {"25"}} // the documented page size
		if next != "" {
			q.Set("next", next)
		}
		var body struct {
			Items []Webhook `json:"items"`
			Meta  struct {
				Page struct {
					HasNext  bool            `json:"has_next"`
					NextPage json.RawMessage `json:"next_page"`
				} `json:"page"`
			} `json:"meta"`
		}
		if err := c.call(ctx, auth, http.MethodGet, "/api/v2/webhooks?"+q.Encode(), nil, &body); err != nil {
			return nil, err
		}
		all = append(all, body.Items...)
		next = stringOrNumber(body.Meta.Page.NextPage)
		if !body.Meta.Page.HasNext || next == "" {
			return all, nil
		}
		if page > 1000 {
			return nil, stride.Errorf(stride.EUNAVAILABLE, "Thinkific's webhook list does not end")
		}
	}
}

// CreateWebhook registers target for topic.
func (c *Client) CreateWebhook(ctx context.Context, auth TokenSource, topic, target string) (Webhook, error) {
	var w Webhook
	err := c.call(ctx, auth, http.MethodPost, "/api/v2/webhooks", map[string]string{"topic": topic, "target_url": target}, &w)
	return w, err
}

// UpdateWebhook points an existing webhook at target, keeping its id and topic.
func (c *Client) UpdateWebhook(ctx context.Context, auth TokenSource, id, target string) (Webhook, error) {
	var w Webhook
	err := c.call(ctx, auth, http.MethodPut, "/api/v2/webhooks/"+url.PathEscape(id), map[string]string{"target_url": target}, &w)
	return w, err
}

// TopicTaken reports whether Thinkific refused a new webhook because the site already has
// one for its topic (it keeps one per topic). Stride asks only for topics
// Thinkific lists, so a 422 that names the topic means it is taken.
func TopicTaken(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity {
		return false
	}
	_, ok := e.Errors["topic"]
	return ok
}

// DeleteWebhook removes a webhook; one already gone counts as removed.
func (c *Client) DeleteWebhook(ctx context.Context, auth TokenSource, id string) error {
	err := c.call(ctx, auth, http.MethodDelete, "/api/v2/webhooks/"+url.PathEscape(id), nil, nil)
	if stride.ErrorCode(err) == stride.ENOTFOUND {
		return nil
	}
	return err
}

// call sends one API request: 429 and 5xx are retried by the retrying client; a 401 gets
// one token refresh and one more try.
func (c *Client) call(ctx context.Context, auth TokenSource, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
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
		if err != nil {
			return stride.Wrap(stride.EUNAVAILABLE, err, "Thinkific could not be reached")
		}
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
		return apiError(resp.StatusCode, raw)
	}
}

func apiError(status int, raw []byte) error {
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
		code, msg = stride.EFORBIDDEN, "Thinkific does not let this account manage the site's webhooks"
	case http.StatusNotFound:
		code, msg = stride.ENOTFOUND, "Thinkific does not know this webhook"
	case http.StatusUnprocessableEntity:
		code, msg = stride.EINVALID, "Thinkific refused the webhook: "+e.Detail()
	case http.StatusTooManyRequests:
		msg = "Thinkific's rate limit was still reached after waiting"
	}
	return stride.Wrap(code, e, msg)
}
