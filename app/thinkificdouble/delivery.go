package thinkificdouble

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// deliveryTimeout is how long Thinkific waits for a 2xx before counting a delivery failed.
const deliveryTimeout = 5 * time.Second

// Delivery is one POST the double made to a webhook's target, kept whole so a test can
// replay it.
type Delivery struct {
	WebhookID string
	URL       string
	Header    http.Header // as sent
	Body      []byte      // as sent, the bytes the signature covers
	Status    int         // 0 when no answer came
	Err       error       // transport error, timeout or non-2xx status
}

// Event is the envelope Thinkific posts. Tenant fields are left out when empty, as older
// events leave out tenant_global_id.
type Event struct {
	ID             string `json:"id"`
	Resource       string `json:"resource"`
	Action         string `json:"action"`
	TenantID       string `json:"tenant_id,omitempty"`
	TenantGlobalID string `json:"tenant_global_id,omitempty"`
	CreatedAt      string `json:"created_at"`
	Payload        any    `json:"payload"`
}

// NewEvent is the body of a topic's event: payload in Thinkific's envelope. A payload
// already encoded can be given as json.RawMessage.
func NewEvent(id, topic, tenantID, gid string, at time.Time, payload any) ([]byte, error) {
	resource, action, _ := strings.Cut(topic, ".")
	body, err := json.Marshal(Event{ID: id, Resource: resource, Action: action, TenantID: tenantID,
		TenantGlobalID: gid, CreatedAt: Stamp(at), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", topic, err)
	}
	return body, nil
}

// Stamp is Thinkific's created_at: ISO 8601 UTC with milliseconds.
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NewRequest is a webhook delivery as Thinkific makes it: body POSTed to url with the
// topic, the site and the signature (see Sign) in its headers.
func NewRequest(ctx context.Context, url, topic, subdomain, signature string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Thinkific-Webhooks (stride)")
	req.Header.Set("X-Thinkific-Topic", topic)
	req.Header.Set("X-Thinkific-Hmac-Sha256", signature)
	req.Header.Set("X-Thinkific-Subdomain", subdomain)
	return req, nil
}

// Post delivers body as NewRequest makes it and returns the answer's status and up to
// 64 KB of its body. Any status is an answer; err is for no answer.
func Post(ctx context.Context, client *http.Client, url, topic, subdomain, signature string, body []byte) (status int, answer []byte, err error) {
	req, err := NewRequest(ctx, url, topic, subdomain, signature, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // lets the connection be reused
	return resp.StatusCode, answer, err
}

// maxAnswer is as much of an answer as a sender reads: Stride's are a line of JSON.
const maxAnswer = 64 << 10

// Deliver wraps payload in a new event envelope for topic and posts it to every active
// webhook of the site with that topic. It fails only on a bad topic or payload; each
// target's outcome is in the returned deliveries. There are no retries: call again to
// play Thinkific's retry.
func (s *Site) Deliver(ctx context.Context, topic string, payload any) ([]Delivery, error) {
	if !validTopic(topic) {
		return nil, fmt.Errorf("thinkificdouble: unknown topic %q", topic)
	}
	s.d.mu.Lock()
	id, now := s.d.newID()
	s.d.mu.Unlock()
	body, err := NewEvent(id, topic, s.tenantID, s.gid, now, payload)
	if err != nil {
		return nil, fmt.Errorf("thinkificdouble: %w", err)
	}
	return s.DeliverRaw(ctx, topic, body), nil
}

// DeliverRaw posts body unchanged (e.g. a published example from shared/thinkific/events)
// to every active webhook of the site with that topic, signed as Thinkific signs it.
func (s *Site) DeliverRaw(ctx context.Context, topic string, body []byte) []Delivery {
	type target struct{ id, url, key string }
	var targets []target
	s.d.mu.Lock()
	for _, h := range s.hooks {
		if h.Topic != topic || h.Status != "active" {
			continue
		}
		// Webhooks made by the OAuth app are signed with the client secret, ones made
		// in the admin UI with the site's API key.
		key := s.apiKey
		if h.byApp {
			key = s.d.cfg.ClientSecret
		}
		targets = append(targets, target{h.ID, h.TargetURL, key})
	}
	client := s.d.cfg.Client
	s.d.mu.Unlock()

	out := make([]Delivery, 0, len(targets))
	for _, t := range targets {
		out = append(out, s.post(ctx, client, t.id, t.url, topic, sign(t.key, body), body))
	}
	return out
}

func (s *Site) post(ctx context.Context, client *http.Client, id, url, topic, signature string, body []byte) Delivery {
	dl := Delivery{WebhookID: id, URL: url, Body: body}
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := NewRequest(ctx, url, topic, s.subdomain, signature, body)
	if err != nil {
		dl.Err = err
		return dl
	}
	dl.Header = req.Header.Clone()

	resp, err := client.Do(req)
	if err != nil {
		dl.Err = err
		return dl
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	dl.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		dl.Err = fmt.Errorf("thinkificdouble: %s answered %d", url, resp.StatusCode)
	}
	return dl
}

// sign is Thinkific's X-Thinkific-Hmac-Sha256: hex HMAC-SHA256 of the raw body.
func sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
