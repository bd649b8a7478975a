package thinkificdouble

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestSeedHistory(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	spec := HistorySpec{Seed: 7, Courses: 5, ChaptersPerCourse: 3, LessonsPerChapter: 4, QuizEvery: 4,
		HiddenCourses: 1, Learners: 80, Enrollments: 300}
	seed := func(spec HistorySpec) Catalog {
		return New(Config{Now: func() time.Time { return now }}).AddSite("acme").SeedHistory(spec)
	}
	cat := seed(spec)

	if !reflect.DeepEqual(cat, seed(spec)) {
		t.Fatal("the same spec gave another catalog")
	}
	other := spec
	other.Seed = 8
	if reflect.DeepEqual(cat.Enrollments, seed(other).Enrollments) {
		t.Fatal("another seed gave the same enrollments")
	}

	quizzes, hidden := 0, 0
	for _, ct := range cat.Contents {
		if ct.Type == "Quiz" {
			quizzes++
		}
	}
	for _, c := range cat.Courses {
		if c.Hidden {
			hidden++
		}
	}
	if len(cat.Courses) != 5 || len(cat.Chapters) != 15 || len(cat.Contents) != 60 || quizzes != 15 || hidden != 1 ||
		!cat.Courses[4].Hidden || len(cat.Users) != 80 || len(cat.Enrollments) != 300 {
		t.Fatalf("sizes: %d courses (%d hidden), %d chapters, %d contents (%d quizzes), %d users, %d enrollments",
			len(cat.Courses), hidden, len(cat.Chapters), len(cat.Contents), quizzes, len(cat.Users), len(cat.Enrollments))
	}

	from := now.AddDate(-1, 0, 0)
	pairs := map[[2]int64]bool{}
	states := map[string]int{}
	for i, e := range cat.Enrollments {
		pair := [2]int64{e.UserID, e.CourseID}
		if pairs[pair] {
			t.Fatalf("enrollment %d repeats a learner and course", e.ID)
		}
		pairs[pair] = true
		if i > 0 && (e.CreatedAt.Before(cat.Enrollments[i-1].CreatedAt) || e.ID <= cat.Enrollments[i-1].ID) {
			t.Fatalf("ids do not grow with created_at at %d", i)
		}
		for _, at := range []*time.Time{&e.CreatedAt, &e.UpdatedAt, e.StartedAt, e.CompletedAt} {
			if at != nil && (at.Before(from) || at.After(now)) {
				t.Fatalf("enrollment %d has a time outside the past year: %+v", e.ID, e)
			}
		}
		if e.UpdatedAt.Before(e.CreatedAt) || (e.StartedAt != nil && e.StartedAt.Before(e.CreatedAt)) {
			t.Fatalf("enrollment %d is out of order: %+v", e.ID, e)
		}
		switch {
		case e.Percentage == 0 && e.StartedAt == nil:
			states["not started"]++
		case e.Percentage == 0:
			states["started at 0"]++
		case e.Percentage == 1 && e.Completed && e.CompletedAt != nil:
			states["completed"]++
		case e.Percentage > 0 && e.Percentage < 1 && !e.Completed && e.CompletedAt == nil:
			// Part way means whole contents done, to the thousandth.
			if steps := e.Percentage * 12; math.Abs(steps-math.Round(steps)) > 0.01 {
				t.Errorf("enrollment %d at %v is not a whole number of contents", e.ID, e.Percentage)
			}
			states["part way"]++
		default:
			t.Fatalf("enrollment %d is in no known state: %+v", e.ID, e)
		}
		if e.ExpiryDate != nil {
			if e.ExpiryDate.After(now) {
				states["expires later"]++
			} else {
				states["expired"]++
			}
		}
		if e.FreeTrial {
			states["free trial"]++
		}
	}
	for _, s := range []string{"not started", "started at 0", "completed", "part way", "expires later", "expired", "free trial"} {
		if states[s] == 0 {
			t.Errorf("no enrollment %s: %v", s, states)
		}
	}

	// More enrollments than pairs gives every pair one.
	small := seed(HistorySpec{Seed: 1, Courses: 2, ChaptersPerCourse: 1, LessonsPerChapter: 1, Learners: 3, Enrollments: 100})
	if len(small.Enrollments) != 6 {
		t.Errorf("%d enrollments of 3 learners in 2 courses", len(small.Enrollments))
	}
}

// A seeded site serves its past over REST once the app is installed.
func TestSeedHistoryOverREST(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	cat := site.SeedHistory(HistorySpec{Seed: 3, Courses: 4, ChaptersPerCourse: 2, LessonsPerChapter: 3,
		HiddenCourses: 1, Learners: 40, Enrollments: 100})
	access, _ := f.install(t, "acme")

	if p := f.list(t, "/api/public/v1/courses", access); p.Meta.Pagination.TotalItems != 3 {
		t.Errorf("%d courses served, want the 3 not hidden", p.Meta.Pagination.TotalItems)
	}
	if p := f.list(t, "/api/public/v1/enrollments?limit=250", access); p.Meta.Pagination.TotalItems != 100 || len(p.Items) != 100 {
		t.Errorf("enrollments: %+v", p.Meta.Pagination)
	}
	if p := f.list(t, "/api/public/v1/users", access); p.Meta.Pagination.TotalItems != len(cat.Users) {
		t.Errorf("users: %+v", p.Meta.Pagination)
	}
}
