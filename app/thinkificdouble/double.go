// Package thinkificdouble is an in-process stand-in for Thinkific: the per-site OAuth
// endpoints, the Webhooks API and signed webhook deliveries, as Thinkific's documentation,
// its sample apps and third-party integrations describe them. Tests and `stride demo` run
// Stride against it because no real Thinkific site is reachable.
//
// One handler serves both kinds of host, told apart by path: per-site pages live under
// /sites/{subdomain}/, the Webhooks API under /api/v2/ and the REST Admin API under
// /api/public/v1/.
package thinkificdouble

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Config sets the app the double knows and how strict it is.
type Config struct {
	ClientID, ClientSecret string
	// Now is the clock; default time.Now. Code, token and rate-limit windows all use it.
	Now func() time.Time
	// AccessTokenTTL defaults to 86399 s, what Thinkific answers.
	AccessTokenTTL time.Duration
	// StrictHTTPS false lets a webhook target_url be http:// on a loopback host, so tests
	// need no certificates; true is Thinkific's rule (https only).
	StrictHTTPS bool
	// RateLimitPerMinute is per site over any 60 s, the Webhooks and REST APIs together;
	// 0 means 120, negative turns it off.
	RateLimitPerMinute int
	// RESTLatency is how long each REST Admin API request takes to answer, as over the
	// internet: the demo sets it so that an import takes long enough to watch. 0 answers
	// at once; the Webhooks API always does.
	RESTLatency time.Duration
	// OneWebhookPerTopic makes a second webhook of a site with the same topic a 422
	// {"errors":{"topic":"has already been taken"}}. Thinkific is documented to keep one per
	// topic but not how it refuses a second, so it is off by default.
	OneWebhookPerTopic bool
	// NumericIDs sends a webhook's id and created_by/updated_by as JSON numbers, which the
	// Webhooks API schema allows beside the examples' strings.
	NumericIDs bool
	// StringPercentages sends REST's percentage_completed as a JSON string ("0.4"), as
	// connectors built against the live API read it, instead of the docs' number.
	StringPercentages bool
	// Client sends webhook deliveries; default one with Thinkific's 5 s timeout.
	Client *http.Client
}

// Double is a fake Thinkific. It is an http.Handler and safe for concurrent use.
type Double struct {
	cfg Config
	mux *http.ServeMux

	mu         sync.Mutex
	sites      map[string]*Site
	codes      map[string]*authCode
	access     map[string]*accessToken
	refresh    map[string]grant
	requests   []Request
	lastID     time.Time
	nextTenant int
	// lastCatalogID is the last id given to a course, chapter, content, user or enrollment.
	lastCatalogID int64
}

// Request is one request the double received and what it answered.
type Request struct {
	Time         time.Time
	Method, Path string
	RawQuery     string
	Header       http.Header
	Body         []byte
	Subdomain    string // site the request was for, "" if none
	Status       int    // what the double answered
}

// maxBody bounds what a request may send; nothing Stride sends comes close.
const maxBody = 1 << 20

// New returns a double with no sites.
func New(cfg Config) *Double {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = 86399 * time.Second
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = 120
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: deliveryTimeout}
	}
	d := &Double{
		cfg:        cfg,
		sites:      map[string]*Site{},
		codes:      map[string]*authCode{},
		access:     map[string]*accessToken{},
		refresh:    map[string]grant{},
		nextTenant: 1000,
		// Ids far from 0 keep a position or a count from passing for an id.
		lastCatalogID: 1000,
	}
	d.mux = d.routes()
	return d
}

func (d *Double) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sites/{sub}/oauth2/authorize", d.authorize)
	mux.HandleFunc("POST /sites/{sub}/oauth2/authorize/decide", d.decide)
	mux.HandleFunc("POST /sites/{sub}/oauth2/token", d.token)

	mux.HandleFunc("GET /api/v2/webhooks", d.api(d.listWebhooks))
	mux.HandleFunc("POST /api/v2/webhooks", d.api(d.createWebhook))
	mux.HandleFunc("GET /api/v2/webhooks/{id}", d.api(d.showWebhook))
	mux.HandleFunc("PUT /api/v2/webhooks/{id}", d.api(d.updateWebhook))
	mux.HandleFunc("DELETE /api/v2/webhooks/{id}", d.api(d.deleteWebhook))
	mux.HandleFunc("GET /api/public/v1/courses", d.api(d.listCourses))
	mux.HandleFunc("GET /api/public/v1/courses/{id}", d.api(d.showCourse))
	mux.HandleFunc("GET /api/public/v1/courses/{id}/chapters", d.api(d.listChapters))
	mux.HandleFunc("GET /api/public/v1/chapters/{id}/contents", d.api(d.listContents))
	mux.HandleFunc("GET /api/public/v1/enrollments", d.api(d.listEnrollments))
	mux.HandleFunc("GET /api/public/v1/users", d.api(d.listUsers))
	mux.HandleFunc("/api/", d.api(func(w http.ResponseWriter, _ *http.Request, _ *accessToken) {
		writeJSON(w, http.StatusNotFound, errorBody("Not found."))
	}))
	return mux
}

// SiteURLTemplate is the THINKIFIC_SITE_URL that points Stride at this double served at base.
func (d *Double) SiteURLTemplate(base string) string {
	return base + "/sites/{subdomain}"
}

// ServeHTTP records every request with the status it got, errors included, so tests can
// assert on what Stride sent.
func (d *Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := d.cfg.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))

	rec := &recorder{ResponseWriter: w}
	d.mux.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = append(d.requests, Request{
		Time: start, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Subdomain: rec.subdomain, Status: rec.status,
	})
}

// Requests returns a copy of every request received, in order.
func (d *Double) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Request, len(d.requests))
	for i, r := range d.requests {
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (d *Double) ResetRequests() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = nil
}

// recorder keeps the status for Requests and lets handlers name the site they served.
type recorder struct {
	http.ResponseWriter
	status    int
	subdomain string
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func noteSite(w http.ResponseWriter, subdomain string) {
	if rec, ok := w.(*recorder); ok {
		rec.subdomain = subdomain
	}
}

// newID returns Thinkific's 23-digit id (UTC time to the nanosecond), strictly increasing
// so ids are unique and sort in creation order. Callers hold d.mu.
func (d *Double) newID() (string, time.Time) {
	t := d.cfg.Now().UTC()
	if !t.After(d.lastID) {
		t = d.lastID.Add(time.Nanosecond)
	}
	d.lastID = t
	return t.Format("20060102150405") + fmt.Sprintf("%09d", t.Nanosecond()), t
}

func randomToken() string { return rand.Text() }

func randomUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }
