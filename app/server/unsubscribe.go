package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/stride"
)

// unsubscribePath is the digest's one-click unsubscribe link (RFC 8058): mail providers
// POST to it without cookies or a form token, so it is exempt from the cross-origin check;
// the signed token in its URL is what authorizes it.
const unsubscribePath = "/digest/unsubscribe"

type unsubscribePage struct {
	Token     string
	Address   string
	Subdomain string
	Done      bool
}

// handleUnsubscribePage asks before unsubscribing: a GET must change nothing, since mail
// scanners open links.
func (s *Server) handleUnsubscribePage(c echo.Context) error {
	p, err := s.unsubscribing(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "unsubscribe.html", p)
}

// handleUnsubscribe takes the token's address off its site's digest recipients.
func (s *Server) handleUnsubscribe(c echo.Context) error {
	p, err := s.unsubscribing(c)
	if err != nil {
		return err
	}
	siteID, _, _ := digest.ParseToken(s.cfg.SecretKeys(), p.Token)
	if _, err := s.db.View(siteID).RemoveDigestRecipient(c.Request().Context(), p.Address); err != nil {
		return err
	}
	p.Done = true
	return s.render(c, http.StatusOK, "unsubscribe.html", p)
}

// unsubscribing reads and checks the request's token.
func (s *Server) unsubscribing(c echo.Context) (unsubscribePage, error) {
	token := c.QueryParam("token")
	siteID, addr, err := digest.ParseToken(s.cfg.SecretKeys(), token)
	if err != nil {
		return unsubscribePage{}, stride.Errorf(stride.EINVALID, "This unsubscribe link is not valid. Open the one in your latest digest, or ask a site admin to remove your address in Stride's settings.")
	}
	p := unsubscribePage{Token: token, Address: addr, Subdomain: "this site"}
	if site, err := s.db.Site(c.Request().Context(), siteID); err == nil {
		p.Subdomain = site.Subdomain
	} else if stride.ErrorCode(err) != stride.ENOTFOUND {
		return p, err
	}
	return p, nil
}
