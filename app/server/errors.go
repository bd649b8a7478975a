package server

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/stride"
)

var statusOf = map[string]int{
	stride.EINVALID:      http.StatusBadRequest,
	stride.EUNAUTHORIZED: http.StatusUnauthorized,
	stride.EFORBIDDEN:    http.StatusForbidden,
	stride.ENOTFOUND:     http.StatusNotFound,
	stride.ECONFLICT:     http.StatusConflict,
	stride.EUNAVAILABLE:  http.StatusServiceUnavailable,
	stride.EINTERNAL:     http.StatusInternalServerError,
}

var titleOf = map[int]string{
	http.StatusBadRequest:          "That did not work",
	http.StatusUnauthorized:        "Please open Stride from your Thinkific admin",
	http.StatusForbidden:           "Not allowed",
	http.StatusNotFound:            "Not found",
	http.StatusServiceUnavailable:  "Stride is unavailable for a moment",
	http.StatusInternalServerError: "Something went wrong",
}

// handleError is the one place an error becomes a response: JSON for machines, a page for
// people. Only what is the server's fault is logged as an error.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, message := http.StatusInternalServerError, stride.ErrorMessage(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		message = http.StatusText(status)
		if m, ok := he.Message.(string); ok && status < 500 {
			message = m
		}
	} else {
		status = statusOf[stride.ErrorCode(err)]
	}
	if status == http.StatusUnauthorized && message == "" {
		message = "Your Stride session has ended. Open Stride again from the Apps page of your Thinkific admin."
	}
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 {
		s.log.Error("request failed", "status", status, "path", c.Request().URL.Path, "request_id", rid, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if wantsJSON(c) {
		c.JSON(status, map[string]string{"error": message, "request_id": rid})
		return
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		c.Response().Header().Set("Content-Security-Policy", csp(s.guidanceAncestors(c)))
	}
	title := titleOf[status]
	if title == "" {
		title = http.StatusText(status)
	}
	var retry retryError
	errors.As(err, &retry)
	if err := s.render(c, status, "error.html", errorPage{Title: title, Message: message, RetryURL: retry.url, RequestID: rid}); err != nil {
		c.String(status, message)
	}
}

// retryError is a failure whose page offers to start again at url, as a failed install
// offers a new install of the same site.
type retryError struct {
	error
	url string
}

func (e retryError) Unwrap() error { return e.error }

type errorPage struct {
	Title, Message, RetryURL, RequestID string
}

func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/webhooks/") || p == "/healthz" ||
		strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON)
}

// render executes a page into a buffer first, so a template error never sends half a page.
func (s *Server) render(c echo.Context, status int, page string, data any) error {
	t, ok := s.pages[page]
	if !ok {
		return stride.Errorf(stride.EINTERNAL, "no page %s", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return stride.Wrap(stride.EINTERNAL, err, "page could not be rendered")
	}
	return c.HTMLBlob(status, buf.Bytes())
}
