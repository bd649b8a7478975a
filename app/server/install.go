package server

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/stride"
)

// handleInstall is the install URL the App Store sends an admin to: the pending install
// goes into this browser's sealed cookie, and the admin to the site's authorize page.
func (s *Server) handleInstall(c echo.Context) error {
	subdomain := c.QueryParam("subdomain")
	if !stride.ValidSubdomain(subdomain) {
		return stride.Errorf(stride.EINVALID, "That is not a Thinkific site name. Install Stride from the Thinkific App Store.")
	}
	authorize, pending, err := s.install.Begin(subdomain)
	if err != nil {
		return err
	}
	// Lax: the callback arrives as a top-level navigation from Thinkific.
	if err := s.setCookie(c, installCookie, installState{Pending: pending}, installTTL, http.SameSiteLaxMode); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, authorize)
}

type installedPage struct {
	Subdomain, ContinueURL string
}

// handleCallback is the OAuth redirect URI. When this browser started the install, any
// failure offers to start it again.
func (s *Server) handleCallback(c echo.Context) error {
	var st installState
	s.readCookie(c, installCookie, &st)
	retry := ""
	if st.Subdomain != "" {
		retry = "/install?subdomain=" + url.QueryEscape(st.Subdomain)
	}
	err := s.completeInstall(c, st, retry)
	if err != nil && retry != "" {
		return retryError{err, retry}
	}
	return err
}

// completeInstall answers the callback of the install st; retry starts it again.
func (s *Server) completeInstall(c echo.Context, st installState, retry string) error {
	if e := c.QueryParam("error"); e != "" {
		s.clearCookie(c, installCookie)
		s.log.Info("install cancelled", "error", e)
		return s.render(c, http.StatusOK, "denied.html", struct{ RetryURL string }{retry})
	}
	cb := install.Callback{Code: c.QueryParam("code"), State: c.QueryParam("state"), Subdomain: c.QueryParam("subdomain")}
	if st.Done && st.Matches(cb.State) && s.clock.Now().Before(st.ExpiresAt) {
		return s.render(c, http.StatusOK, "installed.html", installedPage{st.Subdomain, s.afterInstallURL(st.Subdomain)})
	}
	site, err := s.install.Complete(c.Request().Context(), cb, st.Pending)
	if st.StateHash != "" && st.Matches(cb.State) {
		// The code was offered to Thinkific: this pending install is spent either way.
		s.clearCookie(c, installCookie)
	}
	if err != nil {
		return err
	}
	s.receiver.Forget(site) // this process routes the site's deliveries by its new install at once
	done := installState{Pending: install.Pending{Subdomain: site.Subdomain, StateHash: st.StateHash, ExpiresAt: st.ExpiresAt}, Done: true}
	if err := s.setCookie(c, installCookie, done, installTTL, http.SameSiteLaxMode); err != nil {
		return err
	}
	if err := s.startSession(c, site); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, s.afterInstallURL(site.Subdomain))
}

// afterInstallURL is where an admin goes once Stride is installed: the app inside the
// Thinkific admin when its slug is known, Stride's own overview otherwise.
func (s *Server) afterInstallURL(subdomain string) string {
	if s.cfg.AppSlug != "" {
		return s.cfg.SiteBaseURL(subdomain) + "/manage/apps/" + url.PathEscape(s.cfg.AppSlug)
	}
	return "/"
}
