package server

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/strideapp/stride/app/stride"
)

// logRequests writes one structured line per request. It logs the path, never the query:
// queries carry OAuth codes, states and launch signatures. A delivery Stride took (a 2xx on
// the webhook path, the bulk of all requests) is logged at debug only: the line cost a third
// of the webhook path's throughput, Heroku's router logs every request anyway, and the
// delivery log and the counters keep what happened. Its failures and refusals still log.
func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogLatency: true, LogMethod: true, LogURIPath: true, LogRequestID: true, LogError: true,
		HandleError: true, // let the error handler set the status before we log it
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case v.Status < 300 && c.Path() == deliveryPath && v.Method == http.MethodPost:
				level = slog.LevelDebug
			}
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", v.URIPath), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID))
			return nil
		},
	})
}

// csp allows only Stride's own assets, framed only by frameAncestors: 'none' by default,
// a session's pages widen it to that one site's Thinkific admin.
func csp(frameAncestors string) string {
	return "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + frameAncestors
}

// securityHeaders are on every response. Over https, browsers are told to use nothing else
// (HSTS); a local http APP_URL must not teach them that.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", csp("'none'"))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// guidanceAncestors is who may frame a 401 or 403 page. Those pages carry no data, only
// what to do next, so showing them inside any Thinkific admin is safe, and far better than
// the browser's "refused to connect" there. A launch names its site: then only that site.
func (s *Server) guidanceAncestors(c echo.Context) string {
	if sub := c.QueryParam("subdomain"); stride.ValidSubdomain(sub) {
		return s.cfg.SiteOrigin(sub)
	}
	return s.cfg.SiteOrigin("*")
}

// deadline gives a request's work at most d, counted from when this middleware runs.
func deadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// requestID gives every request an id of Stride's own, in the request (where the request
// log reads it) and the response. A client's X-Request-ID is replaced, never trusted: it
// would reach logs and error pages exactly as the client wrote it.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := rand.Text()
		c.Request().Header.Set(echo.HeaderXRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}
