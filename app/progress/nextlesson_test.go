package progress_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
)

// TestNextLessonKept: the next lesson and "completed a lesson" the worker keeps on each
// enrollment equal what the learner's completions and the curriculum say, whatever the
// order: lessons skipped and completed later, completions before their enrollment, before
// the curriculum is known, across batches, and after the curriculum is reordered, grows and
// shrinks.
func TestNextLessonKept(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		ctx := context.Background()
		r := rand.New(rand.NewPCG(5, 8))
		now := h.Clock.Now()
		const course = 70
		curriculum := []int64{701, 702, 703, 704, 705, 706}
		saveCurriculum := func(lessons []int64) {
			t.Helper()
			var contents []store.CatalogContent
			for i, id := range lessons {
				contents = append(contents, store.CatalogContent{ID: id, Name: fmt.Sprint("Lesson ", id), Position: i + 1, Type: "Lesson"})
			}
			if _, err := h.DB.SaveCurriculum(ctx, site.ID, store.CatalogCourse{ID: course, Name: "Course"},
				[]store.CatalogChapter{{ID: 1, Name: "One", Position: 1, Contents: contents}}, h.Clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		done := map[int64]map[int64]bool{} // learner → lessons completed
		n := 0
		deliver := func(body []byte) {
			t.Helper()
			if code, out := h.Deliver("school", body, testkit.ClientSecret); code != 200 {
				t.Fatalf("%d %s", code, out)
			}
		}
		complete := func(learner, lesson int64) {
			n++
			deliver(testkit.LessonEventFor(fmt.Sprint("l", n), testkit.PublishedGID, now.Add(-time.Duration(2000-n)*time.Minute), learner, course, lesson))
			if done[learner] == nil {
				done[learner] = map[int64]bool{}
			}
			done[learner][lesson] = true
		}
		check := func(when string, lessons []int64) {
			t.Helper()
			var rows []struct {
				LearnerID    int64
				HasLesson    bool
				NextLessonID *int64
			}
			if err := h.DB.Gorm().Raw("SELECT learner_id, has_lesson, next_lesson_id FROM enrollments WHERE site_id = ? AND course_id = ? ORDER BY learner_id",
				site.ID, course).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatalf("%s: no enrollments", when)
			}
			for _, row := range rows {
				var want *int64
				for _, l := range lessons {
					if !done[row.LearnerID][l] {
						want = &l
						break
					}
				}
				if row.HasLesson != (len(done[row.LearnerID]) > 0) {
					t.Errorf("%s: learner %d has_lesson %v, completed %d lessons", when, row.LearnerID, row.HasLesson, len(done[row.LearnerID]))
				}
				if (want == nil) != (row.NextLessonID == nil) || want != nil && *want != *row.NextLessonID {
					t.Errorf("%s: learner %d next lesson %v, want %v (completed %v)", when, row.LearnerID, deref(row.NextLessonID), deref(want), done[row.LearnerID])
				}
			}
		}

		// Before any curriculum: learners 1–3 complete lessons; no next lesson is known.
		for learner := int64(1); learner <= 3; learner++ {
			deliver(testkit.EnrollEvent(fmt.Sprint("e", learner), testkit.PublishedGID, now.Add(-100*time.Hour), learner, course, "l@example.com"))
			complete(learner, 702)
		}
		h.Drain()
		check("no curriculum yet", nil)
		saveCurriculum(curriculum)
		check("the curriculum read", curriculum)

		// Learners 4–23: enrolled (some only after their first lessons arrive), then lessons
		// in random order, a few at a time, drained between rounds.
		for learner := int64(4); learner <= 23; learner++ {
			if learner%4 != 0 {
				deliver(testkit.EnrollEvent(fmt.Sprint("e", learner), testkit.PublishedGID, now.Add(-100*time.Hour), learner, course, "l@example.com"))
			}
		}
		for round := range 6 {
			for learner := int64(1); learner <= 23; learner++ {
				if r.IntN(3) == 0 {
					continue
				}
				for range 1 + r.IntN(2) {
					lesson := curriculum[min(len(curriculum)-1, len(done[learner])+r.IntN(2))]
					if r.IntN(5) == 0 {
						lesson = curriculum[r.IntN(len(curriculum))] // out of order
					}
					complete(learner, lesson)
				}
			}
			if round == 2 { // the late enrollments arrive
				for learner := int64(4); learner <= 23; learner += 4 {
					deliver(testkit.EnrollEvent(fmt.Sprint("e", learner), testkit.PublishedGID, now.Add(-100*time.Hour), learner, course, "l@example.com"))
				}
			}
			h.Drain()
			if round >= 2 {
				check(fmt.Sprint("round ", round), curriculum)
			}
		}

		// The course changes: reordered, a new first lesson, one lesson removed.
		reordered := []int64{707, 704, 701, 702, 703, 706}
		saveCurriculum(reordered)
		check("reordered", reordered)
		for learner := int64(1); learner <= 23; learner += 2 {
			complete(learner, 707)
		}
		h.Drain()
		check("after the new lesson", reordered)
		shrunk := reordered[1:4]
		saveCurriculum(shrunk)
		check("shrunk", shrunk)
	})
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}
