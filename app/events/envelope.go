// Package events reads Thinkific's webhook bodies: the envelope every event shares and the
// payloads Stride uses. It is strict about what it needs and lenient about
// how Thinkific spells it: ids as numbers or strings, percentages as strings or numbers.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strideapp/stride/app/stride"
)

// Envelope is what every Thinkific event carries around its payload.
type Envelope struct {
	ID             string
	Resource       string
	Action         string
	TenantID       string
	TenantGlobalID string
	CreatedAt      time.Time
	Payload        json.RawMessage
}

// Topic is resource.action, as webhooks are registered.
func (e *Envelope) Topic() string { return e.Resource + "." + e.Action }

// ErrMalformed marks a body that is not a Thinkific event at all.
var ErrMalformed = errors.New("not a Thinkific event")

// ParseEnvelope reads the envelope. It needs an id, a resource, an action and an event time.
func ParseEnvelope(body []byte) (*Envelope, error) {
	var raw struct {
		ID             json.RawMessage `json:"id"`
		Resource       string          `json:"resource"`
		Action         string          `json:"action"`
		TenantID       json.RawMessage `json:"tenant_id"`
		TenantGlobalID json.RawMessage `json:"tenant_global_id"`
		CreatedAt      string          `json:"created_at"`
		Timestamp      json.RawMessage `json:"timestamp"`
		Payload        json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e := &Envelope{ID: scalar(raw.ID), Resource: raw.Resource, Action: raw.Action,
		TenantID: scalar(raw.TenantID), TenantGlobalID: scalar(raw.TenantGlobalID), Payload: raw.Payload}
	switch {
	case e.ID == "":
		return nil, fmt.Errorf("%w: no id", ErrMalformed)
	case len(e.ID) > 100:
		return nil, fmt.Errorf("%w: id too long", ErrMalformed)
	case e.Resource == "" || e.Action == "":
		return nil, fmt.Errorf("%w: no resource or action", ErrMalformed)
	}
	at, err := ParseTime(raw.CreatedAt)
	if err != nil {
		if ts := scalar(raw.Timestamp); ts != "" {
			at, err = ParseTime(ts)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: created_at: %v", ErrMalformed, err)
		}
	}
	e.CreatedAt = at
	return e, nil
}

// scalar reads a JSON string or number as a string ("" for null or absent).
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// ParseTime reads Thinkific's ISO 8601 times (with or without fractions or zone; no zone
// means UTC) and epoch seconds or milliseconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n >= 1e12 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

// topics are Thinkific's webhook topics; the payments ones take any action.
var topics = map[string]bool{
	stride.TopicEnrollmentCreated: true, stride.TopicEnrollmentProgress: true, stride.TopicEnrollmentCompleted: true, stride.TopicEnrollmentTrial: true,
	stride.TopicLessonCompleted: true, "quiz.attempted": true,
	stride.TopicCourseCreated: true, stride.TopicCourseUpdated: true, stride.TopicCourseDeleted: true,
	"user.signup": true, "user.signin": true, "user.updated": true,
	"order.created": true, "lead.created": true,
	"product.created": true, "product.updated": true, "product.deleted": true,
	"plan.updated": true, stride.TopicAppUninstalled: true,
}

// KnownTopic reports whether Thinkific sends topic at all.
func KnownTopic(topic string) bool {
	if topics[topic] {
		return true
	}
	res, action, ok := strings.Cut(topic, ".")
	return ok && (res == "order_transaction" || res == "subscription") && action != "" && !strings.Contains(action, ".")
}
