package store

import (
	"context"
	"database/sql"
	"fmt"
)

// A lesson's learners are those with a lesson.completed for it, plus, for a lesson of the
// curriculum, those Thinkific reported as having finished its course when the site's
// enrollments were imported (a finished course means every lesson done) and who have no
// lesson.completed for it: lesson-level history exists only from the install on, so without
// them the funnel would start from the learners who finished a lesson since. Both counts
// come from rollups and indexes: lesson_stats, and the finished learners' own completions
// (lesson_completions), which are subtracted so that no learner counts twice.
//
// lessonsFrom reads the site's lessons of courses not deleted in Thinkific, with those
// counts; %[1]s narrows the finished enrollments it reads (to one course) and is "" or a
// condition on e.
const lessonsFrom = `FROM lessons l
	LEFT JOIN courses c ON c.site_id = l.site_id AND c.id = l.course_id
	LEFT JOIN chapters ch ON ch.site_id = l.site_id AND ch.id = l.chapter_id
	LEFT JOIN lesson_stats s ON s.site_id = l.site_id AND s.lesson_id = l.id
	LEFT JOIN (SELECT e.course_id, COUNT(DISTINCT e.learner_id) AS n FROM enrollments e
			WHERE e.site_id = @site AND e.imported_percent >= 100 %[1]s GROUP BY e.course_id
		) d ON d.course_id = l.course_id AND l.course_position IS NOT NULL
	LEFT JOIN (SELECT e.course_id, lc.lesson_id, COUNT(DISTINCT lc.learner_id) AS n FROM enrollments e
			JOIN lesson_completions lc ON lc.site_id = e.site_id AND lc.course_id = e.course_id AND lc.learner_id = e.learner_id
			WHERE e.site_id = @site AND e.imported_percent >= 100 %[1]s GROUP BY e.course_id, lc.lesson_id
		) o ON o.course_id = l.course_id AND o.lesson_id = l.id AND l.course_position IS NOT NULL
	WHERE l.site_id = @site AND c.deleted_at IS NULL`

// lessonCounts are lessonsFrom's counts: all learners of a lesson, and of them those counted
// from an imported finished enrollment. The literal 100 above lets both databases use the
// partial index enrollments_imported_done; the finished learners' completions are read from
// lesson_completions_course_learner alone, in learner order, as a merge with it.
const lessonCounts = `COALESCE(s.learners, 0) + COALESCE(d.n, 0) - COALESCE(o.n, 0) AS learners,
	COALESCE(d.n, 0) - COALESCE(o.n, 0) AS imported`

// FunnelLesson is a lesson with how many learners completed it.
type FunnelLesson struct {
	LessonID    int64
	Lesson      string
	ChapterID   *int64
	Chapter     string
	Learners    int64
	Imported    int64   // of Learners, those counted because their imported enrollment was finished
	InCourse    bool    // in the curriculum Thinkific gave; false: known only from events
	Drop        int64   // learners lost since the lesson before
	DropShare   float64 // Drop as a share of the learners of the lesson before, 0–1
	BiggestDrop bool    // the largest DropShare of the funnel (the larger Drop on a tie)
	Stuck       int64   // stalled learners whose next lesson this is
}

// Funnel lists a course's lessons with how many learners completed each: the curriculum in
// its order, lessons nobody completed included, then the lessons known only from events
// (a course Thinkific's REST API does not list, a lesson added since the curriculum was
// read) in chapter and position order. A course deleted in Thinkific has none.
func (v *SiteView) Funnel(ctx context.Context, courseID int64) ([]FunnelLesson, error) {
	var out []FunnelLesson
	err := v.db.reader(ctx).Raw(fmt.Sprintf(`SELECT l.id AS lesson_id, l.name AS lesson, l.chapter_id, COALESCE(ch.name, '') AS chapter,
			l.course_position IS NOT NULL AS in_course, %s
		%s AND l.course_id = @course
		ORDER BY CASE WHEN l.course_position IS NULL THEN 1 ELSE 0 END, l.course_position, l.chapter_id, l.position, l.id`,
		lessonCounts, fmt.Sprintf(lessonsFrom, "AND e.course_id = @course")),
		sql.Named("site", v.siteID), sql.Named("course", courseID)).Scan(&out).Error
	if err != nil {
		return nil, dbError(err, "lessons")
	}
	// A drop is judged by the share of learners lost: 30 of 40 is worse than 100 of 1,000.
	biggest := -1
	for i := 1; i < len(out); i++ {
		out[i].Drop = out[i-1].Learners - out[i].Learners
		if out[i].Drop <= 0 {
			continue
		}
		out[i].DropShare = float64(out[i].Drop) / float64(out[i-1].Learners)
		if b := biggest; b < 0 || out[i].DropShare > out[b].DropShare || out[i].DropShare == out[b].DropShare && out[i].Drop > out[b].Drop {
			biggest = i
		}
	}
	if biggest >= 0 {
		out[biggest].BiggestDrop = true
	}
	stuck, err := v.stuck(ctx, courseID)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Stuck = stuck[out[i].LessonID]
	}
	return out, nil
}

// stuck counts a course's stalled learners by their next lesson. Stalled learners are
// idle for the site's threshold, so the indexes of idle enrollments find them (idleSQL)
// without reading the course's others, and each keeps its next lesson.
func (v *SiteView) stuck(ctx context.Context, courseID int64) (map[int64]int64, error) {
	st, err := v.Settings(ctx)
	if err != nil {
		return nil, err
	}
	w, args, _ := v.where(LearnerFilter{CourseID: courseID, Status: Stalled, IdleDays: &st.StalledDays}, v.db.now(), st)
	var rows []struct{ NextLessonID, N int64 }
	err = v.db.reader(ctx).Raw(`SELECT e.next_lesson_id, COUNT(*) AS n FROM enrollments e WHERE `+w+`
		AND e.next_lesson_id IS NOT NULL GROUP BY e.next_lesson_id`, args...).Scan(&rows).Error
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.NextLessonID] = r.N
	}
	return out, dbError(err, "stuck learners")
}

// LessonRow is one content item of a course's curriculum, for the export.
type LessonRow struct {
	CourseID   int64
	Course     string
	ChapterID  *int64
	Chapter    string
	LessonID   int64
	Lesson     string
	LessonType string // Thinkific's contentable_type: Lesson, Quiz, ...
	Position   int    // 1..n in curriculum order within the course
	Learners   int64
}

// EachLesson streams the curriculum of the site's courses not deleted in Thinkific (a
// course's only, when courseID > 0): courses by id, each in curriculum order, with how many
// learners completed each item as the funnel counts them. Lessons outside the curriculum
// (known only from events, or removed from the course) are not in it, nor therefore are
// the lessons of a course Thinkific's REST API does not list.
func (v *SiteView) EachLesson(ctx context.Context, courseID int64, fn func(*LessonRow) error) error {
	filter, args := "", []any{sql.Named("site", v.siteID)}
	if courseID > 0 {
		filter, args = "AND e.course_id = @course", append(args, sql.Named("course", courseID))
	}
	q := fmt.Sprintf(`SELECT l.course_id, COALESCE(c.name, '') AS course, l.chapter_id, COALESCE(ch.name, '') AS chapter,
			l.id AS lesson_id, l.name AS lesson, l.lesson_type, l.course_position AS position, %s
		%s AND l.course_position IS NOT NULL`, lessonCounts, fmt.Sprintf(lessonsFrom, filter))
	if courseID > 0 {
		q += " AND l.course_id = @course"
	}
	return v.each(ctx, q+" ORDER BY l.course_id, l.course_position, l.id", args, func(rows *sql.Rows) error {
		var l LessonRow
		if err := v.db.read.ScanRows(rows, &l); err != nil {
			return err
		}
		return fn(&l)
	})
}
