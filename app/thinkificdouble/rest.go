package thinkificdouble

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The REST Admin API's objects, with the fields Thinkific documents that the catalog
// holds; unknown ones are left out rather than invented.
type (
	restCourse struct {
		ID          int64   `json:"id"`
		Name        string  `json:"name"`
		Slug        string  `json:"slug"`
		Subtitle    *string `json:"subtitle"`
		Description *string `json:"description"`
		ChapterIDs  []int64 `json:"chapter_ids"`
	}
	restChapter struct {
		ID                int64   `json:"id"`
		Name              string  `json:"name"`
		Position          int     `json:"position"`
		Description       *string `json:"description"`
		DurationInSeconds int     `json:"duration_in_seconds"`
		ContentIDs        []int64 `json:"content_ids"`
	}
	restContent struct {
		ID              int64  `json:"id"`
		Name            string `json:"name"`
		Position        int    `json:"position"`
		ChapterID       int64  `json:"chapter_id"`
		ContentableType string `json:"contentable_type"`
		Free            bool   `json:"free"`
	}
	restUser struct {
		ID        int64    `json:"id"`
		Email     string   `json:"email"`
		FirstName string   `json:"first_name"`
		LastName  string   `json:"last_name"`
		FullName  string   `json:"full_name"`
		CreatedAt string   `json:"created_at"`
		Roles     []string `json:"roles"`
	}
	restEnrollment struct {
		ID                  int64   `json:"id"`
		UserEmail           string  `json:"user_email"`
		UserName            string  `json:"user_name"`
		UserID              int64   `json:"user_id"`
		CourseName          string  `json:"course_name"`
		CourseID            int64   `json:"course_id"`
		PercentageCompleted any     `json:"percentage_completed"`
		Expired             bool    `json:"expired"`
		IsFreeTrial         bool    `json:"is_free_trial"`
		Completed           bool    `json:"completed"`
		StartedAt           *string `json:"started_at"`
		ActivatedAt         *string `json:"activated_at"`
		CompletedAt         *string `json:"completed_at"`
		UpdatedAt           string  `json:"updated_at"`
		ExpiryDate          *string `json:"expiry_date"`
		CreatedAt           string  `json:"created_at"`
	}
)

// restCourseOf is a course as REST and the course.* events show it. Callers hold d.mu.
func (s *Site) restCourseOf(c *Course) restCourse {
	ids := []int64{}
	for _, ch := range s.chaptersOf(c.ID) {
		ids = append(ids, ch.ID)
	}
	return restCourse{ID: c.ID, Name: c.Name, Slug: c.Slug, ChapterIDs: ids}
}

// visibleCourse is the course with that id unless REST cannot see it. Callers hold d.mu.
func (s *Site) visibleCourse(id int64) (*Course, bool) {
	c, ok := find(s.cat.courses, id)
	return c, ok && !c.Hidden
}

// pathID is the {id} of the path; 0, which no record has, when it is not a number.
func pathID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return n
}

func (d *Double) listCourses(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	s := tok.site
	var visible []*Course
	for _, c := range s.cat.courses {
		if !c.Hidden {
			visible = append(visible, c)
		}
	}
	writePage(w, r, visible, func(c *Course) any { return s.restCourseOf(c) })
}

func (d *Double) showCourse(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	c, ok := tok.site.visibleCourse(pathID(r))
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	writeJSON(w, http.StatusOK, tok.site.restCourseOf(c))
}

// listChapters lists a course's chapters in curriculum order.
func (d *Double) listChapters(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	s := tok.site
	c, ok := s.visibleCourse(pathID(r))
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	writePage(w, r, s.chaptersOf(c.ID), func(ch *Chapter) any {
		ids := []int64{}
		for _, ct := range s.contentsOf(ch.ID) {
			ids = append(ids, ct.ID)
		}
		return restChapter{ID: ch.ID, Name: ch.Name, Position: ch.Position, ContentIDs: ids}
	})
}

// listContents lists a chapter's contents in curriculum order.
func (d *Double) listContents(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	s := tok.site
	ch, ok := find(s.cat.chapters, pathID(r))
	if ok {
		_, ok = s.visibleCourse(ch.CourseID)
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody("Record not found."))
		return
	}
	writePage(w, r, s.contentsOf(ch.ID), func(ct *Content) any {
		return restContent{ID: ct.ID, Name: ct.Name, Position: ct.Position, ChapterID: ct.ChapterID, ContentableType: ct.Type}
	})
}

func (d *Double) listUsers(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	users := tok.site.cat.users
	if email := r.URL.Query().Get("query[email]"); email != "" {
		users = nil
		for _, u := range tok.site.cat.users {
			if strings.EqualFold(u.Email, email) {
				users = append(users, u)
			}
		}
	}
	writePage(w, r, users, func(u *User) any {
		return restUser{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			FullName: fullName(u), CreatedAt: Stamp(u.CreatedAt), Roles: []string{}}
	})
}

func (d *Double) listEnrollments(w http.ResponseWriter, r *http.Request, tok *accessToken) {
	s := tok.site
	eq, err := readEnrollmentQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(err.Error()))
		return
	}
	var list []*Enrollment
	for _, e := range s.cat.enrollments {
		if u, _ := find(s.cat.users, e.UserID); eq.match(e, u) {
			list = append(list, e)
		}
	}
	now := d.cfg.Now()
	writePage(w, r, list, func(e *Enrollment) any {
		u, _ := find(s.cat.users, e.UserID)
		c, _ := find(s.cat.courses, e.CourseID)
		return restEnrollment{
			ID: e.ID, UserEmail: u.Email, UserName: fullName(u), UserID: e.UserID,
			CourseName: c.Name, CourseID: e.CourseID, PercentageCompleted: d.percentage(e.Percentage),
			Expired: e.ExpiryDate != nil && !now.Before(*e.ExpiryDate), IsFreeTrial: e.FreeTrial,
			Completed: e.Completed, StartedAt: stampOrNil(e.StartedAt), ActivatedAt: stampOrNil(e.ActivatedAt),
			CompletedAt: stampOrNil(e.CompletedAt), UpdatedAt: Stamp(e.UpdatedAt),
			ExpiryDate: stampOrNil(e.ExpiryDate), CreatedAt: Stamp(e.CreatedAt),
		}
	})
}

// enrollmentQuery is the enrollment list's query[...] filters; zero values ask nothing.
// Times are ISO 8601, and "after" is strictly after.
type enrollmentQuery struct {
	courseID, userID           int64
	email                      string
	completed                  *bool
	updatedAfter, createdAfter time.Time
}

func readEnrollmentQuery(q url.Values) (enrollmentQuery, error) {
	var eq enrollmentQuery
	for _, f := range []struct {
		key string
		to  *int64
	}{{"course_id", &eq.courseID}, {"user_id", &eq.userID}} {
		if v := q.Get("query[" + f.key + "]"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return eq, fmt.Errorf("query[%s] must be an id", f.key)
			}
			*f.to = n
		}
	}
	for _, f := range []struct {
		key string
		to  *time.Time
	}{{"updated_after", &eq.updatedAfter}, {"created_after", &eq.createdAfter}} {
		if v := q.Get("query[" + f.key + "]"); v != "" {
			t, err := parseISO(v)
			if err != nil {
				return eq, fmt.Errorf("query[%s] must be an ISO 8601 time", f.key)
			}
			*f.to = t
		}
	}
	if v := q.Get("query[completed]"); v != "" {
		completed, err := strconv.ParseBool(v)
		if err != nil {
			return eq, errors.New("query[completed] must be true or false")
		}
		eq.completed = &completed
	}
	eq.email = q.Get("query[email]")
	return eq, nil
}

func (eq enrollmentQuery) match(e *Enrollment, u *User) bool {
	return (eq.courseID == 0 || e.CourseID == eq.courseID) &&
		(eq.userID == 0 || e.UserID == eq.userID) &&
		(eq.email == "" || strings.EqualFold(u.Email, eq.email)) &&
		(eq.completed == nil || e.Completed == *eq.completed) &&
		(eq.updatedAfter.IsZero() || e.UpdatedAt.After(eq.updatedAfter)) &&
		(eq.createdAfter.IsZero() || e.CreatedAt.After(eq.createdAfter))
}

// parseISO reads an ISO 8601 time with a zone, fractional seconds optional, or a date
// (midnight UTC).
func parseISO(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, v)
}

// percentage is REST's percentage_completed: a number, or with StringPercentages the
// string live connectors see ("0.4", "1.0").
func (d *Double) percentage(p float64) any {
	if !d.cfg.StringPercentages {
		return p
	}
	s := strconv.FormatFloat(p, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func fullName(u *User) string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

func stampOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Stamp(*t)
	return &s
}

type pagination struct {
	CurrentPage int  `json:"current_page"`
	NextPage    *int `json:"next_page"`
	PrevPage    *int `json:"prev_page"`
	TotalPages  int  `json:"total_pages"`
	TotalItems  int  `json:"total_items"`
}

// writePage answers one page of list, in the order given, as REST lists do: page counts
// from 1, limit defaults to 25 and a limit over 250 is taken as 250. A page past the end
// is empty.
func writePage[T any](w http.ResponseWriter, r *http.Request, list []T, wire func(T) any) {
	q := r.URL.Query()
	page, limit := 1, defaultPageLimit
	for _, p := range []struct {
		key string
		to  *int
	}{{"page", &page}, {"limit", &limit}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeJSON(w, http.StatusBadRequest, errorBody(p.key+" must be a positive integer"))
				return
			}
			*p.to = n
		}
	}
	limit = min(limit, maxPageLimit)
	total := len(list)
	meta := pagination{CurrentPage: page, TotalPages: (total + limit - 1) / limit, TotalItems: total}
	if page < meta.TotalPages {
		next := page + 1
		meta.NextPage = &next
	}
	if page > 1 {
		prev := page - 1
		meta.PrevPage = &prev
	}
	items := []any{}
	if page <= meta.TotalPages {
		start := (page - 1) * limit
		for _, v := range list[start:min(start+limit, total)] {
			items = append(items, wire(v))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "meta": map[string]any{"pagination": meta}})
}
