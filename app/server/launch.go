package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/stride"
)

const (
	launchMaxAge = 5 * time.Minute
	launchSkew   = 30 * time.Second // clocks differ a little; a launch from further ahead is refused
)

// launches answers a signed launch, a request that carries ?hmac=, on the route it guards;
// every other request goes on to next.
func (s *Server) launches(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.QueryParam("hmac") == "" {
			return next(c)
		}
		return s.handleLaunch(c)
	}
}

// handleLaunch is the app URL opened inside the Thinkific admin:
// ?hmac&subdomain&tgid&timestamp, signed with the client secret. A valid launch starts a
// session bound to that one site; anything else gets 401 and no data.
func (s *Server) handleLaunch(c echo.Context) error {
	q := c.QueryParams()
	sub, tgid, ts, mac := q.Get("subdomain"), q.Get("tgid"), q.Get("timestamp"), q.Get("hmac")
	refuse := stride.Errorf(stride.EUNAUTHORIZED, "This link to Stride is not valid any more. Open Stride again from the Apps page of your Thinkific admin.")
	if !stride.ValidSubdomain(sub) || tgid == "" || !s.launchSigned(sub, tgid, ts, mac) {
		return refuse
	}
	at, ok := launchTime(ts)
	now := s.clock.Now()
	if !ok || now.Sub(at) > launchMaxAge || at.Sub(now) > launchSkew {
		return refuse
	}
	site, err := s.db.SiteBySubdomain(c.Request().Context(), sub)
	if stride.ErrorCode(err) == stride.ENOTFOUND || (err == nil && (!site.Installed() || !hmac.Equal([]byte(site.GID), []byte(tgid)))) {
		return stride.Errorf(stride.EUNAUTHORIZED, "Stride is not installed on this site. Install it from the Thinkific App Store.")
	}
	if err != nil {
		return err
	}
	// A link opens one session, once, in whichever process sees it first.
	sig, _ := hex.DecodeString(mac) // launchSigned decoded it once already
	used := sha256.Sum256(sig)
	err = s.db.UseLaunch(c.Request().Context(), hex.EncodeToString(used[:]), at.Add(launchMaxAge+launchSkew))
	if stride.ErrorCode(err) == stride.ECONFLICT {
		// The browser that used it may load it again (a reload of the admin's frame).
		var sess session
		if s.readCookie(c, sessionCookie, &sess) && sess.SiteID == site.ID {
			return c.Redirect(http.StatusSeeOther, "/")
		}
		return refuse
	}
	if err != nil {
		return err
	}
	if err := s.startSession(c, site); err != nil {
		return err
	}
	// Drop the signed query from the address bar and from later Referers.
	return c.Redirect(http.StatusSeeOther, "/")
}

// launchSigned checks hmac = hex(HMAC-SHA256(secret, "subdomain=..&tgid=..&timestamp=..")) in
// constant time, for the current and the previous client secret.
func (s *Server) launchSigned(sub, tgid, ts, mac string) bool {
	got, err := hex.DecodeString(mac)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := false
	for _, secret := range s.cfg.Secrets() {
		ok = hmac.Equal(launchMAC(secret, sub, tgid, ts), got) || ok
	}
	return ok
}

// launchMAC is the signature of a launch: HMAC-SHA256 of its query, keyed with the secret.
func launchMAC(secret, sub, tgid, ts string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("subdomain=" + sub + "&tgid=" + tgid + "&timestamp=" + ts))
	return m.Sum(nil)
}

// launchTime reads the timestamp in epoch seconds (or milliseconds, as JavaScript's Date.now()
// gives; the sample app does not say which).
func launchTime(ts string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	if n >= 1e12 {
		return time.UnixMilli(n), true
	}
	return time.Unix(n, 0), true
}

// LaunchURL builds a signed launch link, as Thinkific's admin does (for the demo and tests).
func LaunchURL(appURL, secret, subdomain, tgid string, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hex.EncodeToString(launchMAC(secret, subdomain, tgid, ts))
	q := url.Values{"subdomain": {subdomain}, "tgid": {tgid}, "timestamp": {ts}, "hmac": {mac}}
	return appURL + "/?" + q.Encode()
}
