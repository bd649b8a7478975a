package demo

import (
	"fmt"
	"time"

	"github.com/strideapp/stride/app/thinkificdouble"
)

// A simulated school's past: what it had before it installed Stride, which Stride reads
// from the REST API at install.
const (
	schoolChapters    = 5   // per course
	schoolLessons     = 4   // per chapter, every fourth a quiz
	schoolLearners    = 100 // before the install
	schoolEnrollments = 150 // before the install, each of one learner in one course
)

var schoolCourses = []struct {
	name     string
	chapters [schoolChapters]string
}{
	{"Photography Basics", [...]string{"Your camera", "Light", "Composition", "Editing", "Your portfolio"}},
	{"Marketing 101", [...]string{"Foundations", "Your audience", "Channels", "Content", "Measuring"}},
	{"Watercolour for Beginners", [...]string{"Materials", "Washes", "Mixing colour", "Layers", "Landscapes"}},
}

// demoCourse is a course of the school with its contents in curriculum order.
type demoCourse struct {
	id       int64
	contents []int64
}

// seedSchool gives a site its courses, chapters and contents, its learners and their
// enrollments at mixed progress over the six months before the last one (the demo's
// learners play the last one), and returns the courses.
func seedSchool(s *thinkificdouble.Site, seed uint64, now time.Time) []demoCourse {
	cat := s.SeedHistory(thinkificdouble.HistorySpec{Seed: seed, Courses: len(schoolCourses), ChaptersPerCourse: schoolChapters,
		LessonsPerChapter: schoolLessons, QuizEvery: schoolLessons, Learners: schoolLearners, Enrollments: schoolEnrollments,
		From: now.AddDate(0, -7, 0), To: now.AddDate(0, -1, 0)})
	courses := make([]demoCourse, len(cat.Courses))
	index := map[int64]int{}
	for i, c := range cat.Courses {
		s.UpdateCourse(c.ID, func(c *thinkificdouble.Course) { c.Name = schoolCourses[i].name })
		courses[i].id, index[c.ID] = c.ID, i
	}
	// SeedHistory adds chapters and contents in curriculum order, ids rising.
	themes := map[int64]string{}
	for _, ch := range cat.Chapters {
		i := index[ch.CourseID]
		theme := schoolCourses[i].chapters[ch.Position%schoolChapters]
		themes[ch.ID] = theme
		s.UpdateChapter(ch.ID, func(ch *thinkificdouble.Chapter) { ch.Name = theme })
	}
	for _, ct := range cat.Contents {
		name := fmt.Sprintf("%s, part %d", themes[ct.ChapterID], ct.Position+1)
		if ct.Type == "Quiz" {
			name = "Quiz: " + themes[ct.ChapterID]
		}
		s.UpdateContent(ct.ID, func(ct *thinkificdouble.Content) { ct.Name = name })
	}
	for _, ct := range cat.Contents {
		for _, ch := range cat.Chapters {
			if ch.ID == ct.ChapterID {
				i := index[ch.CourseID]
				courses[i].contents = append(courses[i].contents, ct.ID)
			}
		}
	}
	return courses
}
