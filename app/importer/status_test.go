package importer

import (
	"testing"
	"time"

	"github.com/strideapp/stride/app/store"
)

// An import in words, and the time left at the rate budget: remaining requests over the
// budget's pace, enrollments counted in pages of 250.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		st        store.ImportStatus
		perMinute int
		phase     string
		done, of  int
		left      string
		excludes  string
	}{
		{"queued", st(store.ImportQueued, store.PhaseCourses), 120, "reading the course list", 0, 0, "", ""},
		{"second page of courses", with(st(store.ImportRunning, store.PhaseCourses), func(s *store.ImportStatus) { s.CursorPage = 1 }),
			120, "reading the course list, page 2", 0, 0, "", ""},
		{"first curriculum not read yet", with(st(store.ImportRunning, store.PhaseCurricula), func(s *store.ImportStatus) {
			s.Courses, s.CoursesLeft, s.Requests = 50, 50, 1
		}), 120, "reading lessons of course 1 of 50", 0, 50, "", ""},
		// 10 courses read in 70 requests after the one listing page: 7 a course, 40 left =
		// 280 requests at 2 a second.
		{"curricula", with(st(store.ImportRunning, store.PhaseCurricula), func(s *store.ImportStatus) {
			s.Courses, s.CoursesLeft, s.Requests = 50, 40, 71
		}), 120, "reading lessons of course 11 of 50", 10, 50, "about 2 minutes", "the enrollments"},
		{"enrollments before their first page", st(store.ImportRunning, store.PhaseEnrollments), 120, "reading enrollments", 0, 0, "", ""},
		// 50,000 enrollments, 10,000 read: 160 pages at 2 a second.
		{"enrollments", with(st(store.ImportRunning, store.PhaseEnrollments), func(s *store.ImportStatus) {
			s.EnrollmentsTotal, s.Enrollments, s.CursorPage = 50000, 10000, 40
		}), 120, "reading enrollments, page 41 of 200", 10000, 50000, "about 80 seconds", ""},
		{"enrollments at a smaller budget", with(st(store.ImportRunning, store.PhaseEnrollments), func(s *store.ImportStatus) {
			s.EnrollmentsTotal, s.Enrollments, s.CursorPage = 50000, 10000, 40
		}), 20, "reading enrollments, page 41 of 200", 10000, 50000, "about 8 minutes", ""},
		{"last page read", st(store.ImportRunning, store.PhaseDone), 120, "finishing", 0, 0, "a few seconds", ""},
		{"waiting", with(st(store.ImportWaiting, store.PhaseCurricula), func(s *store.ImportStatus) { s.Courses, s.CoursesLeft = 3, 1 }),
			120, "reading lessons of course 3 of 3", 2, 3, "", ""},
		{"done", st(store.ImportDone, store.PhaseDone), 120, "", 0, 0, "a few seconds", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Describe(tc.st, tc.perMinute)
			if s.Phase != tc.phase || s.Done != tc.done || s.Total != tc.of || s.LeftWords() != tc.left || s.LeftExcludes != tc.excludes {
				t.Fatalf("got %q %d/%d left %q (%v) excluding %q\nwant %q %d/%d left %q excluding %q",
					s.Phase, s.Done, s.Total, s.LeftWords(), s.Left, s.LeftExcludes, tc.phase, tc.done, tc.of, tc.left, tc.excludes)
			}
		})
	}
	if got := Describe(st(store.ImportWaiting, store.PhaseCourses), 120).State; got != "waiting to retry" {
		t.Fatalf("state %q", got)
	}
	for phase, want := range map[string]string{store.PhaseCourses: "once the course list is read",
		store.PhaseCurricula: "once the first course's lessons are read", store.PhaseEnrollments: "after the first page of enrollments"} {
		if s := Describe(st(store.ImportRunning, phase), 120); s.LeftKnown || s.LeftWhen != want {
			t.Errorf("%s: left known %v, when %q", phase, s.LeftKnown, s.LeftWhen)
		}
	}
}

func TestLeftWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3 * time.Second:                "a few seconds",
		42 * time.Second:               "about 40 seconds",
		5*time.Minute + 20*time.Second: "about 5 minutes",
		3*time.Hour + 26*time.Minute:   "about 3 h 30 min",
	} {
		if got := (Status{Left: d, LeftKnown: true}).LeftWords(); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func st(state, phase string) store.ImportStatus {
	return store.ImportStatus{Import: store.Import{State: state, Phase: phase, FullImport: true}}
}

func with(s store.ImportStatus, edit func(*store.ImportStatus)) store.ImportStatus {
	edit(&s)
	return s
}
