package thinkificdouble

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var idPattern = regexp.MustCompile(`^[0-9]{23}$`)

func TestWebhookCRUD(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	f.d.AddSite("other")
	access, _ := f.install(t, "acme")
	otherAccess, _ := f.install(t, "other")

	status, _, raw := f.api(t, "POST", "/api/v2/webhooks", access,
		map[string]string{"topic": "lesson.completed", "target_url": "https://stride.example/webhooks"})
	var created Webhook
	json.Unmarshal(raw, &created)
	if status != http.StatusCreated || !idPattern.MatchString(created.ID) || created.Status != "active" ||
		created.Topic != "lesson.completed" || created.TargetURL != "https://stride.example/webhooks" ||
		created.CreatedAt == "" || created.UpdatedAt == "" {
		t.Fatalf("create: %d %s", status, raw)
	}
	if !strings.Contains(string(raw), `"created_by":"`) || !strings.Contains(string(raw), `"updated_by":"`) {
		t.Errorf("created_by/updated_by should be strings: %s", raw)
	}
	path := "/api/v2/webhooks/" + created.ID

	steps := []struct {
		name, method, path, token string
		body                      any
		status                    int
		want                      string // substring of the answer
	}{
		{"show", "GET", path, access, nil, 200, `"id":"` + created.ID + `"`},
		{"update url", "PUT", path, access, map[string]string{"target_url": "https://stride.example/v2"}, 200, `"target_url":"https://stride.example/v2"`},
		{"status is not settable", "PUT", path, access, map[string]string{"status": "inactive"}, 200, `"status":"active"`},
		{"update topic", "PUT", path, access, map[string]string{"topic": "enrollment.progress"}, 200, `"topic":"enrollment.progress"`},
		{"other site's webhook", "GET", path, otherAccess, nil, 404, `{"error":"Record not found."}`},
		{"other site cannot delete", "DELETE", path, otherAccess, nil, 404, `{"error":"Record not found."}`},
		{"delete", "DELETE", path, access, nil, 204, ""},
		{"gone", "GET", path, access, nil, 404, `{"error":"Record not found."}`},
		{"delete again", "DELETE", path, access, nil, 404, `{"error":"Record not found."}`},
		{"update unknown", "PUT", "/api/v2/webhooks/1", access, map[string]string{"topic": "lesson.completed"}, 404, `{"error":"Record not found."}`},
	}
	for _, s := range steps {
		status, _, raw := f.api(t, s.method, s.path, s.token, s.body)
		if status != s.status || !strings.Contains(string(raw), s.want) {
			t.Errorf("%s: %d %s, want %d with %s", s.name, status, raw, s.status, s.want)
		}
	}
	if n := len(site.Webhooks()); n != 0 {
		t.Errorf("%d webhooks left", n)
	}
}

type listPage struct {
	Items []Webhook `json:"items"`
	Meta  struct {
		Page struct {
			HasNext    bool    `json:"has_next"`
			NextPage   *string `json:"next_page"`
			PageItems  int     `json:"page_items"`
			TotalItems int     `json:"total_items"`
		} `json:"page"`
	} `json:"meta"`
}

func TestWebhookPagination(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	for i := range 60 {
		site.AddWebhook("lesson.completed", fmt.Sprintf("https://hooks.example/%d", i))
	}

	seen := map[string]int{}
	var order []string
	path := "/api/v2/webhooks?limit=25"
	wantSizes := []int{25, 25, 10}
	for i, want := range wantSizes {
		status, _, raw := f.api(t, "GET", path, access, nil)
		var p listPage
		if err := json.Unmarshal(raw, &p); status != 200 || err != nil {
			t.Fatalf("page %d: %d %s", i, status, raw)
		}
		last := i == len(wantSizes)-1
		pg := p.Meta.Page
		if len(p.Items) != want || pg.PageItems != want || pg.TotalItems != 60 || pg.HasNext == last || (pg.NextPage == nil) != last {
			t.Fatalf("page %d: %d items, meta %+v", i, len(p.Items), pg)
		}
		for _, w := range p.Items {
			seen[w.ID]++
			order = append(order, w.ID)
		}
		if !last {
			path = "/api/v2/webhooks?limit=25&next=" + *pg.NextPage
		}
	}
	for i, w := range site.Webhooks() {
		if seen[w.ID] != 1 || order[i] != w.ID {
			t.Fatalf("webhook %s seen %d times / out of creation order", w.ID, seen[w.ID])
		}
	}

	for range 200 {
		site.AddWebhook("lesson.completed", "https://hooks.example/more")
	}
	cases := []struct {
		query  string
		status int
		items  int
	}{
		{"", 200, 25},
		{"?limit=1000", 200, 250},
		{"?limit=0", 400, 0},
		{"?next=not-a-cursor", 400, 0},
	}
	for _, tc := range cases {
		status, _, raw := f.api(t, "GET", "/api/v2/webhooks"+tc.query, access, nil)
		var p listPage
		json.Unmarshal(raw, &p)
		if status != tc.status || len(p.Items) != tc.items {
			t.Errorf("%q: %d with %d items, want %d with %d", tc.query, status, len(p.Items), tc.status, tc.items)
		}
	}
}

func TestWebhookValidation(t *testing.T) {
	cases := []struct {
		name   string
		strict bool
		body   map[string]string
		status int
		want   string
	}{
		{"unknown topic", false, map[string]string{"topic": "lesson.started", "target_url": "https://x.example/h"}, 422, `{"errors":{"topic":"invalid format"}}`},
		{"no topic", false, map[string]string{"target_url": "https://x.example/h"}, 422, `{"errors":{"topic":"invalid format"}}`},
		{"relative url", false, map[string]string{"topic": "lesson.completed", "target_url": "/hooks"}, 422, `{"errors":{"url":"is not valid"}}`},
		{"no url", false, map[string]string{"topic": "lesson.completed"}, 422, `{"errors":{"url":"is not valid"}}`},
		{"public http", false, map[string]string{"topic": "lesson.completed", "target_url": "http://x.example/h"}, 422, `{"errors":{"url":"is not valid"}}`},
		{"private ip http", false, map[string]string{"topic": "lesson.completed", "target_url": "http://10.0.0.1/h"}, 422, `{"errors":{"url":"is not valid"}}`},
		{"loopback http when strict", true, map[string]string{"topic": "lesson.completed", "target_url": "http://127.0.0.1:8080/h"}, 422, `{"errors":{"url":"is not valid"}}`},
		{"both bad", false, map[string]string{"topic": "nope", "target_url": "ftp://x.example"}, 422, `{"errors":{"topic":"invalid format","url":"is not valid"}}`},
		{"loopback http", false, map[string]string{"topic": "lesson.completed", "target_url": "http://127.0.0.1:8080/h"}, 201, `"status":"active"`},
		{"localhost http", false, map[string]string{"topic": "app.uninstalled", "target_url": "http://localhost:8080/h"}, 201, `"topic":"app.uninstalled"`},
		{"ipv6 loopback http", false, map[string]string{"topic": "enrollment.progress", "target_url": "http://[::1]:8080/h"}, 201, `"topic":"enrollment.progress"`},
		{"payments family", true, map[string]string{"topic": "subscription.cancelled", "target_url": "https://x.example/h"}, 201, `"topic":"subscription.cancelled"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{StrictHTTPS: tc.strict})
			f.d.AddSite("acme")
			access, _ := f.install(t, "acme")
			status, _, raw := f.api(t, "POST", "/api/v2/webhooks", access, tc.body)
			if status != tc.status || !strings.Contains(string(raw), tc.want) {
				t.Errorf("got %d %s, want %d %s", status, raw, tc.status, tc.want)
			}
		})
	}
}

func TestWebhookPutValidatesAndOneWebhookPerTopic(t *testing.T) {
	f := newFixture(t, Config{OneWebhookPerTopic: true})
	f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	body := map[string]string{"topic": "lesson.completed", "target_url": "https://x.example/h"}
	_, _, raw := f.api(t, "POST", "/api/v2/webhooks", access, body)
	var w Webhook
	json.Unmarshal(raw, &w)

	steps := []struct {
		name, method, path string
		body               map[string]string
		status             int
	}{
		{"duplicate topic", "POST", "/api/v2/webhooks", body, 422},
		{"bad url on put", "PUT", "/api/v2/webhooks/" + w.ID, map[string]string{"target_url": "http://x.example"}, 422},
		{"bad topic on put", "PUT", "/api/v2/webhooks/" + w.ID, map[string]string{"topic": "x"}, 422},
		{"own topic on put", "PUT", "/api/v2/webhooks/" + w.ID, map[string]string{"topic": "lesson.completed"}, 200},
		{"second topic", "POST", "/api/v2/webhooks", map[string]string{"topic": "enrollment.progress", "target_url": "https://x.example/h"}, 201},
	}
	for _, s := range steps {
		if status, _, raw := f.api(t, s.method, s.path, access, s.body); status != s.status {
			t.Errorf("%s: %d %s, want %d", s.name, status, raw, s.status)
		}
	}
}
