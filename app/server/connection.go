package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// quietAfter is how long without any event makes the connection page warn.
const quietAfter = 72 * time.Hour

type connectionPage struct {
	page
	Webhooks   []stride.Webhook
	Deliveries []store.LoggedDelivery
	*store.Connection
	Quiet    bool
	Replayed bool
}

// handleHome is the app URL: a signed launch from the Thinkific admin, or the overview of
// the session's site.
func (s *Server) handleHome(c echo.Context) error {
	if c.QueryParam("hmac") != "" {
		return s.handleLaunch(c)
	}
	return s.requireSession(s.handleOverview)(c)
}

// handleConnection shows how Thinkific reaches Stride: webhooks, the last event, the
// delivery log with replay.
func (s *Server) handleConnection(c echo.Context) error {
	site := siteOf(c)
	ctx := c.Request().Context()
	hooks, err := s.db.Webhooks(ctx, site.ID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	log, err := s.db.DeliveryLog(ctx, site.ID, now.Add(time.Minute), 100)
	if err != nil {
		return err
	}
	conn, err := s.db.View(site.ID).Connection(ctx)
	if err != nil {
		return err
	}
	since := site.InstalledAt
	if conn.LastEventAt != nil {
		since = *conn.LastEventAt
	}
	return s.render(c, http.StatusOK, "connection.html", connectionPage{page: page{site, "connection"}, Webhooks: hooks,
		Deliveries: log, Connection: conn, Quiet: now.Sub(since) > quietAfter, Replayed: c.QueryParam("replayed") != ""})
}

// handleReplay puts a failed or quarantined delivery of the session's site back in line.
func (s *Server) handleReplay(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return stride.Errorf(stride.EINVALID, "No such delivery.")
	}
	if err := s.db.Replay(c.Request().Context(), siteOf(c).ID, id); err != nil {
		return err
	}
	s.receiver.Wake()
	return c.Redirect(http.StatusSeeOther, "/connection?replayed=1")
}
