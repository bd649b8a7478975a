package thinkificdouble

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Course is a course of a site's catalog.
type Course struct {
	ID         int64
	Name, Slug string
	// Hidden plays a course made with Thinkific's new course builder: missing from the
	// courses and chapters endpoints, yet its enrollments are listed and sent as usual.
	Hidden bool
}

// Chapter is a section of a course. Positions count from 0, as the lesson of the published
// lesson.completed example does.
type Chapter struct {
	ID, CourseID int64
	Name         string
	Position     int
}

// Content is one item of a chapter: a lesson, a quiz, a survey, a download...
type Content struct {
	ID, ChapterID int64
	Name          string
	Position      int
	// Type is REST's contentable_type; default "Lesson".
	Type string
	// LessonType is lesson.completed's lesson.type ("Video", "Text"...); default Type.
	LessonType string
}

// User is a learner or an admin of a site.
type User struct {
	ID                         int64
	Email, FirstName, LastName string
	CreatedAt                  time.Time
}

// Enrollment is a user's enrollment in a course. Its fields are served as given: nothing
// derives Completed or CompletedAt from Percentage.
type Enrollment struct {
	ID, UserID, CourseID int64
	Percentage           float64 // 0.0–1.0, REST's scale
	Completed, FreeTrial bool
	// Nil times are served as null.
	StartedAt, ActivatedAt, CompletedAt, ExpiryDate *time.Time
	CreatedAt, UpdatedAt                            time.Time
}

// Catalog is a copy of a site's courses, their structure, its users and enrollments, each
// list in id order.
type Catalog struct {
	Courses     []Course
	Chapters    []Chapter
	Contents    []Content
	Users       []User
	Enrollments []Enrollment
}

// catalog is the site's data behind the REST Admin API; lists are kept in id order.
type catalog struct {
	courses     []*Course
	chapters    []*Chapter
	contents    []*Content
	users       []*User
	enrollments []*Enrollment
	// removed keeps deleted courses so a course.deleted event can still describe them.
	removed map[int64]Course
}

func (c *Course) key() int64     { return c.ID }
func (c *Chapter) key() int64    { return c.ID }
func (c *Content) key() int64    { return c.ID }
func (u *User) key() int64       { return u.ID }
func (e *Enrollment) key() int64 { return e.ID }

type keyed interface{ key() int64 }

func find[T keyed](list []T, id int64) (T, bool) {
	i, ok := slices.BinarySearchFunc(list, id, func(v T, id int64) int { return cmp.Compare(v.key(), id) })
	if !ok {
		var zero T
		return zero, false
	}
	return list[i], true
}

// insert adds v in id order; it panics on a taken id, a mistake in the test.
func insert[T keyed](list []T, v T) []T {
	i, ok := slices.BinarySearchFunc(list, v.key(), func(v T, id int64) int { return cmp.Compare(v.key(), id) })
	if ok {
		panic(fmt.Sprintf("thinkificdouble: id %d is taken", v.key()))
	}
	return slices.Insert(list, i, v)
}

// change edits the record with that id in place, holding d.mu, which list reads under,
// and returns a copy. It panics if edit changes the id, which orders the list.
func change[T any, P interface {
	*T
	keyed
}](d *Double, list func() []P, id int64, edit func(P)) (T, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := find(list(), id)
	if !ok {
		var zero T
		return zero, false
	}
	edit(v)
	if v.key() != id {
		panic(fmt.Sprintf("thinkificdouble: an edit changed id %d to %d", id, v.key()))
	}
	return *v, true
}

func remove[T keyed](list []T, keep func(T) bool) []T {
	return slices.DeleteFunc(list, func(v T) bool { return !keep(v) })
}

// catalogID gives *id the next catalog id when it is 0. One counter serves every kind and
// site, so an id used in the wrong place (a chapter's for a content's, another site's)
// finds nothing. Callers hold d.mu.
func (d *Double) catalogID(id *int64) {
	if *id == 0 {
		d.lastCatalogID++
		*id = d.lastCatalogID
	}
	d.lastCatalogID = max(d.lastCatalogID, *id)
}

// AddCourse adds a course; a zero ID is assigned and an empty Slug derived from the name.
func (s *Site) AddCourse(c Course) Course {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.catalogID(&c.ID)
	if c.Slug == "" {
		c.Slug = slugify(c.Name)
	}
	s.cat.courses = insert(s.cat.courses, &c)
	return c
}

// UpdateCourse edits a course in place and reports whether it exists. It sends no event:
// call DeliverCourse for course.updated.
func (s *Site) UpdateCourse(id int64, edit func(*Course)) (Course, bool) {
	return change(s.d, func() []*Course { return s.cat.courses }, id, edit)
}

// DeleteCourse removes a course with its chapters, contents and enrollments, and returns
// what it removed. What Thinkific keeps of a deleted course is not published.
func (s *Site) DeleteCourse(id int64) (Course, bool) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	c, ok := find(s.cat.courses, id)
	if !ok {
		return Course{}, false
	}
	chapters := map[int64]bool{}
	for _, ch := range s.cat.chapters {
		if ch.CourseID == id {
			chapters[ch.ID] = true
		}
	}
	s.cat.courses = remove(s.cat.courses, func(c *Course) bool { return c.ID != id })
	s.cat.chapters = remove(s.cat.chapters, func(ch *Chapter) bool { return !chapters[ch.ID] })
	s.cat.contents = remove(s.cat.contents, func(ct *Content) bool { return !chapters[ct.ChapterID] })
	s.cat.enrollments = remove(s.cat.enrollments, func(e *Enrollment) bool { return e.CourseID != id })
	if s.cat.removed == nil {
		s.cat.removed = map[int64]Course{}
	}
	s.cat.removed[id] = *c
	return *c, true
}

// AddChapter adds a chapter to its course; a zero ID is assigned, and a zero Position
// puts it after the course's other chapters. It panics on an unknown course.
func (s *Site) AddChapter(ch Chapter) Chapter {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if _, ok := find(s.cat.courses, ch.CourseID); !ok {
		panic(fmt.Sprintf("thinkificdouble: no course %d on %s", ch.CourseID, s.subdomain))
	}
	s.d.catalogID(&ch.ID)
	if ch.Position == 0 {
		ch.Position = len(s.chaptersOf(ch.CourseID))
	}
	s.cat.chapters = insert(s.cat.chapters, &ch)
	return ch
}

// UpdateChapter edits a chapter in place (rename, move) and reports whether it exists.
func (s *Site) UpdateChapter(id int64, edit func(*Chapter)) (Chapter, bool) {
	return change(s.d, func() []*Chapter { return s.cat.chapters }, id, edit)
}

// AddContent adds a content to its chapter; a zero ID is assigned, a zero Position puts
// it after the chapter's other contents, and Type defaults to "Lesson". Like Thinkific, it
// sends no course.updated. It panics on an unknown chapter.
func (s *Site) AddContent(ct Content) Content {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if _, ok := find(s.cat.chapters, ct.ChapterID); !ok {
		panic(fmt.Sprintf("thinkificdouble: no chapter %d on %s", ct.ChapterID, s.subdomain))
	}
	s.d.catalogID(&ct.ID)
	if ct.Position == 0 {
		ct.Position = len(s.contentsOf(ct.ChapterID))
	}
	if ct.Type == "" {
		ct.Type = "Lesson"
	}
	if ct.LessonType == "" {
		ct.LessonType = ct.Type
	}
	s.cat.contents = insert(s.cat.contents, &ct)
	return ct
}

// UpdateContent edits a content in place (rename, move) and reports whether it exists.
func (s *Site) UpdateContent(id int64, edit func(*Content)) (Content, bool) {
	return change(s.d, func() []*Content { return s.cat.contents }, id, edit)
}

// DeleteContent removes a content and reports whether it existed. Enrollments keep their
// percentages: the test decides what Thinkific recomputes.
func (s *Site) DeleteContent(id int64) bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	n := len(s.cat.contents)
	s.cat.contents = remove(s.cat.contents, func(ct *Content) bool { return ct.ID != id })
	return len(s.cat.contents) < n
}

// AddUser adds a user; a zero ID is assigned and a zero CreatedAt is now.
func (s *Site) AddUser(u User) User {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.catalogID(&u.ID)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.d.cfg.Now()
	}
	s.cat.users = insert(s.cat.users, &u)
	return u
}

// AddEnrollment adds an enrollment of a user in a course; a zero ID is assigned, a zero
// CreatedAt is now, a zero UpdatedAt is CreatedAt and a nil ActivatedAt is CreatedAt. It
// panics on an unknown user or course.
func (s *Site) AddEnrollment(e Enrollment) Enrollment {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if _, ok := find(s.cat.users, e.UserID); !ok {
		panic(fmt.Sprintf("thinkificdouble: no user %d on %s", e.UserID, s.subdomain))
	}
	if _, ok := find(s.cat.courses, e.CourseID); !ok {
		panic(fmt.Sprintf("thinkificdouble: no course %d on %s", e.CourseID, s.subdomain))
	}
	s.d.catalogID(&e.ID)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.d.cfg.Now()
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	if e.ActivatedAt == nil {
		at := e.CreatedAt
		e.ActivatedAt = &at
	}
	s.cat.enrollments = insert(s.cat.enrollments, &e)
	return e
}

// UpdateEnrollment edits an enrollment in place and reports whether it exists. UpdatedAt
// becomes now unless edit sets it.
func (s *Site) UpdateEnrollment(id int64, edit func(*Enrollment)) (Enrollment, bool) {
	return change(s.d, func() []*Enrollment { return s.cat.enrollments }, id, func(e *Enrollment) {
		before := e.UpdatedAt
		edit(e)
		if e.UpdatedAt.Equal(before) {
			e.UpdatedAt = s.d.cfg.Now()
		}
	})
}

// Catalog returns a copy of the site's catalog.
func (s *Site) Catalog() Catalog {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return Catalog{
		Courses:     copies(s.cat.courses),
		Chapters:    copies(s.cat.chapters),
		Contents:    copies(s.cat.contents),
		Users:       copies(s.cat.users),
		Enrollments: copies(s.cat.enrollments),
	}
}

func copies[T any](list []*T) []T {
	out := make([]T, len(list))
	for i, v := range list {
		out[i] = *v
	}
	return out
}

// chaptersOf is a course's chapters in curriculum order. Callers hold d.mu.
func (s *Site) chaptersOf(courseID int64) []*Chapter {
	var out []*Chapter
	for _, ch := range s.cat.chapters {
		if ch.CourseID == courseID {
			out = append(out, ch)
		}
	}
	slices.SortStableFunc(out, func(a, b *Chapter) int { return cmp.Compare(a.Position, b.Position) })
	return out
}

// contentsOf is a chapter's contents in curriculum order. Callers hold d.mu.
func (s *Site) contentsOf(chapterID int64) []*Content {
	var out []*Content
	for _, ct := range s.cat.contents {
		if ct.ChapterID == chapterID {
			out = append(out, ct)
		}
	}
	slices.SortStableFunc(out, func(a, b *Content) int { return cmp.Compare(a.Position, b.Position) })
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}
