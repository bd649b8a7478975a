package thinkificdouble

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// HistorySpec describes the past SeedHistory gives a site: the school it was before it
// installed the app.
type HistorySpec struct {
	Seed                                          uint64
	Courses, ChaptersPerCourse, LessonsPerChapter int
	// QuizEvery makes every n-th content of a chapter a Quiz; 0 makes none.
	QuizEvery int
	// HiddenCourses makes the last n courses new-builder ones, hidden from REST.
	HiddenCourses int
	Learners      int
	// Enrollments is how many, each of a different learner and course pair; at most
	// Learners × Courses.
	Enrollments int
	// From and To bound when enrollments were made and moved; default the year to now.
	From, To time.Time
}

var (
	firstNames = []string{"Ada", "Bram", "Chiara", "Dmitri", "Esi", "Farid", "Grace", "Hiro", "Ines", "Jonas"}
	lastNames  = []string{"Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Byrne"}
)

// SeedHistory adds courses of chapters of contents, learners and their enrollments to the
// site and returns what it added. The same spec on a fresh double gives the same catalog.
// Enrollments spread over: not started (15 %), started at 0 (10 %), completed at 1.0
// (30 %), part way in steps of one content (45 %); a tenth have an expiry date, some past,
// and one in twenty is a free trial. Ids grow with created_at, as database ids do.
func (s *Site) SeedHistory(spec HistorySpec) Catalog {
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	to := spec.To
	if to.IsZero() {
		to = s.d.cfg.Now()
	}
	from := spec.From
	if from.IsZero() {
		from = to.AddDate(-1, 0, 0)
	}
	var out Catalog
	contentsPerCourse := spec.ChaptersPerCourse * spec.LessonsPerChapter

	for i := range spec.Courses {
		c := s.AddCourse(Course{Name: fmt.Sprintf("Course %d", i+1), Hidden: i >= spec.Courses-spec.HiddenCourses})
		out.Courses = append(out.Courses, c)
		for j := range spec.ChaptersPerCourse {
			ch := s.AddChapter(Chapter{CourseID: c.ID, Name: fmt.Sprintf("Chapter %d", j+1), Position: j})
			out.Chapters = append(out.Chapters, ch)
			for k := range spec.LessonsPerChapter {
				ct := Content{ChapterID: ch.ID, Name: fmt.Sprintf("Lesson %d.%d", j+1, k+1), Position: k,
					Type: "Lesson", LessonType: []string{"Video", "Text"}[k%2]}
				if spec.QuizEvery > 0 && (k+1)%spec.QuizEvery == 0 {
					ct.Name, ct.Type, ct.LessonType = fmt.Sprintf("Quiz %d.%d", j+1, k+1), "Quiz", "Quiz"
				}
				out.Contents = append(out.Contents, s.AddContent(ct))
			}
		}
	}
	for i := range spec.Learners {
		out.Users = append(out.Users, s.AddUser(User{
			Email:     fmt.Sprintf("learner%d@%s.example", i+1, s.subdomain),
			FirstName: firstNames[i%len(firstNames)], LastName: lastNames[i%len(lastNames)],
			CreatedAt: from,
		}))
	}

	var made []Enrollment
	for _, pair := range samplePairs(rng, spec.Learners*spec.Courses, spec.Enrollments) {
		e := pastEnrollment(rng, from, to, contentsPerCourse)
		e.UserID, e.CourseID = out.Users[pair/spec.Courses].ID, out.Courses[pair%spec.Courses].ID
		made = append(made, e)
	}
	slices.SortStableFunc(made, func(a, b Enrollment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, e := range made {
		out.Enrollments = append(out.Enrollments, s.AddEnrollment(e))
	}
	return out
}

// samplePairs picks n distinct numbers below total (all when n ≥ total), in increasing
// order, by Floyd's method.
func samplePairs(rng *rand.Rand, total, n int) []int {
	n = min(n, total)
	picked := map[int]bool{}
	for j := total - n; j < total; j++ {
		if t := rng.IntN(j + 1); picked[t] {
			picked[j] = true
		} else {
			picked[t] = true
		}
	}
	out := make([]int, 0, n)
	for v := range picked {
		out = append(out, v)
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}

// pastEnrollment is one enrollment's state and dates, made between from and to.
func pastEnrollment(rng *rand.Rand, from, to time.Time, contents int) Enrollment {
	within := func(start time.Time, span time.Duration) time.Time {
		if span <= 0 {
			return start
		}
		t := start.Add(time.Duration(rng.Int64N(int64(span))))
		if t.After(to) {
			return to
		}
		return t
	}
	created := within(from, to.Sub(from)).Truncate(time.Second)
	e := Enrollment{CreatedAt: created, UpdatedAt: created}
	started := within(created, 72*time.Hour)

	switch r := rng.Float64(); {
	case r < 0.15:
	case r < 0.25:
		e.StartedAt, e.UpdatedAt = &started, started
	case r < 0.55 || contents < 2:
		done := within(started, 60*24*time.Hour)
		e.Percentage, e.Completed = 1, true
		e.StartedAt, e.CompletedAt, e.UpdatedAt = &started, &done, done
	default:
		e.Percentage = math.Round(float64(1+rng.IntN(contents-1))/float64(contents)*1000) / 1000
		e.StartedAt, e.UpdatedAt = &started, within(started, to.Sub(started))
	}
	if rng.IntN(10) == 0 {
		// Up to half a year past to, so some have expired and some have not.
		expiry := created.Add(time.Duration(rng.Int64N(int64(to.Sub(created) + 180*24*time.Hour))))
		e.ExpiryDate = &expiry
	}
	e.FreeTrial = rng.IntN(20) == 0
	return e
}
