package thinkificdouble

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type restPage struct {
	Items []map[string]any `json:"items"`
	Meta  struct {
		Pagination struct {
			CurrentPage int  `json:"current_page"`
			NextPage    *int `json:"next_page"`
			PrevPage    *int `json:"prev_page"`
			TotalPages  int  `json:"total_pages"`
			TotalItems  int  `json:"total_items"`
		} `json:"pagination"`
	} `json:"meta"`
}

// list GETs a REST list and decodes it, failing the test on any status but 200.
func (f *fixture) list(t *testing.T, path, token string) restPage {
	t.Helper()
	status, _, raw := f.api(t, "GET", path, token, nil)
	var p restPage
	if err := json.Unmarshal(raw, &p); status != http.StatusOK || err != nil {
		t.Fatalf("GET %s: %d %s", path, status, raw)
	}
	return p
}

// ids are the items' ids in order.
func (p restPage) ids() []int64 {
	out := make([]int64, len(p.Items))
	for i, it := range p.Items {
		out[i] = int64(it["id"].(float64))
	}
	return out
}

func TestRESTCatalog(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	f.d.AddSite("other")

	// The catalog exists before any install, as on a school with a past.
	course := site.AddCourse(Course{Name: "Intro to Pottery"})
	ch1 := site.AddChapter(Chapter{CourseID: course.ID, Name: "Clay"})
	ch2 := site.AddChapter(Chapter{CourseID: course.ID, Name: "Wheel"})
	l1 := site.AddContent(Content{ChapterID: ch1.ID, Name: "Kinds of clay", LessonType: "Video"})
	quiz := site.AddContent(Content{ChapterID: ch1.ID, Name: "Clay quiz", Type: "Quiz"})
	site.AddContent(Content{ChapterID: ch2.ID, Name: "Centering"})
	hidden := site.AddCourse(Course{Name: "New builder course", Hidden: true})
	hiddenCh := site.AddChapter(Chapter{CourseID: hidden.ID, Name: "Secret"})
	u := site.AddUser(User{Email: "ada@example.com", FirstName: "Ada", LastName: "Okafor"})
	site.AddEnrollment(Enrollment{UserID: u.ID, CourseID: hidden.ID, Percentage: 0.5})

	access, _ := f.install(t, "acme")
	otherAccess, _ := f.install(t, "other")

	courses := f.list(t, "/api/public/v1/courses", access)
	if len(courses.Items) != 1 {
		t.Fatalf("courses %+v", courses.Items)
	}
	c := courses.Items[0]
	if c["id"] != float64(course.ID) || c["name"] != "Intro to Pottery" || c["slug"] != "intro-to-pottery" ||
		fmt.Sprint(c["chapter_ids"]) != fmt.Sprint([]float64{float64(ch1.ID), float64(ch2.ID)}) {
		t.Errorf("course %v", c)
	}
	chapters := f.list(t, fmt.Sprintf("/api/public/v1/courses/%d/chapters", course.ID), access)
	if fmt.Sprint(chapters.ids()) != fmt.Sprint([]int64{ch1.ID, ch2.ID}) || chapters.Items[1]["position"] != 1.0 ||
		fmt.Sprint(chapters.Items[0]["content_ids"]) != fmt.Sprint([]float64{float64(l1.ID), float64(quiz.ID)}) {
		t.Errorf("chapters %v", chapters.Items)
	}
	contents := f.list(t, fmt.Sprintf("/api/public/v1/chapters/%d/contents", ch1.ID), access)
	want := []map[string]any{
		{"id": float64(l1.ID), "name": "Kinds of clay", "position": 0.0, "chapter_id": float64(ch1.ID), "contentable_type": "Lesson"},
		{"id": float64(quiz.ID), "name": "Clay quiz", "position": 1.0, "chapter_id": float64(ch1.ID), "contentable_type": "Quiz"},
	}
	for i, w := range want {
		for k, v := range w {
			if contents.Items[i][k] != v {
				t.Errorf("content %d %s = %v, want %v", i, k, contents.Items[i][k], v)
			}
		}
	}

	steps := []struct {
		name, path, token string
		status            int
		want              string
	}{
		{"a course", fmt.Sprintf("/api/public/v1/courses/%d", course.ID), access, 200, `"name":"Intro to Pottery"`},
		{"unknown course", "/api/public/v1/courses/999999", access, 404, `{"error":"Record not found."}`},
		{"not a number", "/api/public/v1/courses/abc", access, 404, `{"error":"Record not found."}`},
		{"chapters of an unknown course", "/api/public/v1/courses/999999/chapters", access, 404, `Record not found.`},
		{"contents of an unknown chapter", "/api/public/v1/chapters/999999/contents", access, 404, `Record not found.`},
		{"hidden course", fmt.Sprintf("/api/public/v1/courses/%d", hidden.ID), access, 404, `Record not found.`},
		{"hidden course's chapters", fmt.Sprintf("/api/public/v1/courses/%d/chapters", hidden.ID), access, 404, `Record not found.`},
		{"hidden course's contents", fmt.Sprintf("/api/public/v1/chapters/%d/contents", hiddenCh.ID), access, 404, `Record not found.`},
		{"hidden course's enrollments", "/api/public/v1/enrollments", access, 200, fmt.Sprintf(`"course_id":%d`, hidden.ID)},
		{"users", "/api/public/v1/users", access, 200, `"full_name":"Ada Okafor"`},
		{"users by email", "/api/public/v1/users?query%5Bemail%5D=ADA@example.com", access, 200, `"total_items":1`},
		{"another site's course", fmt.Sprintf("/api/public/v1/courses/%d", course.ID), otherAccess, 404, `Record not found.`},
		{"another site's catalog", "/api/public/v1/courses", otherAccess, 200, `"items":[]`},
		{"bad token", "/api/public/v1/courses", "nope", 401, `{"error":"The access token is invalid."}`},
		{"no token", "/api/public/v1/courses", "", 401, `{"error":"Missing access token."}`},
		{"not a REST route", "/api/public/v1/orders", access, 404, `{"error":"Not found."}`},
	}
	for _, s := range steps {
		status, _, raw := f.api(t, "GET", s.path, s.token, nil)
		if status != s.status || !strings.Contains(string(raw), s.want) {
			t.Errorf("%s: %d %s, want %d with %s", s.name, status, raw, s.status, s.want)
		}
	}
	if status, _, _ := f.api(t, "POST", "/api/public/v1/courses", access, map[string]string{}); status != 404 {
		t.Errorf("POST courses: %d", status)
	}

	site.RevokeAccessTokens()
	if status, _, _ := f.api(t, "GET", "/api/public/v1/courses", access, nil); status != 401 {
		t.Errorf("revoked token: %d", status)
	}
}

func TestRESTPagination(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	for i := range 300 {
		site.AddUser(User{Email: fmt.Sprintf("u%d@example.com", i)})
	}
	access, _ := f.install(t, "acme")
	cases := []struct {
		query            string
		items, cur       int
		next, prev       string // "null" or the page
		pages, firstItem int    // firstItem is the index of the first user on the page
	}{
		{"", 25, 1, "2", "null", 12, 0},
		{"?page=2", 25, 2, "3", "1", 12, 25},
		{"?page=12", 25, 12, "null", "11", 12, 275},
		{"?page=13", 0, 13, "null", "12", 12, -1},
		{"?limit=100&page=3", 100, 3, "null", "2", 3, 200},
		{"?limit=1000", 250, 1, "2", "null", 2, 0},
		{"?limit=1000&page=2", 50, 2, "null", "1", 2, 250},
		{"?limit=300", 250, 1, "2", "null", 2, 0},
	}
	users := site.Catalog().Users
	for _, tc := range cases {
		p := f.list(t, "/api/public/v1/users"+tc.query, access)
		pg := p.Meta.Pagination
		if len(p.Items) != tc.items || pg.CurrentPage != tc.cur || pageOf(pg.NextPage) != tc.next ||
			pageOf(pg.PrevPage) != tc.prev || pg.TotalPages != tc.pages || pg.TotalItems != 300 {
			t.Errorf("%q: %d items, meta %+v", tc.query, len(p.Items), pg)
			continue
		}
		if tc.firstItem >= 0 && p.ids()[0] != users[tc.firstItem].ID {
			t.Errorf("%q: first id %d, want %d", tc.query, p.ids()[0], users[tc.firstItem].ID)
		}
	}

	// Walking next_page sees every user once, in id order.
	var seen []int64
	for page := new(1); page != nil; {
		p := f.list(t, fmt.Sprintf("/api/public/v1/users?limit=70&page=%d", *page), access)
		seen = append(seen, p.ids()...)
		page = p.Meta.Pagination.NextPage
	}
	for i, u := range users {
		if i >= len(seen) || seen[i] != u.ID {
			t.Fatalf("walk saw %d users, out of order at %d", len(seen), i)
		}
	}

	for _, q := range []string{"?page=0", "?page=x", "?limit=0", "?limit=-5"} {
		if status, _, raw := f.api(t, "GET", "/api/public/v1/users"+q, access, nil); status != 400 {
			t.Errorf("%s: %d %s", q, status, raw)
		}
	}

	// An empty list has no pages.
	empty := f.list(t, "/api/public/v1/courses", access)
	if pg := empty.Meta.Pagination; len(empty.Items) != 0 || pg.TotalPages != 0 || pg.NextPage != nil || pg.PrevPage != nil || pg.CurrentPage != 1 {
		t.Errorf("empty list: %+v", pg)
	}
}

func TestEnrollmentFilters(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	t0 := f.clock.Now()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	a := site.AddCourse(Course{Name: "A"})
	b := site.AddCourse(Course{Name: "B"})
	ada := site.AddUser(User{Email: "ada@example.com", FirstName: "Ada"})
	bo := site.AddUser(User{Email: "bo@example.com", FirstName: "Bo"})
	e1 := site.AddEnrollment(Enrollment{UserID: ada.ID, CourseID: a.ID, CreatedAt: at(-48), UpdatedAt: at(-10)})
	e2 := site.AddEnrollment(Enrollment{UserID: ada.ID, CourseID: b.ID, CreatedAt: at(-24), UpdatedAt: at(-1),
		Percentage: 1, Completed: true, CompletedAt: new(at(-1))})
	e3 := site.AddEnrollment(Enrollment{UserID: bo.ID, CourseID: a.ID, CreatedAt: at(-2), UpdatedAt: at(-2)})
	access, _ := f.install(t, "acme")

	cases := []struct {
		name, query string
		want        []int64
		status      int
	}{
		{"all", "", []int64{e1.ID, e2.ID, e3.ID}, 200},
		{"course", fmt.Sprintf("query[course_id]=%d", a.ID), []int64{e1.ID, e3.ID}, 200},
		{"user", fmt.Sprintf("query[user_id]=%d", ada.ID), []int64{e1.ID, e2.ID}, 200},
		{"email", "query[email]=BO@example.com", []int64{e3.ID}, 200},
		{"completed", "query[completed]=true", []int64{e2.ID}, 200},
		{"not completed", "query[completed]=false", []int64{e1.ID, e3.ID}, 200},
		{"updated after", "query[updated_after]=" + Stamp(at(-5)), []int64{e2.ID, e3.ID}, 200},
		{"updated after is strict", "query[updated_after]=" + Stamp(at(-2)), []int64{e2.ID}, 200},
		{"updated after with an offset", "query[updated_after]=" + at(-5).In(time.FixedZone("", -5*3600)).Format(time.RFC3339), []int64{e2.ID, e3.ID}, 200},
		{"created after", "query[created_after]=" + Stamp(at(-30)), []int64{e2.ID, e3.ID}, 200},
		{"created after a date", "query[created_after]=" + at(-48).Format(time.DateOnly), []int64{e1.ID, e2.ID, e3.ID}, 200},
		{"combined", fmt.Sprintf("query[course_id]=%d&query[updated_after]=%s", a.ID, Stamp(at(-5))), []int64{e3.ID}, 200},
		{"bad time", "query[updated_after]=yesterday", nil, 400},
		{"bad id", "query[course_id]=x", nil, 400},
		{"bad bool", "query[completed]=maybe", nil, 400},
	}
	for _, tc := range cases {
		path := "/api/public/v1/enrollments?" + strings.NewReplacer("[", "%5B", "]", "%5D", "+", "%2B").Replace(tc.query)
		status, _, raw := f.api(t, "GET", path, access, nil)
		var p restPage
		json.Unmarshal(raw, &p)
		if status != tc.status || (status == 200 && fmt.Sprint(p.ids()) != fmt.Sprint(tc.want)) {
			t.Errorf("%s: %d %s, want %d %v", tc.name, status, raw, tc.status, tc.want)
		}
	}

	p := f.list(t, fmt.Sprintf("/api/public/v1/enrollments?query%%5Buser_id%%5D=%d&query%%5Bcompleted%%5D=true", ada.ID), access)
	got := p.Items[0]
	want := map[string]any{
		"id": float64(e2.ID), "user_email": "ada@example.com", "user_name": "Ada", "user_id": float64(ada.ID),
		"course_name": "B", "course_id": float64(b.ID), "percentage_completed": 1.0, "completed": true,
		"expired": false, "is_free_trial": false, "started_at": nil, "activated_at": Stamp(at(-24)),
		"completed_at": Stamp(at(-1)), "updated_at": Stamp(at(-1)), "expiry_date": nil, "created_at": Stamp(at(-24)),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("enrollment has %d fields: %v", len(got), got)
	}
}

func pageOf(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func TestPercentages(t *testing.T) {
	cases := []struct {
		strings bool
		want    []string
	}{
		{false, []string{`"percentage_completed":0,`, `"percentage_completed":0.4,`, `"percentage_completed":1,`}},
		{true, []string{`"percentage_completed":"0.0"`, `"percentage_completed":"0.4"`, `"percentage_completed":"1.0"`}},
	}
	for _, tc := range cases {
		f := newFixture(t, Config{StringPercentages: tc.strings})
		site := f.d.AddSite("acme")
		c := site.AddCourse(Course{Name: "A"})
		for _, p := range []float64{0, 0.4, 1} {
			u := site.AddUser(User{Email: fmt.Sprint(p, "@example.com")})
			site.AddEnrollment(Enrollment{UserID: u.ID, CourseID: c.ID, Percentage: p})
		}
		access, _ := f.install(t, "acme")
		_, _, raw := f.api(t, "GET", "/api/public/v1/enrollments", access, nil)
		for _, w := range tc.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("strings %v: no %s in %s", tc.strings, w, raw)
			}
		}
	}
}

func TestRESTFaults(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	site.Inject(Fault{Path: "/api/public/v1/enrollments", Status: 429, Skip: 2})
	site.Inject(Fault{Path: "/api/public/v1/", Status: 500, Skip: 1, Times: 2})

	steps := []struct {
		path   string
		status int
		reset  string
	}{
		{"/api/public/v1/courses", 200, ""}, // the 500 lets one pass
		{"/api/public/v1/enrollments", 500, ""},
		{"/api/public/v1/enrollments", 500, ""},
		{"/api/public/v1/enrollments", 429, "1"}, // the third for the 429
		{"/api/public/v1/enrollments", 200, ""},
		{"/api/v2/webhooks", 200, ""},
	}
	for i, s := range steps {
		status, header, raw := f.api(t, "GET", s.path, access, nil)
		if status != s.status || header.Get("RateLimit-Reset") != s.reset {
			t.Errorf("step %d %s: %d reset %q %s", i, s.path, status, header.Get("RateLimit-Reset"), raw)
		}
	}
	if n := len(site.APIRequestTimes()); n != len(steps) {
		t.Errorf("%d API requests counted, want %d: faulted ones count too", n, len(steps))
	}
}

// With RESTLatency the REST Admin API answers after it; the Webhooks API at once.
func TestRESTLatency(t *testing.T) {
	f := newFixture(t, Config{RESTLatency: 150 * time.Millisecond})
	f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	for _, tc := range []struct {
		path     string
		min, max time.Duration
	}{
		{"/api/public/v1/courses", 150 * time.Millisecond, time.Second},
		{"/api/v2/webhooks", 0, 100 * time.Millisecond},
	} {
		start := time.Now()
		if status, _, raw := f.api(t, "GET", tc.path, access, nil); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", tc.path, status, raw)
		}
		if took := time.Since(start); took < tc.min || took > tc.max {
			t.Errorf("GET %s took %v, want %v to %v", tc.path, took, tc.min, tc.max)
		}
	}
}
