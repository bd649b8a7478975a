package server

import (
	"net/http"
	"slices"
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
	Webhooks   []stride.Webhook // one per topic Stride needs, registered or not
	Missing    []string         // topics without an active webhook
	Deliveries []store.LoggedDelivery
	*store.Connection
	Quiet    bool
	Replayed bool
	Import   *importSection
}

// handleConnection shows how Thinkific reaches Stride: the import, webhooks, the last
// event, the delivery log with replay.
func (s *Server) handleConnection(c echo.Context) error {
	site, v := siteOf(c), viewOf(c)
	ctx := c.Request().Context()
	recorded, err := v.Webhooks(ctx)
	if err != nil {
		return err
	}
	hooks, missing := webhooksByTopic(recorded)
	now := s.clock.Now()
	log, err := v.DeliveryLog(ctx, now.Add(time.Minute), 100)
	if err != nil {
		return err
	}
	conn, err := v.Connection(ctx)
	if err != nil {
		return err
	}
	notice := c.QueryParam("reimport")
	if notice != "queued" && notice != "busy" {
		notice = ""
	}
	imp, err := s.importSection(ctx, v, notice)
	if err != nil {
		return err
	}
	since := site.InstalledAt
	if conn.LastEventAt != nil {
		since = *conn.LastEventAt
	}
	return s.render(c, http.StatusOK, "connection.html", connectionPage{page: pageOf(c, "connection"), Webhooks: hooks, Missing: missing,
		Deliveries: log, Connection: conn, Quiet: now.Sub(since) > quietAfter, Replayed: c.QueryParam("replayed") != "", Import: imp})
}

// webhooksByTopic lists every topic Stride needs with what is recorded of it, and the
// topics that have no active webhook.
func webhooksByTopic(recorded []stride.Webhook) (all []stride.Webhook, missing []string) {
	for _, topic := range stride.WebhookTopics {
		w := stride.Webhook{Topic: topic, Status: "missing", LastError: "not registered yet"}
		if i := slices.IndexFunc(recorded, func(r stride.Webhook) bool { return r.Topic == topic }); i >= 0 {
			w = recorded[i]
		}
		if w.Status != stride.WebhookActive {
			missing = append(missing, topic)
		}
		all = append(all, w)
	}
	return all, missing
}

// handleReplay puts a failed or quarantined delivery of the session's site back in line.
func (s *Server) handleReplay(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return stride.Errorf(stride.EINVALID, "No such delivery.")
	}
	if err := viewOf(c).Replay(c.Request().Context(), id); err != nil {
		return err
	}
	s.receiver.Wake()
	return c.Redirect(http.StatusSeeOther, "/connection?replayed=1")
}
