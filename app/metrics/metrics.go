// Package metrics holds the series a Stride process exports for Prometheus: counters and
// histograms its parts record as they work, and figures read from the database when
// scraped (see fleet.go). Labels carry bounded values only (an outcome, a known topic, a
// state), never a site, a learner or anything they sent.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strideapp/stride/app/stride"
)

// Delivery outcomes: what became of one POST to the webhook URL.
const (
	Stored       = "stored"        // a new event, in the inbox for a worker
	Duplicate    = "duplicate"     // an event already stored: nothing changed
	Quarantined  = "quarantined"   // signed, but not an event Stride can apply: kept for a person
	Test         = "test"          // a test delivery from the Thinkific admin
	Held         = "held"          // signed, but no installed site is named yet: kept until one is
	BadSignature = "bad_signature" // 401
	Malformed    = "malformed"     // 400: names no site, or the body broke off
	Timeout      = "timeout"       // 408: the body stalled
	Conflict     = "conflict"      // 409: PAIRING_WAIT_FOR_LESSON is waiting for the lesson
	TooLarge     = "too_large"     // 413
	Unavailable  = "unavailable"   // 503: too many at once, or the inbox did not commit in time
	Failed       = "error"         // any other answer
)

var outcomes = []string{Stored, Duplicate, Quarantined, Test, Held, BadSignature, Malformed, Timeout, Conflict, TooLarge, Unavailable, Failed}

// OtherTopic stands for every topic Stride does not register (and deliveries whose topic
// is unknown): only known topics become label values.
const OtherTopic = "other"

// topics are the label values of a delivery's topic: those Stride registers, the trial
// enrollments it applies too, and OtherTopic.
var topics = append(slices.Clone(stride.WebhookTopics), stride.TopicEnrollmentTrial, OtherTopic)

// Topic is t as a label value: itself when Stride knows it, OtherTopic otherwise.
func Topic(t string) string {
	if slices.Contains(topics, t) {
		return t
	}
	return OtherTopic
}

// Results of the other counters.
const (
	Retry  = "retry"  // an event failed and will be tried again after a backoff
	Parked = "parked" // an event failed for good: visible in the delivery log, replayable

	Refreshed = "refreshed" // new tokens saved
	Refused   = "refused"   // Thinkific refused the refresh token: the site must be installed again
	// (Failed: the refresh did not happen or was not saved, and may next time.)

	Kept     = "kept"     // a topic's webhook was already right
	Created  = "created"  // a missing webhook was created
	Replaced = "replaced" // a stale webhook of Stride's was replaced (created anew, the old removed)
	// (Failed: a topic has no webhook; Thinkific refused or did not answer.)
	Unreachable = "unreachable" // the site's webhooks could not be listed: no topic was looked at
)

// Metrics are one process's series, on a registry of their own. A nil *Metrics records
// nothing, so parts built without it (most tests, one-off commands) need no stand-in.
type Metrics struct {
	registry        *prometheus.Registry
	deliveries      *prometheus.CounterVec
	deliverySeconds *prometheus.HistogramVec
	applied         prometheus.Counter
	failed          *prometheus.CounterVec
	pairingLag      prometheus.Histogram
	refreshes       *prometheus.CounterVec
	reconciles      *prometheus.CounterVec
}

// New makes the series, with the Go runtime's and the process's, on a new registry. dyno
// names this process when several answer at one address (Heroku's DYNO, like web.1, as
// Heroku's router sends each scrape to any web dyno): this process's own series then carry
// it as the label dyno, so that two dynos' counters never read as one that went back. The
// database's figures (WatchFleet) are the same from every process and carry no such label.
func New(dyno string) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stride_webhook_deliveries_total",
			Help: "Webhook deliveries answered, by outcome and topic (topics Stride does not register count as other).",
		}, []string{"outcome", "topic"}),
		deliverySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stride_webhook_duration_seconds",
			Help:    "Time from a delivery's arrival to its answer, body read and inbox commit included, by status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"class"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stride_events_applied_total",
			Help: "Inbox events this process's worker applied to their site's records.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stride_events_failed_total",
			Help: "Inbox events this process's worker could not apply: retry (tried again after a backoff) or parked (failed for good, replayable).",
		}, []string{"result"}),
		pairingLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stride_pairing_lag_seconds",
			Help: "Time from the receipt of a learner step's event (lesson.completed or enrollment.progress) to the commit of the worker batch " +
				"that applied it and paired it with its other half, when that is in.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600},
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stride_token_refreshes_total",
			Help: "Access token refreshes this process asked Thinkific for, by result: refreshed, refused (the site must be installed again) or error.",
		}, []string{"result"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stride_webhook_reconciles_total",
			Help: "Webhook topics reconciled with Thinkific, by result: kept, created, replaced, error (the topic has no webhook); " +
				"unreachable counts reconciles that could not list a site's webhooks at all.",
		}, []string{"result"}),
	}
	// Every series exists from the start at 0, so that rates and alerts see a value
	// before the first event of its kind.
	for _, o := range outcomes {
		for _, t := range topics {
			m.deliveries.WithLabelValues(o, t)
		}
	}
	for _, c := range []string{"2xx", "4xx", "5xx"} {
		m.deliverySeconds.WithLabelValues(c)
	}
	for _, r := range []string{Retry, Parked} {
		m.failed.WithLabelValues(r)
	}
	for _, r := range []string{Refreshed, Refused, Failed} {
		m.refreshes.WithLabelValues(r)
	}
	for _, r := range []string{Kept, Created, Replaced, Failed, Unreachable} {
		m.reconciles.WithLabelValues(r)
	}
	var own prometheus.Registerer = m.registry
	if dyno != "" {
		own = prometheus.WrapRegistererWith(prometheus.Labels{"dyno": dyno}, m.registry)
	}
	own.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.deliveries, m.deliverySeconds, m.applied, m.failed, m.pairingLag, m.refreshes, m.reconciles,
	)
	return m
}

// Handler serves the registry in Prometheus's text format. A collector that fails leaves
// its series out of that scrape (stride_fleet_up says so) instead of failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4})
}

// Delivery records one webhook delivery's outcome, its topic and how long it took, from
// arrival to answer with status.
func (m *Metrics) Delivery(outcome, topic string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(outcome, Topic(topic)).Inc()
	m.deliverySeconds.WithLabelValues(strconv.Itoa(status/100) + "xx").Observe(took.Seconds())
}

// Applied records n events applied in one batch; waited holds, for each learner step
// event among them, the time since its receipt.
func (m *Metrics) Applied(n int, waited []time.Duration) {
	if m == nil {
		return
	}
	m.applied.Add(float64(n))
	for _, d := range waited {
		m.pairingLag.Observe(d.Seconds())
	}
}

// EventFailed records an event that could not be applied: result is Retry or Parked.
func (m *Metrics) EventFailed(result string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.failed.WithLabelValues(result).Add(float64(n))
}

// TokenRefresh records one refresh of a site's tokens: Refreshed, Refused or Failed.
func (m *Metrics) TokenRefresh(result string) {
	if m == nil {
		return
	}
	m.refreshes.WithLabelValues(result).Inc()
}

// Reconciled records n topics of one reconcile with result (Kept, Created, Replaced,
// Failed), or a reconcile that could not start (Unreachable, n = 1).
func (m *Metrics) Reconciled(result string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.reconciles.WithLabelValues(result).Add(float64(n))
}
