package thinkific_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testclock"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// budget is a thinkific.Limiter that counts what it is asked; fail makes Take refuse.
type budget struct {
	mu     sync.Mutex
	takes  []int64 // site ids, one per take
	blocks []time.Time
	fail   error
}

func (b *budget) Take(_ context.Context, site int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.takes = append(b.takes, site)
	return nil
}

func (b *budget) Block(_ context.Context, _ int64, until time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.blocks = append(b.blocks, until)
	return nil
}

func (b *budget) taken() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int64(nil), b.takes...)
}

// tokens is one site's TokenSource: Refresh hands out "fresh".
type tokens struct {
	site      int64
	mu        sync.Mutex
	token     string
	refreshes int
}

func (s *tokens) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

func (s *tokens) Refresh(_ context.Context, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshes++
	s.token = "fresh"
	return s.token, nil
}

func (s *tokens) SiteID() int64 { return s.site }

// answer is one scripted answer of the fake API.
type answer struct {
	status int
	header http.Header
	body   string
}

// fakeAPI answers requests in turn from its script (200 {} when it runs out), keeping what
// was asked. It stands in for Thinkific's REST API, answering as its docs show.
type fakeAPI struct {
	mu     sync.Mutex
	script []answer
	asked  []*http.Request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.asked = append(f.asked, r)
	a := answer{status: 200, body: "{}"}
	if len(f.script) > 0 {
		a, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newClient(t *testing.T, script ...answer) (*thinkific.Client, *fakeAPI, *budget, *testclock.Clock) {
	t.Helper()
	api := &fakeAPI{script: script}
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	b, clock := &budget{}, testclock.At(epoch)
	c := thinkific.New(thinkific.Config{SiteURL: ts.URL, APIURL: ts.URL, ClientID: "id", ClientSecret: "secret",
		UserAgent: "Stride/test", Clock: clock, Limiter: b, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	return c, api, b, clock
}

func ptr(t time.Time) *time.Time { return &t }

// Enrollments are read leniently, field by field: ids as strings or numbers, the 0–1
// percentage as a string or a number (returned 0–100), and anything unreadable absent
// without failing the page. The filters go out as query[...] parameters.
func TestListEnrollments(t *testing.T) {
	page := `{"items":[
		{"id":"101","user_id":7,"user_email":"ann@example.com","user_name":"Ann Lee","course_id":"9","course_name":"Go",
		 "percentage_completed":"0.5","completed":false,"started_at":"2026-01-05T10:00:00.000Z","activated_at":"2026-01-05T10:00:00Z",
		 "completed_at":null,"created_at":"2026-01-04T09:00:00Z","updated_at":"2026-02-01T08:30:00Z","expiry_date":null,
		 "expired":false,"is_free_trial":"true"},
		{"id":102,"user_id":"8","user_name":42,"course_id":9,"percentage_completed":1,"completed":"true",
		 "completed_at":"2026-02-02 12:00:00","expiry_date":"someday","expired":"1"},
		{"id":"x7","user_id":{"a":1},"percentage_completed":"lots","started_at":"yesterday","user_email":["a"]},
		{"id":104,"percentage_completed":1.5},
		{"id":105,"percentage_completed":"0.0"}
	],"meta":{"pagination":{"current_page":1,"next_page":2,"prev_page":null,"total_pages":"2","total_items":7}}}`
	c, api, b, _ := newClient(t, answer{status: 200, body: page})
	auth := &tokens{site: 3, token: "tok"}
	done := true
	got, pg, err := c.ListEnrollments(context.Background(), auth, thinkific.EnrollmentQuery{CourseID: 9, Completed: &done,
		UpdatedAfter: time.Date(2026, 1, 31, 23, 59, 59, 900_000_000, time.UTC)}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := (thinkific.Page{Current: 1, Next: 2, TotalPages: 2, TotalItems: 7}); pg != want {
		t.Errorf("page %+v, want %+v", pg, want)
	}
	if len(got) != 5 {
		t.Fatalf("%d enrollments, want 5", len(got))
	}
	cases := []struct {
		name       string
		got        thinkific.Enrollment
		id, user   int64
		userName   string
		percent    float64
		percentSet bool
		completed  bool
		trial      bool
		expired    bool
		started    *time.Time
		completeAt *time.Time
	}{
		{"strings and full dates", got[0], 101, 7, "Ann Lee", 50, true, false, true, false,
			ptr(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)), nil},
		{"numbers, a numeric name, an unreadable expiry", got[1], 102, 8, "42", 100, true, true, false, true,
			nil, ptr(time.Date(2026, 2, 2, 12, 0, 0, 0, time.UTC))},
		{"nothing readable", got[2], 0, 0, "", 0, false, false, false, false, nil, nil},
		{"percentage above 1 is absent", got[3], 104, 0, "", 0, false, false, false, false, nil, nil},
		{"zero is a percentage", got[4], 105, 0, "", 0, true, false, false, false, nil, nil},
	}
	for _, tc := range cases {
		e := tc.got
		if e.ID != tc.id || e.UserID != tc.user || e.UserName != tc.userName || e.Percentage.Value != tc.percent ||
			e.Percentage.Set != tc.percentSet || e.Completed != tc.completed || e.FreeTrial != tc.trial || e.Expired != tc.expired {
			t.Errorf("%s: got %+v", tc.name, e)
		}
		if !sameTime(e.StartedAt, tc.started) || !sameTime(e.CompletedAt, tc.completeAt) {
			t.Errorf("%s: started %v completed %v, want %v %v", tc.name, e.StartedAt, e.CompletedAt, tc.started, tc.completeAt)
		}
	}
	if e := got[0]; e.UserEmail != "ann@example.com" || e.CourseID != 9 || e.CourseName != "Go" || e.ExpiryDate != nil ||
		!sameTime(e.UpdatedAt, ptr(time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC))) || e.CreatedAt == nil || e.ActivatedAt == nil {
		t.Errorf("first enrollment %+v", e)
	}
	if got[1].ExpiryDate != nil || got[2].UserEmail != "" {
		t.Errorf("unreadable fields not absent: %+v %+v", got[1], got[2])
	}

	r := api.asked[0]
	if r.URL.Path != "/api/public/v1/enrollments" || r.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("asked %s with %q", r.URL.Path, r.Header.Get("Authorization"))
	}
	q := r.URL.Query()
	for k, want := range map[string]string{"page": "1", "limit": "100", "query[course_id]": "9", "query[completed]": "true",
		"query[updated_after]": "2026-01-31T23:59:59Z"} {
		if q.Get(k) != want {
			t.Errorf("%s=%q, want %q (query %s)", k, q.Get(k), want, r.URL.RawQuery)
		}
	}
	if _, ok := q["query[user_id]"]; ok {
		t.Errorf("an unset filter was sent: %s", r.URL.RawQuery)
	}
	if takes := b.taken(); len(takes) != 1 || takes[0] != 3 {
		t.Errorf("takes %v, want one for site 3", takes)
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Courses, chapters and contents: each at its path, pages followed to the last (next_page
// null), page sizes kept within Thinkific's 1–250.
func TestListStructure(t *testing.T) {
	ctx := context.Background()
	auth := &tokens{site: 3, token: "tok"}
	c, api, _, _ := newClient(t,
		answer{status: 200, body: `{"items":[{"id":1,"name":"Go","slug":"go","chapter_ids":[11,"12","x"]}],"meta":{"pagination":{"current_page":1,"next_page":2,"total_pages":2,"total_items":2}}}`},
		answer{status: 200, body: `{"items":[{"id":"2","name":"Rust"}],"meta":{"pagination":{"current_page":2,"next_page":null,"prev_page":1,"total_pages":2,"total_items":2}}}`},
		answer{status: 200, body: `{"id":1,"name":"Go","chapter_ids":"none"}`},
		answer{status: 200, body: `{"items":[{"id":11,"name":"Basics","position":"1","content_ids":[21,22]}],"meta":{"pagination":{"current_page":1,"next_page":1}}}`},
		answer{status: 200, body: `{"items":[{"id":21,"name":"Hello","position":2,"chapter_id":"11","contentable_type":"Lesson"},{"id":22,"name":"Check","position":"x","chapter_id":11,"contentable_type":"Quiz"}],"meta":{"pagination":{"current_page":1,"next_page":null}}}`},
	)
	var courses []thinkific.Course
	for page := 1; page != 0; {
		items, pg, err := c.ListCourses(ctx, auth, page, 0)
		if err != nil {
			t.Fatal(err)
		}
		courses = append(courses, items...)
		page = int(pg.Next)
	}
	if len(courses) != 2 || courses[0].Name != "Go" || courses[0].Slug != "go" || fmt.Sprint(courses[0].ChapterIDs) != "[11 12]" || courses[1].ID != 2 {
		t.Errorf("courses %+v", courses)
	}
	course, err := c.GetCourse(ctx, auth, 1)
	if err != nil || course.ID != 1 || course.ChapterIDs != nil {
		t.Errorf("course %+v, %v", course, err)
	}
	chapters, pg, err := c.ListChapters(ctx, auth, 1, 1, 1000)
	if err != nil || len(chapters) != 1 || chapters[0].Position != 1 || fmt.Sprint(chapters[0].ContentIDs) != "[21 22]" {
		t.Errorf("chapters %+v, %v", chapters, err)
	}
	if pg.Next != 0 {
		t.Errorf("a next page that is this one (%d) would be read forever", pg.Next)
	}
	contents, _, err := c.ListContents(ctx, auth, 11, 1, 250)
	want := []thinkific.Content{{ID: 21, Name: "Hello", Position: 2, ChapterID: 11, ContentableType: "Lesson"},
		{ID: 22, Name: "Check", ChapterID: 11, ContentableType: "Quiz"}}
	if err != nil || fmt.Sprint(contents) != fmt.Sprint(want) {
		t.Errorf("contents %+v, %v", contents, err)
	}
	var asked []string
	for _, r := range api.asked {
		asked = append(asked, r.URL.RequestURI())
	}
	wantAsked := []string{"/api/public/v1/courses?limit=25&page=1", "/api/public/v1/courses?limit=25&page=2",
		"/api/public/v1/courses/1", "/api/public/v1/courses/1/chapters?limit=250&page=1", "/api/public/v1/chapters/11/contents?limit=250&page=1"}
	if strings.Join(asked, " ") != strings.Join(wantAsked, " ") {
		t.Errorf("asked\n%s\nwant\n%s", strings.Join(asked, "\n"), strings.Join(wantAsked, "\n"))
	}
}

// Every attempt at a request is taken from the site's budget, whatever Thinkific answers:
// retries of 5xx and 429, the try after a 401's refresh, and the last answer. A 429's reset
// is recorded for every process.
func TestEveryAttemptIsTaken(t *testing.T) {
	notFound := answer{status: 404, body: `{"error":"Record not found."}`}
	cases := []struct {
		name      string
		script    []answer
		takes     int
		refreshes int
		blocked   []time.Duration // Block(until - now) calls
		code      string          // of the error; "" for success
		lastToken string
	}{
		{"500 then 200", []answer{{status: 500}, {status: 200, body: `{"id":1}`}}, 2, 0, nil, "", "tok"},
		{"503 every time", []answer{{status: 503}, {status: 503}, {status: 503}, {status: 503}, {status: 503}}, 5, 0, nil, stride.EUNAVAILABLE, "tok"},
		{"401 then 200 after a refresh", []answer{{status: 401}, {status: 200, body: `{"id":1}`}}, 2, 1, nil, "", "fresh"},
		{"401 twice", []answer{{status: 401}, {status: 401}}, 2, 1, nil, stride.EUNAUTHORIZED, "fresh"},
		{"429 with a reset then 200", []answer{{status: 429, header: http.Header{"Ratelimit-Reset": {"2"}}}, {status: 200, body: `{"id":1}`}},
			2, 0, []time.Duration{2 * time.Second}, "", "tok"},
		{"429 without a reset", []answer{{status: 429}, {status: 200, body: `{"id":1}`}}, 2, 0, nil, "", "tok"},
		{"404 is not found", []answer{notFound}, 1, 0, nil, stride.ENOTFOUND, "tok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, api, b, clock := newClient(t, tc.script...)
			auth := &tokens{site: 5, token: "tok"}
			course, err := c.GetCourse(context.Background(), auth, 1)
			if stride.ErrorCode(err) != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if err == nil && course.ID != 1 {
				t.Errorf("course %+v", course)
			}
			if takes := b.taken(); len(takes) != tc.takes || len(api.asked) != tc.takes {
				t.Errorf("%d takes for %d requests, want %d", len(takes), len(api.asked), tc.takes)
			}
			if auth.refreshes != tc.refreshes {
				t.Errorf("%d refreshes, want %d", auth.refreshes, tc.refreshes)
			}
			var blocked []time.Duration
			for _, u := range b.blocks {
				blocked = append(blocked, u.Sub(clock.Now()))
			}
			if fmt.Sprint(blocked) != fmt.Sprint(tc.blocked) {
				t.Errorf("blocked %v, want %v", blocked, tc.blocked)
			}
			if last := api.asked[len(api.asked)-1].Header.Get("Authorization"); last != "Bearer "+tc.lastToken {
				t.Errorf("last request carried %q", last)
			}
		})
	}
}

// A request the budget does not let through is not sent, and not retried; the budget's
// error is the call's.
func TestRefusedByBudget(t *testing.T) {
	c, api, b, _ := newClient(t)
	b.fail = stride.Wrap(stride.EUNAVAILABLE, context.DeadlineExceeded, "Thinkific's rate limit for this site left no room in time")
	_, _, err := c.ListCourses(context.Background(), &tokens{site: 5, token: "tok"}, 1, 25)
	if !errors.Is(err, context.DeadlineExceeded) || stride.ErrorMessage(err) != "Thinkific's rate limit for this site left no room in time" {
		t.Fatalf("got %v", err)
	}
	if len(api.asked) != 0 {
		t.Fatalf("%d requests sent past the budget", len(api.asked))
	}
}

// A fresh grant for a site Stride has not saved tallies its requests, and Charge takes them
// from the site's budget once it has an id; a known site's grant takes at once. A token
// source naming no site sends nothing.
func TestGrantToken(t *testing.T) {
	ctx := context.Background()
	c, api, b, _ := newClient(t, answer{status: 500}, answer{status: 200, body: `{"items":[]}`})
	grant := &thinkific.GrantToken{Access: "granted"}
	if _, err := c.ListWebhooks(ctx, grant); err != nil {
		t.Fatal(err)
	}
	if len(b.taken()) != 0 || len(api.asked) != 2 {
		t.Fatalf("%d takes, %d requests before the site was saved", len(b.taken()), len(api.asked))
	}
	if err := c.Charge(ctx, grant, 9); err != nil {
		t.Fatal(err)
	}
	if err := c.Charge(ctx, grant, 9); err != nil { // nothing left to charge
		t.Fatal(err)
	}
	if takes := b.taken(); fmt.Sprint(takes) != "[9 9]" {
		t.Fatalf("charged %v, want two for site 9", takes)
	}

	known := &thinkific.GrantToken{Access: "granted", Site: 4}
	if _, err := c.ListWebhooks(ctx, known); err != nil {
		t.Fatal(err)
	}
	if takes := b.taken(); fmt.Sprint(takes) != "[9 9 4]" {
		t.Fatalf("takes %v", takes)
	}

	sent := len(api.asked)
	if _, err := c.ListWebhooks(ctx, &tokens{token: "tok"}); stride.ErrorCode(err) != stride.EINTERNAL {
		t.Fatalf("a call for no site: %v", err)
	}
	if len(api.asked) != sent {
		t.Fatal("a call for no site was sent")
	}
}
