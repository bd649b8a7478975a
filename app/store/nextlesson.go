package store

import (
	"cmp"
	"maps"
	"slices"

	"gorm.io/gorm"
)

// Each enrollment keeps its learner's next lesson in the course (next_lesson_id: the first
// of the curriculum they have not completed; none when they completed it all or the course
// has no curriculum) and whether they completed any lesson of it (has_lesson). Needs
// attention, "stuck here" and every learner list read the two columns; counting them from
// the learners' completions on each page took every completion of the learners listed.
// The worker moves them when it writes a new completion or a new enrollment
// (writeNextLessons); a curriculum re-read counts its course's again (recountNextLessons).

// nextLessonSQL is enrollment e's next lesson counted from the curriculum and the learner's
// completions alone.
const nextLessonSQL = `(SELECT nl.id FROM lessons nl WHERE nl.site_id = e.site_id AND nl.course_id = e.course_id
		AND nl.course_position IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lesson_completions c
			WHERE c.site_id = nl.site_id AND c.lesson_id = nl.id AND c.learner_id = e.learner_id)
		ORDER BY nl.course_position LIMIT 1)`

// nextFromSQL is enrollment e's next lesson looked for from the one it had: every lesson
// before that was completed, as completions are never removed and a curriculum re-read
// counts its course again. A learner who goes in order is asked about one or two lessons,
// not their whole course. Without a next lesson (none yet, or the one it had left the
// curriculum) it counts from the start.
const nextFromSQL = `(SELECT nl.id FROM lessons nl WHERE nl.site_id = e.site_id AND nl.course_id = e.course_id
		AND nl.course_position >= COALESCE((SELECT cur.course_position FROM lessons cur
			WHERE cur.site_id = e.site_id AND cur.id = e.next_lesson_id AND cur.course_id = e.course_id), 0)
		AND NOT EXISTS (SELECT 1 FROM lesson_completions c
			WHERE c.site_id = nl.site_id AND c.lesson_id = nl.id AND c.learner_id = e.learner_id)
		ORDER BY nl.course_position LIMIT 1)`

// hasLessonSQL says whether enrollment e's learner completed a lesson of its course.
const hasLessonSQL = `(e.has_lesson OR EXISTS (SELECT 1 FROM lesson_completions lc
		WHERE lc.site_id = e.site_id AND lc.course_id = e.course_id AND lc.learner_id = e.learner_id))`

// writeNextLessons moves the next lesson of the enrollments of the journeys the batch gave
// a new completion or a new enrollment. It writes only the rows whose values change.
func (w *WorkTx) writeNextLessons() error {
	keys := slices.SortedFunc(maps.Keys(w.batch.journeys), JourneyKey.compare)
	clear(w.batch.journeys)
	if len(keys) == 0 {
		return nil
	}
	sites, learners, courses := make([]int64, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		sites[i], learners[i], courses[i] = k.SiteID, k.LearnerID, k.CourseID
	}
	sel, args := w.db.keyed(`SELECT e.site_id, e.id, `+hasLessonSQL+` AS has_lesson, `+nextFromSQL+` AS next_lesson_id FROM enrollments e`,
		[]string{"site_id", "learner_id", "course_id"}, sites, learners, courses)
	return w.tx.Exec(w.db.setNextLessons(sel), args...).Error
}

// recountNextLessons counts the next lesson of every enrollment of a course from the start:
// its curriculum changed.
func (db *DB) recountNextLessons(tx *gorm.DB, siteID, courseID int64) error {
	return tx.Exec(db.setNextLessons(`SELECT e.site_id, e.id, e.has_lesson, `+nextLessonSQL+` AS next_lesson_id
		FROM enrollments e WHERE e.site_id = ? AND e.course_id = ?`), siteID, courseID).Error
}

// setNextLessons writes the has_lesson and next_lesson_id that sel (site_id, id,
// has_lesson, next_lesson_id) gives each enrollment, where they differ.
func (db *DB) setNextLessons(sel string) string {
	differs := "IS DISTINCT FROM"
	if !db.postgres {
		differs = "IS NOT"
	}
	return `UPDATE enrollments SET has_lesson = v.has_lesson, next_lesson_id = v.next_lesson_id FROM (` + sel + `) v
		WHERE enrollments.site_id = v.site_id AND enrollments.id = v.id
			AND (enrollments.has_lesson <> v.has_lesson OR enrollments.next_lesson_id ` + differs + ` v.next_lesson_id)`
}

func (k JourneyKey) compare(o JourneyKey) int {
	return cmp.Or(cmp.Compare(k.SiteID, o.SiteID), cmp.Compare(k.LearnerID, o.LearnerID), cmp.Compare(k.CourseID, o.CourseID))
}
