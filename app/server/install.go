package server

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/stride"
)

// handleInstall is the install URL the App Store sends an admin to: it binds a new OAuth
// state to this browser and redirects to the site's authorize page.
func (s *Server) handleInstall(c echo.Context) error {
	subdomain := c.QueryParam("subdomain")
	if !stride.ValidSubdomain(subdomain) {
		return stride.Errorf(stride.EINVALID, "That is not a Thinkific site name. Install Stride from the Thinkific App Store.")
	}
	nonce := install.NewNonce()
	authorize, err := s.install.Begin(c.Request().Context(), subdomain, nonce)
	if err != nil {
		return err
	}
	// Lax: the callback arrives as a top-level navigation from Thinkific.
	if err := s.setCookie(c, installCookie, pendingInstall{Nonce: nonce, Subdomain: subdomain}, installTTL, http.SameSiteLaxMode); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, authorize)
}

// handleCallback is the OAuth redirect URI.
func (s *Server) handleCallback(c echo.Context) error {
	var pending pendingInstall
	s.readCookie(c, installCookie, &pending)
	retry := ""
	if pending.Subdomain != "" {
		retry = "/install?subdomain=" + url.QueryEscape(pending.Subdomain)
		c.Set("retryURL", retry)
	}
	if e := c.QueryParam("error"); e != "" {
		s.clearCookie(c, installCookie)
		s.log.Info("install cancelled", "error", e)
		return s.render(c, http.StatusOK, "denied.html", struct{ RetryURL string }{retry})
	}
	site, err := s.install.Complete(c.Request().Context(), install.Callback{
		Code: c.QueryParam("code"), State: c.QueryParam("state"), Subdomain: c.QueryParam("subdomain"),
	}, pending.Nonce)
	if err != nil {
		return err
	}
	s.clearCookie(c, installCookie)
	if err := s.startSession(c, site); err != nil {
		return err
	}
	if s.cfg.AppSlug != "" {
		return c.Redirect(http.StatusFound, s.cfg.SiteBaseURL(site.Subdomain)+"/manage/apps/"+url.PathEscape(s.cfg.AppSlug))
	}
	return c.Redirect(http.StatusFound, "/")
}
