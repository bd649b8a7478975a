package thinkific

import (
	"math"
	"net/http"
	"strconv"
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
