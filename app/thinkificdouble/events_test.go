package thinkificdouble

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDeliverCourse(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	rc := &receiver{status: 200}
	hooks := httptest.NewServer(rc)
	defer hooks.Close()
	for _, topic := range []string{"course.created", "course.updated"} {
		f.api(t, "POST", "/api/v2/webhooks", access, map[string]string{"topic": topic, "target_url": hooks.URL + "/app"})
	}
	site.AddWebhook("course.deleted", hooks.URL+"/admin")
	ctx := context.Background()

	c := site.AddCourse(Course{Name: "Pottery"})
	ch := site.AddChapter(Chapter{CourseID: c.ID, Name: "Clay"})
	site.AddContent(Content{ChapterID: ch.ID, Name: "Kinds of clay"})
	rc.mu.Lock()
	sent := len(rc.got)
	rc.mu.Unlock()
	if sent != 0 {
		t.Fatalf("catalog changes sent %d events by themselves", sent)
	}
	site.UpdateCourse(c.ID, func(c *Course) { c.Name = "Pottery II" })
	site.DeleteCourse(c.ID)

	steps := []struct {
		action, key, name string
	}{
		{"created", testClientSecret, "Pottery II"},
		{"updated", testClientSecret, "Pottery II"},
		{"deleted", site.APIKey(), "Pottery II"}, // a deleted course can still be described
	}
	for _, s := range steps {
		out, err := site.DeliverCourse(ctx, s.action, c.ID)
		if err != nil || len(out) != 1 || out[0].Err != nil {
			t.Fatalf("%s: %v %+v", s.action, err, out)
		}
		if out[0].Header.Get("X-Thinkific-Topic") != "course."+s.action || !validMAC(s.key, out[0].Body, out[0].Header.Get("X-Thinkific-Hmac-Sha256")) {
			t.Errorf("%s: headers %v", s.action, out[0].Header)
		}
		var ev struct {
			Resource, Action string
			Payload          struct {
				ID         int64
				Name, Slug string
			}
		}
		json.Unmarshal(out[0].Body, &ev)
		if ev.Resource != "course" || ev.Action != s.action || ev.Payload.ID != c.ID || ev.Payload.Name != s.name || ev.Payload.Slug != "pottery" {
			t.Errorf("%s: %s", s.action, out[0].Body)
		}
	}
	if _, err := site.DeliverCourse(ctx, "updated", 42); err == nil {
		t.Error("an unknown course was delivered")
	}
	if _, err := site.DeliverCourse(ctx, "archived", c.ID); err == nil {
		t.Error("course.archived was delivered")
	}
}

func TestWebhookPayloads(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	t0 := f.clock.Now()
	c := site.AddCourse(Course{Name: "Pottery"})
	ch := site.AddChapter(Chapter{CourseID: c.ID, Name: "Clay"})
	site.AddContent(Content{ChapterID: ch.ID, Name: "Intro"})
	lesson := site.AddContent(Content{ChapterID: ch.ID, Name: "Kinds of clay", LessonType: "Video"})
	other := site.AddCourse(Course{Name: "Weaving"})
	otherCh := site.AddChapter(Chapter{CourseID: other.ID, Name: "Loom"})
	stranger := site.AddContent(Content{ChapterID: otherCh.ID, Name: "Warp"})
	u := site.AddUser(User{Email: "ada@example.com", FirstName: "Ada", LastName: "Okafor"})
	e := site.AddEnrollment(Enrollment{UserID: u.ID, CourseID: c.ID, Percentage: 0.24, StartedAt: new(t0)})

	got, _ := json.Marshal(site.EnrollmentPayload(e.ID))
	want, _ := json.Marshal(map[string]any{
		"activated_at": Stamp(t0), "completed_at": nil, "course": map[string]any{"id": c.ID, "name": "Pottery"},
		"course_id": c.ID, "created_at": Stamp(t0), "expiry_date": nil, "free_trial": false, "id": e.ID,
		"percentage_completed": "24.0", "started_at": Stamp(t0), "updated_at": Stamp(t0),
		"user": map[string]any{"email": "ada@example.com", "first_name": "Ada", "id": u.ID, "last_name": "Okafor"},
	})
	if string(got) != string(want) {
		t.Errorf("enrollment payload\n got %s\nwant %s", got, want)
	}

	got, _ = json.Marshal(site.LessonCompletedPayload(e.ID, lesson.ID))
	want, _ = json.Marshal(map[string]any{
		"chapter": map[string]any{"id": ch.ID, "name": "Clay"}, "course": map[string]any{"id": c.ID, "name": "Pottery"},
		"enrollment": map[string]any{"id": e.ID},
		"lesson":     map[string]any{"id": lesson.ID, "name": "Kinds of clay", "position": 1, "type": "Video"},
		"user":       map[string]any{"email": "ada@example.com", "first_name": "Ada", "id": u.ID, "last_name": "Okafor"},
	})
	if string(got) != string(want) {
		t.Errorf("lesson.completed payload\n got %s\nwant %s", got, want)
	}

	mustPanic(t, "a content of another course", func() { site.LessonCompletedPayload(e.ID, stranger.ID) })
	mustPanic(t, "an unknown enrollment", func() { site.EnrollmentPayload(1) })
}

func mustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	fn()
}

func TestCatalogChanges(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	t0 := f.clock.Now()
	c := site.AddCourse(Course{Name: "Pottery"})
	ch := site.AddChapter(Chapter{CourseID: c.ID, Name: "Clay"})
	l1 := site.AddContent(Content{ChapterID: ch.ID, Name: "One"})
	l2 := site.AddContent(Content{ChapterID: ch.ID, Name: "Two"})
	u := site.AddUser(User{Email: "ada@example.com"})
	e := site.AddEnrollment(Enrollment{UserID: u.ID, CourseID: c.ID})
	keep := site.AddCourse(Course{ID: 5, Name: "Kept", Slug: "my-slug"})

	if keep.ID != 5 || keep.Slug != "my-slug" || c.Slug != "pottery" || l1.Type != "Lesson" || l1.LessonType != "Lesson" || l2.Position != 1 {
		t.Errorf("defaults: %+v %+v %+v", keep, c, l2)
	}
	if next := site.AddUser(User{}); next.ID <= l2.ID || next.ID <= e.ID {
		t.Errorf("ids must grow: %d after %d", next.ID, e.ID)
	}
	mustPanic(t, "a taken id", func() { site.AddCourse(Course{ID: 5}) })
	mustPanic(t, "a chapter of no course", func() { site.AddChapter(Chapter{CourseID: 1}) })
	mustPanic(t, "a content of no chapter", func() { site.AddContent(Content{ChapterID: c.ID}) })
	mustPanic(t, "an enrollment of no user", func() { site.AddEnrollment(Enrollment{UserID: c.ID, CourseID: c.ID}) })

	// UpdatedAt moves to now unless the edit sets it.
	f.clock.Advance(time.Hour)
	got, ok := site.UpdateEnrollment(e.ID, func(e *Enrollment) { e.Percentage = 0.5 })
	if !ok || got.Percentage != 0.5 || !got.UpdatedAt.Equal(t0.Add(time.Hour)) || !got.CreatedAt.Equal(t0) {
		t.Errorf("update: %+v", got)
	}
	got, _ = site.UpdateEnrollment(e.ID, func(e *Enrollment) { e.UpdatedAt = t0.Add(time.Minute) })
	if !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("explicit UpdatedAt: %v", got.UpdatedAt)
	}
	if _, ok := site.UpdateEnrollment(1, func(*Enrollment) {}); ok {
		t.Error("updated an unknown enrollment")
	}

	if moved, _ := site.UpdateContent(l2.ID, func(ct *Content) { ct.Position = -1 }); moved.Position != -1 {
		t.Errorf("move: %+v", moved)
	}
	if !site.DeleteContent(l1.ID) || site.DeleteContent(l1.ID) {
		t.Error("DeleteContent")
	}
	if _, ok := site.DeleteCourse(c.ID); !ok {
		t.Fatal("DeleteCourse")
	}
	cat := site.Catalog()
	if len(cat.Courses) != 1 || len(cat.Chapters) != 0 || len(cat.Contents) != 0 || len(cat.Enrollments) != 0 || len(cat.Users) != 2 {
		t.Errorf("after deleting the course: %+v", cat)
	}
	if _, ok := site.DeleteCourse(c.ID); ok {
		t.Error("deleted twice")
	}
	mustPanic(t, "an edit of the id", func() { site.UpdateCourse(keep.ID, func(c *Course) { c.ID++ }) })
}
