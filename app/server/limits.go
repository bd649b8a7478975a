package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/stride"
)

// Bounds on what deliveries may hold. Thinkific's events are about a kilobyte and arrive at
// once; a body still arriving seconds later is stalled, on purpose or not. Without these,
// 800 stalled uploads of junk held 300 MiB, more than a basic dyno's 512 MB allows for long.
const (
	maxDeliveryBody    = 256 << 10 // 256 KiB
	maxDeliveryReads   = 64        // bodies being read at once: at most 64 × 256 KiB in flight
	maxConnections     = 1024      // open connections; more wait in the kernel's accept queue
	deliveryBufferSize = 16 << 10
)

// bodyBuffers are reused for webhook bodies; only small ones return to the pool, so a burst
// of large junk bodies leaves nothing behind.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, deliveryBufferSize); return &b }}

// deliveryBodies reads a delivery's body before its handler, within bounds: at most reads
// bodies at once (when all are taken the answer is 503 with Retry-After at once, not a
// queue), each within timeout, into a pooled buffer of at most limit bytes. A client that
// stops sending is a 408 and one that hangs up mid-body a 400: its fault, not the server's.
func deliveryBodies(reads int, timeout time.Duration, limit int) echo.MiddlewareFunc {
	slots := make(chan struct{}, reads)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > int64(limit) {
				return echo.ErrStatusRequestEntityTooLarge // the server closes the connection unread
			}
			// Refused or failed, the connection is closed after the answer: otherwise the
			// server would first read what remains of the body, as long as the client stalls.
			refuse := func(err error) error {
				c.Response().Header().Set(echo.HeaderConnection, "close")
				return err
			}
			select {
			case slots <- struct{}{}:
			default:
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(timeout/time.Second)))
				return refuse(stride.Errorf(stride.EUNAVAILABLE, "Too many deliveries at once; try again shortly."))
			}
			// A deadline on the connection itself: it ends a stalled read, which a context cannot.
			// The server sets its own deadlines again for the connection's next request.
			rc := http.NewResponseController(c.Response())
			rc.SetReadDeadline(time.Now().Add(timeout))
			bp := bodyBuffers.Get().(*[]byte)
			body, err := readBody(req.Body, (*bp)[:0], limit)
			<-slots
			if err == nil {
				// The body is in: the server now watches the connection for a hang-up, and a
				// deadline passing then would cancel the request's context mid-commit.
				rc.SetReadDeadline(time.Time{})
			}
			defer func() {
				if cap(body) <= deliveryBufferSize {
					*bp = body[:0]
					bodyBuffers.Put(bp)
				}
			}()
			if err != nil {
				return refuse(err)
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			return next(c)
		}
	}
}

// readBody appends r to buf, growing it by doubling up to limit bytes.
func readBody(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf, echo.ErrStatusRequestEntityTooLarge
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF && len(buf) > limit:
			return buf, echo.ErrStatusRequestEntityTooLarge
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, bodyError(err)
		}
	}
}

// bodyError says whose fault a failed body read is: a stall or a hang-up is the client's.
func bodyError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, echo.ErrStatusRequestEntityTooLarge):
		return err
	case errors.As(err, &ne) && ne.Timeout():
		return echo.NewHTTPError(http.StatusRequestTimeout, "The request body did not arrive in time.")
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "The request body ended before its end.")
	}
}
