package thinkific

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/strideapp/stride/app/events"
)

// The REST Admin API's page sizes.
const (
	DefaultPageSize = 25
	MaxPageSize     = 250
)

// Page is where one page of a REST list lies among the others, as meta.pagination says.
// A number Thinkific left out or that cannot be read is 0; so is Next on the last page.
type Page struct {
	Current, Next, Prev, TotalPages, TotalItems int64
}

// Course is a course as the REST API lists it.
type Course struct {
	ID         int64 // 0 when unreadable, as every id below
	Name       string
	Slug       string
	ChapterIDs []int64
}

// Chapter is one chapter of a course.
type Chapter struct {
	ID         int64
	Name       string
	Position   int32 // 0 when unreadable
	ContentIDs []int64
}

// Content is one item of a chapter: a lesson, a quiz, a survey… ContentableType says which
// ("Lesson", "Quiz", …); a quiz.attempted event reaches its course through it.
type Content struct {
	ID              int64
	Name            string
	Position        int32
	ChapterID       int64
	ContentableType string
}

// Enrollment is one learner's enrollment in a course, as the REST API lists it.
type Enrollment struct {
	ID         int64
	UserID     int64
	UserEmail  string
	UserName   string
	CourseID   int64
	CourseName string
	// Percentage is on a 0–100 scale, like a webhook's: the API's 0.0–1.0
	// percentage_completed (a number or a string) times 100. Set is false when it was
	// absent or could not be read (a value above 1 included).
	Percentage events.Percent
	Completed  bool
	FreeTrial  bool // is_free_trial
	Expired    bool
	// Times are nil when absent or unreadable.
	StartedAt, ActivatedAt, CompletedAt, CreatedAt, UpdatedAt, ExpiryDate *time.Time
}

// EnrollmentQuery filters ListEnrollments; zero fields do not filter.
type EnrollmentQuery struct {
	CourseID     int64
	UserID       int64
	Email        string
	Completed    *bool
	UpdatedAfter time.Time
	CreatedAfter time.Time
}

func (q EnrollmentQuery) values() url.Values {
	v := url.Values{}
	if q.CourseID != 0 {
		v.Set("query[course_id]", strconv.FormatInt(q.CourseID, 10))
	}
	if q.UserID != 0 {
		v.Set("query[user_id]", strconv.FormatInt(q.UserID, 10))
	}
	if q.Email != "" {
		v.Set("query[email]", q.Email)
	}
	if q.Completed != nil {
		v.Set("query[completed]", strconv.FormatBool(*q.Completed))
	}
	// Whole seconds, rounded down: a filter a little early re-reads a few, never misses one.
	if !q.UpdatedAfter.IsZero() {
		v.Set("query[updated_after]", q.UpdatedAfter.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	if !q.CreatedAfter.IsZero() {
		v.Set("query[created_after]", q.CreatedAfter.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	return v
}

// ListCourses reads one page of the site's courses.
func (c *Client) ListCourses(ctx context.Context, auth TokenSource, page, limit int) ([]Course, Page, error) {
	return list[Course](ctx, c, auth, "/api/public/v1/courses", nil, "course", page, limit)
}

// GetCourse reads one course; one Thinkific does not know (or does not show over REST, as
// with courses of the new course builder) is stride.ENOTFOUND.
func (c *Client) GetCourse(ctx context.Context, auth TokenSource, id int64) (Course, error) {
	var course Course
	err := c.call(ctx, auth, http.MethodGet, "/api/public/v1/courses/"+strconv.FormatInt(id, 10), "course", nil, &course)
	return course, err
}

// ListChapters reads one page of a course's chapters; an unknown course is stride.ENOTFOUND.
func (c *Client) ListChapters(ctx context.Context, auth TokenSource, courseID int64, page, limit int) ([]Chapter, Page, error) {
	return list[Chapter](ctx, c, auth, "/api/public/v1/courses/"+strconv.FormatInt(courseID, 10)+"/chapters", nil, "course", page, limit)
}

// ListContents reads one page of a chapter's contents; an unknown chapter is stride.ENOTFOUND.
func (c *Client) ListContents(ctx context.Context, auth TokenSource, chapterID int64, page, limit int) ([]Content, Page, error) {
	return list[Content](ctx, c, auth, "/api/public/v1/chapters/"+strconv.FormatInt(chapterID, 10)+"/contents", nil, "chapter", page, limit)
}

// ListEnrollments reads one page of the site's enrollments that match q.
func (c *Client) ListEnrollments(ctx context.Context, auth TokenSource, q EnrollmentQuery, page, limit int) ([]Enrollment, Page, error) {
	return list[Enrollment](ctx, c, auth, "/api/public/v1/enrollments", q.values(), "enrollment", page, limit)
}

// list reads page of a REST list (the first when page < 1), limit items (DefaultPageSize
// when limit < 1, at most MaxPageSize). Items are read field by field: a field that cannot
// be read is left zero, never failing the page.
func list[T any](ctx context.Context, c *Client, auth TokenSource, path string, q url.Values, what string, page, limit int) ([]T, Page, error) {
	page = max(page, 1)
	if limit < 1 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	if q == nil {
		q = url.Values{}
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("limit", strconv.Itoa(limit))
	var body struct {
		Items []T `json:"items"`
		Meta  struct {
			Pagination struct {
				Current    number `json:"current_page"`
				Next       number `json:"next_page"`
				Prev       number `json:"prev_page"`
				TotalPages number `json:"total_pages"`
				TotalItems number `json:"total_items"`
			} `json:"pagination"`
		} `json:"meta"`
	}
	if err := c.call(ctx, auth, http.MethodGet, path+"?"+q.Encode(), what, nil, &body); err != nil {
		return nil, Page{}, err
	}
	p := body.Meta.Pagination
	pg := Page{Current: int64(p.Current), Next: int64(p.Next), Prev: int64(p.Prev), TotalPages: int64(p.TotalPages), TotalItems: int64(p.TotalItems)}
	if pg.Next <= int64(page) {
		pg.Next = 0 // a next page that is not ahead would make a caller read forever
	}
	return body.Items, pg, nil
}

func (x *Course) UnmarshalJSON(b []byte) error {
	var w struct {
		ID         number      `json:"id"`
		Name       events.Text `json:"name"`
		Slug       events.Text `json:"slug"`
		ChapterIDs numbers     `json:"chapter_ids"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*x = Course{ID: int64(w.ID), Name: string(w.Name), Slug: string(w.Slug), ChapterIDs: w.ChapterIDs}
	return nil
}

func (x *Chapter) UnmarshalJSON(b []byte) error {
	var w struct {
		ID         number          `json:"id"`
		Name       events.Text     `json:"name"`
		Position   events.Position `json:"position"`
		ContentIDs numbers         `json:"content_ids"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*x = Chapter{ID: int64(w.ID), Name: string(w.Name), Position: int32(w.Position), ContentIDs: w.ContentIDs}
	return nil
}

func (x *Content) UnmarshalJSON(b []byte) error {
	var w struct {
		ID              number          `json:"id"`
		Name            events.Text     `json:"name"`
		Position        events.Position `json:"position"`
		ChapterID       number          `json:"chapter_id"`
		ContentableType events.Text     `json:"contentable_type"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*x = Content{ID: int64(w.ID), Name: string(w.Name), Position: int32(w.Position), ChapterID: int64(w.ChapterID),
		ContentableType: string(w.ContentableType)}
	return nil
}

func (x *Enrollment) UnmarshalJSON(b []byte) error {
	var w struct {
		ID          number      `json:"id"`
		UserID      number      `json:"user_id"`
		UserEmail   events.Text `json:"user_email"`
		UserName    events.Text `json:"user_name"`
		CourseID    number      `json:"course_id"`
		CourseName  events.Text `json:"course_name"`
		Percentage  fraction    `json:"percentage_completed"`
		Completed   events.Flag `json:"completed"`
		FreeTrial   events.Flag `json:"is_free_trial"`
		Expired     events.Flag `json:"expired"`
		StartedAt   events.Time `json:"started_at"`
		ActivatedAt events.Time `json:"activated_at"`
		CompletedAt events.Time `json:"completed_at"`
		CreatedAt   events.Time `json:"created_at"`
		UpdatedAt   events.Time `json:"updated_at"`
		ExpiryDate  events.Time `json:"expiry_date"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*x = Enrollment{ID: int64(w.ID), UserID: int64(w.UserID), UserEmail: string(w.UserEmail), UserName: string(w.UserName),
		CourseID: int64(w.CourseID), CourseName: string(w.CourseName), Percentage: events.Percent(w.Percentage),
		Completed: bool(w.Completed), FreeTrial: bool(w.FreeTrial), Expired: bool(w.Expired),
		StartedAt: w.StartedAt.Ptr(), ActivatedAt: w.ActivatedAt.Ptr(), CompletedAt: w.CompletedAt.Ptr(),
		CreatedAt: w.CreatedAt.Ptr(), UpdatedAt: w.UpdatedAt.Ptr(), ExpiryDate: w.ExpiryDate.Ptr()}
	return nil
}

// number is an id or a count, sent as a number or a string; one that cannot be read is 0.
type number int64

func (n *number) UnmarshalJSON(b []byte) error {
	var id events.ID
	if id.UnmarshalJSON(b) != nil {
		id = 0
	}
	*n = number(id)
	return nil
}

// numbers is a list of ids; one that is not a list is absent, an unreadable id is left out.
type numbers []int64

func (ns *numbers) UnmarshalJSON(b []byte) error {
	var raw []number
	*ns = nil
	if json.Unmarshal(b, &raw) != nil {
		return nil
	}
	for _, n := range raw {
		if n != 0 {
			*ns = append(*ns, int64(n))
		}
	}
	return nil
}

// fraction is the REST API's percentage_completed (0.0–1.0) as a 0–100 percentage; one that
// cannot be read is absent.
type fraction events.Fraction

func (f *fraction) UnmarshalJSON(b []byte) error {
	var v events.Fraction
	if v.UnmarshalJSON(b) != nil {
		v = events.Fraction{}
	}
	*f = fraction(v)
	return nil
}
