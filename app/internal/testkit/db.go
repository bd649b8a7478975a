package testkit

import (
	"context"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// School is a site installed without the OAuth dance, with the gid of the published examples.
func (h *Harness) School() *stride.Site {
	h.T.Helper()
	return h.SaveSite("school", PublishedGID)
}

// SaveSite stores an installed site without the OAuth dance (nor webhooks).
func (h *Harness) SaveSite(subdomain, gid string) *stride.Site {
	h.T.Helper()
	s, _, err := h.DB.SaveInstall(context.Background(), store.Grant{Subdomain: subdomain, GID: gid,
		Tokens: stride.Tokens{Access: "a", Refresh: "r", Expiry: time.Now().Add(time.Hour)}})
	if err != nil {
		h.T.Fatal(err)
	}
	return s
}

// MustSite is the stored site "acme", installed through the double.
func (h *Harness) MustSite() *stride.Site {
	h.T.Helper()
	s, err := h.DB.SiteBySubdomain(context.Background(), "acme")
	if err != nil {
		h.T.Fatal(err)
	}
	return s
}

// Drain applies every event waiting in the inbox.
func (h *Harness) Drain() {
	h.T.Helper()
	if _, err := h.Worker.Drain(context.Background()); err != nil {
		h.T.Fatal(err)
	}
}

// Count runs a SELECT COUNT(*) query.
func (h *Harness) Count(q string, args ...any) int64 {
	h.T.Helper()
	var n int64
	if err := h.DB.Gorm().Raw(q, args...).Scan(&n).Error; err != nil {
		h.T.Fatal(err)
	}
	return n
}

// InboxRow is the inbox's record of one event of a site.
func (h *Harness) InboxRow(siteID int64, eventID string) (status string, attempts int, lastError string) {
	h.T.Helper()
	var rows []struct {
		Status    string
		Attempts  int
		LastError string
	}
	h.DB.Gorm().Raw("SELECT status, attempts, last_error FROM inbox WHERE site_id = ? AND event_id = ?", siteID, eventID).Scan(&rows)
	if len(rows) != 1 {
		h.T.Fatalf("inbox row %s: %d rows", eventID, len(rows))
	}
	return rows[0].Status, rows[0].Attempts, rows[0].LastError
}
