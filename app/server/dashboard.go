package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/stride"
)

type dashboardPage struct {
	Site     *stride.Site
	Webhooks []stride.Webhook
}

// handleDashboard is the site's overview.
func (s *Server) handleDashboard(c echo.Context) error {
	site := siteOf(c)
	hooks, err := s.db.Webhooks(c.Request().Context(), site.ID)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dashboard.html", dashboardPage{Site: site, Webhooks: hooks})
}
