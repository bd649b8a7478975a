package server

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleDelivery is the target of every webhook: verify, store once, answer — only after the
// commit. Whatever is signed is kept (accepted, quarantined, a test delivery, or held for a
// site not installed yet) and answered 200; only a delivery Stride could not store gets an
// error, so that Thinkific retries it.
func (s *Server) handleDelivery(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // over the cap: BodyLimit's 413, chunked bodies included
	}
	h := c.Request().Header
	res, err := s.receiver.Receive(c.Request().Context(), h.Get("X-Thinkific-Subdomain"), h.Get("X-Thinkific-Hmac-Sha256"), body)
	noteDelivery(c, res)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": string(res.Outcome), "event_id": res.EventID})
}

// handleDeliveryProbe answers a GET of the webhook URL, as when someone pastes it into a
// browser to check that Stride is there. It says what the URL is and nothing else.
func handleDeliveryProbe(c echo.Context) error {
	return c.String(http.StatusOK, "Stride webhook endpoint")
}
