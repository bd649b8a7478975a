package thinkificdouble

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strideapp/stride/app/internal/loopback"
	"github.com/strideapp/stride/app/stride"
)

const (
	defaultPageLimit = 25
	maxPageLimit     = 250
)

// topics are the ones Thinkific documents; order_transaction.* and subscription.* take any action.
var topics = map[string]bool{
	stride.TopicEnrollmentCreated: true, stride.TopicEnrollmentProgress: true, stride.TopicEnrollmentCompleted: true,
	stride.TopicEnrollmentTrial: true, stride.TopicLessonCompleted: true, "quiz.attempted": true,
	"course.created": true, "course.updated": true, "course.deleted": true,
	"user.signup": true, "user.signin": true, "user.updated": true,
	"order.created": true, "lead.created": true,
	"product.created": true, "product.updated": true, "product.deleted": true,
	"plan.updated": true, stride.TopicAppUninstalled: true,
}

func validTopic(t string) bool {
	if topics[t] {
		return true
	}
	for _, family := range []string{"order_transaction.", "subscription."} {
		if action, ok := strings.CutPrefix(t, family); ok && action != "" && !strings.ContainsAny(action, ". ") {
			return true
		}
	}
	return false
}

// validTarget follows Thinkific (https only), except that loopback http is allowed unless
// StrictHTTPS, so tests can receive deliveries on a plain httptest server.
func (d *Double) validTarget(target string) bool {
	u, err := url.Parse(target)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return !d.cfg.StrictHTTPS && loopback.Host(u.Hostname())
	}
	return false
}

// api authenticates the bearer token, counts the request against the site's rate limit,
// then applies, in order, injected faults, the rate limit and the student restriction.
// Every request with a valid token counts, whatever its answer; one without cannot be
// told apart by site. The handler runs holding d.mu.
func (d *Double) api(h func(http.ResponseWriter, *http.Request, *accessToken)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d.cfg.RESTLatency > 0 && strings.HasPrefix(r.URL.Path, "/api/public/") {
			select {
			case <-time.After(d.cfg.RESTLatency):
			case <-r.Context().Done():
				return
			}
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		tok, problem := d.bearer(r)
		if tok == nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errorBody(problem))
			return
		}
		s := tok.site
		noteSite(w, s.subdomain)
		over, reset := s.overLimit(d.cfg.Now(), d.cfg.RateLimitPerMinute)
		if s.answerFault(w, r.Method, r.URL.Path) {
			return
		}
		if over {
			w.Header().Set("RateLimit-Reset", strconv.Itoa(reset))
			writeJSON(w, http.StatusTooManyRequests, errorBody("Too many requests"))
			return
		}
		if tok.student {
			writeJSON(w, http.StatusForbidden, errorBody("Forbidden"))
			return
		}
		h(w, r, tok)
	}
}

// bearer finds the access token of the request, or says why there is none. Callers hold d.mu.
func (d *Double) bearer(r *http.Request) (*accessToken, string) {
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || value == "" {
		return nil, "Missing access token."
	}
	tok, ok := d.access[strings.TrimSpace(value)]
	if !ok {
		return nil, "The access token is invalid."
	}
	if !d.cfg.Now().Before(tok.expires) {
		return nil, "The access token expired."
	}
	return tok, ""
}

type page struct {
	HasNext    bool    `json:"has_next"`
	NextPage   *string `json:"next_page"`
	PageItems  int     `json:"page_items"`
	TotalItems int     `json:"total_items"`
}

func (d *Double) listWebhooks(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	s := tok.site
	q := r.URL.Query()
	limit := defaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, errorBody("limit must be a positive integer"))
			return
		}
		limit = min(n, maxPageLimit)
	}
	// The cursor is the last id already seen, so deletions between pages skip nothing.
	start := 0
	if v := q.Get("next"); v != "" {
		after, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(after) != 23 {
			writeJSON(w, http.StatusBadRequest, errorBody("Invalid next cursor."))
			return
		}
		for start < len(s.hooks) && s.hooks[start].ID <= string(after) {
			start++
		}
	}
	end := min(start+limit, len(s.hooks))
	items := make([]any, 0, end-start)
	for _, h := range s.hooks[start:end] {
		items = append(items, d.wire(h.Webhook))
	}
	p := page{HasNext: end < len(s.hooks), PageItems: len(items), TotalItems: len(s.hooks)}
	if p.HasNext {
		cursor := base64.RawURLEncoding.EncodeToString([]byte(s.hooks[end-1].ID))
		p.NextPage = &cursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "meta": map[string]any{"page": p}})
}

// wire is a webhook as the API sends it: with NumericIDs, its ids are JSON numbers.
func (d *Double) wire(h Webhook) any {
	if !d.cfg.NumericIDs {
		return h
	}
	return map[string]any{
		"id": json.Number(h.ID), "status": h.Status, "topic": h.Topic, "target_url": h.TargetURL,
		"created_at": h.CreatedAt, "created_by": json.Number(h.CreatedBy),
		"updated_at": h.UpdatedAt, "updated_by": json.Number(h.UpdatedBy),
	}
}

type webhookInput struct {
	Topic     *string `json:"topic"`
	TargetURL *string `json:"target_url"`
}

// readInput decodes a create or update body and checks the fields it carries; a create
// must carry both. except is the webhook being updated, which may keep its own topic.
// It writes the error answer itself and returns false on failure.
func (d *Double) readInput(w http.ResponseWriter, r *http.Request, s *Site, create bool, except string) (webhookInput, bool) {
	var in webhookInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("Malformed JSON body."))
		return in, false
	}
	errs := map[string]string{}
	if in.Topic != nil || create {
		switch {
		case in.Topic == nil || !validTopic(*in.Topic):
			errs["topic"] = "invalid format"
		case d.cfg.OneWebhookPerTopic && s.topicTaken(*in.Topic, except):
			errs["topic"] = "has already been taken"
		}
	}
	if (in.TargetURL != nil || create) && (in.TargetURL == nil || !d.validTarget(*in.TargetURL)) {
		errs["url"] = "is not valid"
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": errs})
		return in, false
	}
	return in, true
}

// topicTaken reports whether another webhook of the site has the topic. Callers hold d.mu.
func (s *Site) topicTaken(topic, except string) bool {
	for _, h := range s.hooks {
		if h.Topic == topic && h.ID != except {
			return true
		}
	}
	return false
}

func (d *Double) createWebhook(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	in, ok := d.readInput(w, r, tok.site, true, "")
	if !ok {
		return
	}
	h := d.addHook(tok.site, *in.Topic, *in.TargetURL, true)
	writeJSON(w, http.StatusCreated, d.wire(h.Webhook))
}

func (d *Double) showWebhook(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	h := tok.site.findHook(r.PathValue("id"))
	if h == nil {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	writeJSON(w, http.StatusOK, d.wire(h.Webhook))
}

// updateWebhook changes topic and/or target_url; status is Thinkific's to set, so a status
// in the body is ignored.
func (d *Double) updateWebhook(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	h := tok.site.findHook(r.PathValue("id"))
	if h == nil {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	in, ok := d.readInput(w, r, tok.site, false, h.ID)
	if !ok {
		return
	}
	if in.Topic != nil {
		h.Topic = *in.Topic
	}
	if in.TargetURL != nil {
		h.TargetURL = *in.TargetURL
	}
	h.UpdatedAt = formatTime(d.cfg.Now())
	h.UpdatedBy = tok.site.ownerID
	writeJSON(w, http.StatusOK, d.wire(h.Webhook))
}

func (d *Double) deleteWebhook(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	if !tok.site.removeHook(r.PathValue("id")) {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
