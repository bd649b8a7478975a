package server

import (
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

const (
	sessionCookie = "stride_session"
	sessionTTL    = 12 * time.Hour
	installCookie = "stride_install"
	installTTL    = install.StateTTL // the cookie holds the pending install as long as it is good
)

// session is what the session cookie carries: one site, and when it was granted.
type session struct {
	SiteID   int64
	IssuedAt int64 // unix seconds
}

// installState is what the install cookie carries: the install this browser started (its
// state's hash, PKCE verifier, site and expiry; the site also offers a retry if the admin
// cancels). Once the install worked, Done is set and the verifier dropped, so the same
// callback opened again is shown as the success it was and cannot be exchanged twice.
type installState struct {
	install.Pending
	Done bool
}

// sameSiteOf is each cookie's SameSite mode, which clearing must repeat.
var sameSiteOf = map[string]http.SameSite{sessionCookie: http.SameSiteNoneMode, installCookie: http.SameSiteLaxMode}

// setCookie writes a signed and encrypted cookie.
func (s *Server) setCookie(c echo.Context, name string, value any, ttl time.Duration, sameSite http.SameSite) error {
	encoded, err := securecookie.EncodeMulti(name, value, s.cookies...)
	if err != nil {
		return stride.Wrap(stride.EINTERNAL, err, "cookie")
	}
	c.SetCookie(s.cookie(name, encoded, int(ttl/time.Second), sameSite))
	return nil
}

func (s *Server) readCookie(c echo.Context, name string, into any) bool {
	ck, err := c.Cookie(name)
	if err != nil {
		return false
	}
	return securecookie.DecodeMulti(name, ck.Value, into, s.cookies...) == nil
}

// clearCookie ends a cookie with the attributes it was set with: a browser keeps a
// Partitioned cookie that a clear without Partitioned (or with another SameSite) misses.
func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(s.cookie(name, "", -1, sameSiteOf[name]))
}

// cookie is every Stride cookie's attributes. Over https a SameSite=None cookie is also
// Partitioned, so it works inside the Thinkific admin's iframe without third-party cookies.
func (s *Server) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: s.secure, SameSite: sameSite}
	if s.secure && sameSite == http.SameSiteNoneMode {
		ck.Partitioned = true
	} else if !s.secure {
		ck.SameSite = http.SameSiteLaxMode // None requires Secure; local http stays first-party
	}
	return ck
}

// startSession binds this browser to one site.
func (s *Server) startSession(c echo.Context, site *stride.Site) error {
	return s.setCookie(c, sessionCookie, session{SiteID: site.ID, IssuedAt: s.clock.Now().Unix()}, sessionTTL, http.SameSiteNoneMode)
}

// requireSession lets a request through only with a valid session of an installed site,
// and puts that site and its dashboard (the only data the request may reach) in the
// context. Sessions granted before the site's latest install (an uninstall and reinstall
// since) are void.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var sess session
		if !s.readCookie(c, sessionCookie, &sess) {
			return stride.Errorf(stride.EUNAUTHORIZED, "Open Stride from the Apps page of your Thinkific admin to see your learners' progress.")
		}
		site, err := s.db.Site(c.Request().Context(), sess.SiteID)
		if stride.ErrorCode(err) == stride.ENOTFOUND || (err == nil && (!site.Installed() || sess.IssuedAt < site.InstalledAt.Unix())) {
			s.clearCookie(c, sessionCookie)
			return stride.Errorf(stride.EUNAUTHORIZED, "Stride is not installed on this site any more. Install it again from the Thinkific App Store.")
		}
		if err != nil {
			return err
		}
		c.Set("site", site)
		c.Set("view", s.db.View(site.ID))
		// Only this site's Thinkific admin may frame its pages.
		c.Response().Header().Set("Content-Security-Policy", csp(s.cfg.SiteOrigin(site.Subdomain)))
		return next(c)
	}
}

// siteOf is the session's site, for its name and subdomain; viewOf is its data.
func siteOf(c echo.Context) *stride.Site { return c.Get("site").(*stride.Site) }

func viewOf(c echo.Context) *store.SiteView { return c.Get("view").(*store.SiteView) }
