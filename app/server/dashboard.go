package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

type dashboardPage struct {
	Site       *stride.Site
	Webhooks   []stride.Webhook
	Deliveries []store.LoggedDelivery
	Replayed   bool
}

// handleHome is the app URL: a signed launch from the Thinkific admin, or the dashboard of
// the session's site.
func (s *Server) handleHome(c echo.Context) error {
	if c.QueryParam("hmac") != "" {
		return s.handleLaunch(c)
	}
	return s.requireSession(s.handleDashboard)(c)
}

// handleDashboard is the site's overview: its webhooks and its latest deliveries.
func (s *Server) handleDashboard(c echo.Context) error {
	site := siteOf(c)
	ctx := c.Request().Context()
	hooks, err := s.db.Webhooks(ctx, site.ID)
	if err != nil {
		return err
	}
	log, err := s.db.DeliveryLog(ctx, site.ID, s.clock.Now().Add(time.Minute), 50)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dashboard.html", dashboardPage{Site: site, Webhooks: hooks, Deliveries: log,
		Replayed: c.QueryParam("replayed") != ""})
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
	return c.Redirect(http.StatusSeeOther, "/?replayed=1")
}
