package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/metrics"
)

// metricsPath is where Prometheus scrapes, with METRICS_TOKEN as its bearer token.
const metricsPath = "/metrics"

// MetricsHandler serves m to a client holding token as a bearer token (RFC 6750), and 401
// to any other. The worker command serves it alone; the web server at metricsPath.
func MetricsHandler(token string, m *metrics.Metrics) http.Handler {
	want := sha256.Sum256([]byte(token))
	serve := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		// Hashes of equal length, compared in constant time: the time taken tells nothing of
		// the token, not even its length.
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stride metrics"`)
			http.Error(w, "A bearer token is required: METRICS_TOKEN.", http.StatusUnauthorized)
			return
		}
		serve.ServeHTTP(w, r)
	})
}

// handleMetrics serves the process's series to the bearer of METRICS_TOKEN. Without the
// token set, or without series, there is nothing here: 404. (An unknown path would meet the
// dashboard's session check first and answer 401, which would invite a retry with a token.)
func (s *Server) handleMetrics(c echo.Context) error {
	if s.cfg.MetricsToken == "" || s.metrics == nil {
		return echo.ErrNotFound
	}
	s.serveMetrics.ServeHTTP(c.Response(), c.Request())
	return nil
}

// Context keys through which handleDelivery tells countDeliveries what became of a delivery.
const (
	outcomeKey = "stride.delivery.outcome"
	topicKey   = "stride.delivery.topic"
)

// countDeliveries records each POST to the webhook URL: outcome, topic and the time from
// its arrival to its answer. It sits before the body limits, so that their refusals count
// too, and has the error handler answer before counting, so that the status counted is
// the one sent (the error handler does nothing for a response already sent).
func (s *Server) countDeliveries(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.metrics == nil || c.Path() != deliveryPath || c.Request().Method != http.MethodPost {
			return next(c)
		}
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		outcome, _ := c.Get(outcomeKey).(string)
		if outcome == "" || status >= 300 {
			outcome = outcomeOfStatus(status)
		}
		topic, _ := c.Get(topicKey).(string)
		s.metrics.Delivery(outcome, topic, status, time.Since(start))
		return err
	}
}

// noteDelivery tells countDeliveries the outcome of a delivery the receiver answered and
// its topic, when the delivery was signed (an unsigned one's claims are not counted).
func noteDelivery(c echo.Context, res ingest.Result) {
	if res.Event != nil {
		c.Set(topicKey, res.Event.Topic())
	}
	if o, ok := outcomeOf[res.Outcome]; ok {
		c.Set(outcomeKey, o)
	}
}

var outcomeOf = map[ingest.Outcome]string{
	ingest.Accepted:    metrics.Stored,
	ingest.Duplicate:   metrics.Duplicate,
	ingest.Quarantined: metrics.Quarantined,
	ingest.Test:        metrics.Test,
	ingest.Held:        metrics.Held,
}

// outcomeOfStatus names a delivery Stride refused or could not take, by its answer.
func outcomeOfStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return metrics.BadSignature
	case http.StatusBadRequest:
		return metrics.Malformed
	case http.StatusRequestTimeout:
		return metrics.Timeout
	case http.StatusConflict:
		return metrics.Conflict
	case http.StatusRequestEntityTooLarge:
		return metrics.TooLarge
	case http.StatusServiceUnavailable:
		return metrics.Unavailable
	}
	return metrics.Failed
}
