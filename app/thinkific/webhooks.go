package thinkific

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/strideapp/stride/app/stride"
)

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
		if err := c.call(ctx, auth, http.MethodGet, "/api/v2/webhooks?"+q.Encode(), "webhook", nil, &body); err != nil {
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
	err := c.call(ctx, auth, http.MethodPost, "/api/v2/webhooks", "webhook", map[string]string{"topic": topic, "target_url": target}, &w)
	return w, err
}

// UpdateWebhook points an existing webhook at target, keeping its id and topic.
func (c *Client) UpdateWebhook(ctx context.Context, auth TokenSource, id, target string) (Webhook, error) {
	var w Webhook
	err := c.call(ctx, auth, http.MethodPut, "/api/v2/webhooks/"+url.PathEscape(id), "webhook", map[string]string{"target_url": target}, &w)
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
	err := c.call(ctx, auth, http.MethodDelete, "/api/v2/webhooks/"+url.PathEscape(id), "webhook", nil, nil)
	if stride.ErrorCode(err) == stride.ENOTFOUND {
		return nil
	}
	return err
}
