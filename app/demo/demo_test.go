package demo

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Bad flags are refused before Stride is started; --help is no error. The whole demo runs
// against the Stride main wires, in main's tests.
func TestRunFlags(t *testing.T) {
	noStride := func(context.Context, func(string) string) (Stride, error) {
		t.Fatal("Stride was started")
		return nil, nil
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"help", []string{"--help"}, ""},
		{"too many sites", []string{"--sites", "6"}, "--sites must be 1 to 5"},
		{"no learners", []string{"--learners", "0"}, "--learners and --speed positive"},
		{"no speed", []string{"--speed", "0"}, "--learners and --speed positive"},
		{"negative latency", []string{"--api-latency", "-1s"}, "--api-latency not negative"},
		{"unknown flag", []string{"--fast"}, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.args, io.Discard, noStride)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// Every learner's events are ones Stride accepts, for the site that sends them, and each
// step played is a lesson.completed and an enrollment.progress of one enrollment. The
// learners, enrollments, courses and lessons are the site's catalog's, each enrollment as
// it ends up, as REST lists it.
func TestLearnerEvents(t *testing.T) {
	double := thinkificdouble.New(thinkificdouble.Config{ClientID: "id", ClientSecret: "secret"})
	s := &Site{Thinkific: double.AddSite("demo-academy")}
	s.courses = seedSchool(s.Thinkific, 3, time.Now())
	p := newPlayer(Options{Learners: 20, Speed: 1, Seed: 3}, io.Discard)
	var evs []event
	pair := 0
	for i := range 20 {
		evs = append(evs, p.learner(s, i+1, &pair)...)
	}
	halves := map[int][]*events.Envelope{}
	for _, e := range evs {
		env, err := events.ParseEnvelope(e.body)
		if err != nil || env.Topic() != e.topic || env.TenantGlobalID != s.Thinkific.GID() {
			t.Fatalf("%s: %+v %v\n%s", e.topic, env, err, e.body)
		}
		if e.pair != 0 {
			halves[e.pair] = append(halves[e.pair], env)
		}
	}
	if len(halves) != len(s.Played) || len(s.Played) == 0 {
		t.Fatalf("%d paired groups, %d steps played", len(halves), len(s.Played))
	}
	for n, h := range halves {
		if len(h) != 2 || h[0].Topic() != "lesson.completed" || h[1].Topic() != "enrollment.progress" {
			t.Fatalf("step %d: %v", n, h)
		}
		if gap := h[1].CreatedAt.Sub(h[0].CreatedAt); gap < 0 || gap > 40*time.Millisecond {
			t.Errorf("step %d: halves %v apart", n, gap)
		}
	}

	cat := s.Thinkific.Catalog()
	courseOf := map[int64]int64{} // content → course
	for _, ct := range cat.Contents {
		for _, ch := range cat.Chapters {
			if ch.ID == ct.ChapterID {
				courseOf[ct.ID] = ch.CourseID
			}
		}
	}
	type journey struct{ learner, course int64 }
	first, last := map[journey]Step{}, map[journey]Step{}
	for _, st := range s.Played {
		if courseOf[st.Lesson] != st.Course {
			t.Fatalf("step %+v: lesson not in the catalog's course", st)
		}
		j := journey{st.Learner, st.Course}
		if _, ok := first[j]; !ok {
			first[j] = st
		}
		last[j] = st
	}
	played := 0
	for _, e := range cat.Enrollments[schoolEnrollments:] {
		played++
		st, ok := last[journey{e.UserID, e.CourseID}]
		if !ok {
			continue // enrolled, never started
		}
		if math.Round(e.Percentage*1000)/10 != st.After || !e.UpdatedAt.Before(st.At.Add(2*time.Second)) {
			t.Errorf("enrollment %+v ends otherwise than its last step %+v", e, st)
		}
		if first[journey{e.UserID, e.CourseID}].Before != 0 {
			t.Errorf("enrollment %+v starts from %v", e, first[journey{e.UserID, e.CourseID}].Before)
		}
	}
	if played != 20 || len(cat.Users) != schoolLearners+20 {
		t.Fatalf("%d enrollments, %d users after 20 learners", played, len(cat.Users))
	}
}

// The school before the install: named courses of chapters of lessons and quizzes, learners
// enrolled at mixed progress over the months before the demo's own learners.
func TestSeedSchool(t *testing.T) {
	double := thinkificdouble.New(thinkificdouble.Config{ClientID: "id", ClientSecret: "secret"})
	site := double.AddSite("demo-academy")
	now := time.Now()
	courses := seedSchool(site, 1, now)
	cat := site.Catalog()
	if len(courses) != 3 || len(cat.Courses) != 3 || cat.Courses[0].Name != "Photography Basics" || len(cat.Chapters) != 15 || cat.Chapters[1].Name != "Light" {
		t.Fatalf("courses %+v, chapters %+v", cat.Courses, cat.Chapters)
	}
	quizzes := 0
	for _, ct := range cat.Contents {
		if ct.Type == "Quiz" {
			quizzes++
		}
	}
	if len(courses[0].contents) != 20 || quizzes != 15 || cat.Contents[0].Name != "Your camera, part 1" || cat.Contents[3].Name != "Quiz: Your camera" {
		t.Fatalf("%d contents, %d quizzes, first %+v", len(courses[0].contents), quizzes, cat.Contents[:4])
	}
	levels := map[float64]bool{}
	for _, e := range cat.Enrollments {
		levels[e.Percentage] = true
		if e.UpdatedAt.After(now.AddDate(0, -1, 0)) || e.CreatedAt.Before(now.AddDate(0, -7, 0)) {
			t.Fatalf("enrollment outside the months before the demo: %+v", e)
		}
	}
	if len(cat.Enrollments) != 150 || len(levels) < 5 {
		t.Fatalf("%d enrollments at %d levels of progress", len(cat.Enrollments), len(levels))
	}
}
