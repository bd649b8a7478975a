package thinkific

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/strideapp/stride/app/stride"
)

// resetWait reads Thinkific's RateLimit-Reset header. Its unit is not documented,
// so every plausible form is accepted: epoch milliseconds, epoch seconds, and a delay —
// in seconds when it fits the one-minute window, in milliseconds when it is larger.
func resetWait(h string, now time.Time) (time.Duration, bool) {
	v, err := strconv.ParseFloat(h, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	var d time.Duration
	switch {
	case v >= 1e12:
		d = time.UnixMilli(int64(v)).Sub(now)
	case v >= 1e9:
		d = time.Unix(int64(v), 0).Sub(now)
	case v <= 60:
		d = time.Duration(v * float64(time.Second))
	default:
		d = time.Duration(v * float64(time.Millisecond))
	}
	if d < 0 {
		d = 0
	}
	return d, true
}

// backoff waits as a 429 asks, and otherwise backs off exponentially (or as Retry-After asks).
func backoff(clock stride.Clock) retryablehttp.Backoff {
	return func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			if d, ok := resetWait(resp.Header.Get("RateLimit-Reset"), clock.Now()); ok {
				if d > max {
					d = max
				}
				return d + 50*time.Millisecond
			}
		}
		return retryablehttp.DefaultBackoff(min, max, attempt, resp)
	}
}

// Limiter keeps each site's API requests within Thinkific's rate limit, 120 a minute per
// site, across every process sending them. The store's APIBudget is the one Stride runs on.
type Limiter interface {
	// Take waits until the site may send one more request, and counts it as sent. It fails
	// when ctx ends first, or when the count cannot be kept.
	Take(ctx context.Context, siteID int64) error
	// Block holds back every request to the site until `until`: Thinkific answered 429
	// and named its reset.
	Block(ctx context.Context, siteID int64, until time.Time) error
}

// budgetKey is whom an API request is charged to: a site's budget, or the tally of a grant
// whose site has no id yet (GrantToken).
type budgetKey struct {
	site  int64
	tally *atomic.Int64
}

type budgetKeyCtx struct{}

// withBudget marks ctx with the site auth's requests are charged to. A request without it
// is not sent (budgeted.RoundTrip).
func withBudget(ctx context.Context, auth TokenSource) (context.Context, error) {
	if id := auth.SiteID(); id > 0 {
		return context.WithValue(ctx, budgetKeyCtx{}, budgetKey{site: id}), nil
	}
	if g, ok := auth.(*GrantToken); ok {
		return context.WithValue(ctx, budgetKeyCtx{}, budgetKey{tally: &g.sent}), nil
	}
	return nil, stride.Errorf(stride.EINTERNAL, "an API call names no site to charge it to")
}

// budgetError is a request the budget did not let through: it is not retried.
type budgetError struct{ err error }

func (e *budgetError) Error() string { return "thinkific: rate budget: " + e.err.Error() }
func (e *budgetError) Unwrap() error { return e.err }

// budgeted is the APIs' transport, below the retrying client: every attempt, retries and
// redirects included, is taken from its site's budget before it is sent, whatever Thinkific
// then answers. A 429's reset is recorded in the budget, so every process waits it out.
type budgeted struct {
	next    http.RoundTripper
	limiter Limiter
	clock   stride.Clock
	timeout time.Duration // one attempt, from when the budget let it through
}

func (t *budgeted) RoundTrip(req *http.Request) (*http.Response, error) {
	key, ok := req.Context().Value(budgetKeyCtx{}).(budgetKey)
	switch {
	case !ok:
		return nil, &budgetError{stride.Errorf(stride.EINTERNAL, "an API request names no site to charge it to")}
	case key.tally != nil:
		key.tally.Add(1)
	default:
		if err := t.limiter.Take(req.Context(), key.site); err != nil {
			return nil, &budgetError{err}
		}
	}
	// The timeout starts here, not before the wait for the budget (so not http.Client's).
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	if resp.StatusCode == http.StatusTooManyRequests && key.tally == nil {
		now := t.clock.Now()
		if d, ok := resetWait(resp.Header.Get("RateLimit-Reset"), now); ok && d > 0 {
			// Best effort: this process's backoff waits for the reset anyway.
			_ = t.limiter.Block(req.Context(), key.site, now.Add(d))
		}
	}
	return resp, nil
}

// cancelOnClose ends an attempt's context once its answer has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
