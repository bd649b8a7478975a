package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// The dashboard lists deliveries and replays a quarantined one of its own site only;
// a cross-site form post is refused.
func TestDashboardReplay(t *testing.T) {
	h := testkit.New(t, "")
	admin := testkit.Browser()
	h.InstallVia(admin, "acme")
	acme := h.MustSite()
	school := h.School()
	h.Deliver("acme", []byte(`{"broken": `), testkit.ClientSecret)
	h.Deliver("school", []byte(`{"also broken": `), testkit.ClientSecret)
	_, page := testkit.Get(t, admin, h.URL+"/connection")
	testkit.MustContain(t, page, "quarantined", `action="/deliveries/`)
	if strings.Contains(page, "also broken") {
		t.Fatal("another site's delivery is listed")
	}
	acmeLog, _ := h.DB.View(acme.ID).DeliveryLog(context.Background(), time.Now().Add(time.Hour), 5)
	schoolLog, _ := h.DB.View(school.ID).DeliveryLog(context.Background(), time.Now().Add(time.Hour), 5)

	post := func(id int64, header map[string]string) int {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/deliveries/%d/replay", h.URL, id), nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		c := *admin
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(acmeLog[0].ID, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", code)
	}
	if code := post(schoolLog[0].ID, nil); code != http.StatusNotFound {
		t.Fatalf("replaying another site's delivery: %d", code)
	}
	if code := post(acmeLog[0].ID, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusSeeOther {
		t.Fatalf("replay: %d", code)
	}
	if counts, _ := h.DB.InboxCount(context.Background(), acme.ID); counts["accepted"] != 1 {
		t.Fatalf("after replay: %v", counts)
	}
	if code := post(acmeLog[0].ID, nil); code != http.StatusNotFound {
		t.Fatalf("replaying a delivery that is not failed or quarantined: %d", code)
	}
}

// Thinkific's test deliveries are confirmed in the delivery log and kept out of every
// figure and export. Statuses mean what a creator means.
func TestTestDeliveriesAndStatuses(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := testkit.Browser()
		if resp, _ := h.InstallVia(admin, "acme"); resp.StatusCode != http.StatusOK {
			t.Fatal("install failed")
		}
		for _, name := range []string{"enrollment.created.json", "enrollment.progress.json"} {
			if _, body := h.Deliver("acme", testkit.Published(t, name), testkit.ClientSecret); !strings.Contains(body, `"test"`) {
				t.Fatalf("%s: %s", name, body)
			}
		}
		gid := h.Site.GID()
		now := h.Clock.Now().UTC()
		started := testkit.JSON(map[string]any{"id": "s1", "resource": "enrollment", "action": "created", "tenant_global_id": gid,
			"created_at": now.Format(time.RFC3339), "payload": map[string]any{"id": 11, "course": map[string]any{"id": 70, "name": "Course"},
				"user": map[string]any{"id": 1, "email": "started@example.com"}, "percentage_completed": "0.0",
				"started_at": now.Format(time.RFC3339)}})
		lowCompleted := testkit.JSON(map[string]any{"id": "s2", "resource": "enrollment", "action": "progress", "tenant_global_id": gid,
			"created_at": now.Format(time.RFC3339), "payload": map[string]any{"id": 12, "course": map[string]any{"id": 70, "name": "Course"},
				"user": map[string]any{"id": 2, "email": "low@example.com"}, "percentage_completed": "20.0",
				"completed_at": now.Format(time.RFC3339)}})
		for _, b := range [][]byte{started, lowCompleted} {
			h.Deliver("acme", b, testkit.ClientSecret)
		}
		h.Drain()
		_, page := testkit.Get(t, admin, h.URL+"/connection")
		testkit.MustContain(t, page, "Thinkific test event received")
		resp, body := testkit.Get(t, admin, h.URL+"/export/enrollments.csv")
		if resp.StatusCode != 200 {
			t.Fatalf("export: %d", resp.StatusCode)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, r := range rows[1:] {
			status[r[2]] = r[6]
			if strings.Contains(strings.Join(r, ","), "[TEST]") {
				t.Fatalf("a test delivery is in the export: %v", r)
			}
		}
		if len(status) != 2 || status["started@example.com"] != store.InProgress || status["low@example.com"] != store.InProgress {
			t.Fatalf("statuses %v", status)
		}
		if n := h.Count("SELECT COUNT(*) FROM daily_stats WHERE completions > 0"); n != 0 {
			t.Fatalf("a completion counted at 20 %%: %d days", n)
		}
	})
}

// Thinkific refusing a webhook (422) is recorded per topic, and the Connection page shows
// why.
func TestConnectionShowsRefusedWebhooks(t *testing.T) {
	h := testkit.New(t, "", func(c *thinkificdouble.Config, _ map[string]string) { c.StrictHTTPS = true })
	admin := testkit.Browser()
	resp, _ := h.InstallVia(admin, "acme")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("install: %d", resp.StatusCode)
	}
	_, page := testkit.Get(t, admin, h.URL+"/connection")
	recorded, _ := h.DB.Webhooks(context.Background(), h.MustSite().ID)
	if len(recorded) != len(stride.WebhookTopics) {
		t.Fatalf("recorded %d", len(recorded))
	}
	for _, r := range recorded {
		if r.Status != stride.WebhookFailed || r.LastError != "Thinkific refused the webhook: url is not valid" {
			t.Fatalf("recorded %+v", r)
		}
	}
	testkit.MustContain(t, page, "url is not valid")
}
