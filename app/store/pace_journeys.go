package store

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A course's rollups are counted from pace_journeys, one row per learner in the course
// with what the figures need of their events: the gaps between their lesson completions
// and their latest progress 7, 30 and 90 days after enrolling. Counting a course again reads
// only the journeys whose learners have events newer than the last count (through
// learner_events_course, then learner_events_journey), and the course's journey rows and
// enrollments; reading all of a large course's events (a full count) takes seconds, as
// its events lie all over the table.

// courseEvent is one learner event of a course, as the rollups read it.
type courseEvent struct {
	ID           int64
	LearnerID    int64
	Kind         string
	LessonID     *int64
	OccurredAt   time.Time
	PercentAfter *float64
}

// paceJourney is a learner's row of pace_journeys.
type paceJourney struct {
	SiteID, CourseID, LearnerID int64
	EnrolledAt                  *time.Time // the learner's first enrollment's, when counted
	Gaps                        string     // "lesson:seconds" for each completion after another, space-separated
	At7, At30, At90             *time.Time // the latest progress step by enrolled_at + N days
	Pct7, Pct30, Pct90          *float64
}

func (paceJourney) TableName() string { return "pace_journeys" }

func (j *paceJourney) step(n int) (*time.Time, *float64) {
	switch n {
	case 0:
		return j.At7, j.Pct7
	case 1:
		return j.At30, j.Pct30
	}
	return j.At90, j.Pct90
}

func (j *paceJourney) setStep(n int, at time.Time, pct float64) {
	switch n {
	case 0:
		j.At7, j.Pct7 = &at, &pct
	case 1:
		j.At30, j.Pct30 = &at, &pct
	default:
		j.At90, j.Pct90 = &at, &pct
	}
}

// journeysOf builds the journeys of evs (in learner and time order); enrolled gives each
// learner's first enrollment's enrolled_at.
func journeysOf(siteID, courseID int64, evs []courseEvent, enrolled map[int64]*time.Time) map[int64]*paceJourney {
	out := map[int64]*paceJourney{}
	var gaps strings.Builder
	var j *paceJourney
	var prevLesson *courseEvent
	flush := func() {
		if j != nil {
			j.Gaps = strings.TrimSpace(gaps.String())
		}
		gaps.Reset()
	}
	for i := range evs {
		e := &evs[i]
		if j == nil || j.LearnerID != e.LearnerID {
			flush()
			j = &paceJourney{SiteID: siteID, CourseID: courseID, LearnerID: e.LearnerID, EnrolledAt: enrolled[e.LearnerID]}
			out[e.LearnerID], prevLesson = j, nil
		}
		switch {
		case e.Kind == "lesson" && e.LessonID != nil:
			if prevLesson != nil {
				gaps.WriteString(strconv.FormatInt(*e.LessonID, 10) + ":" +
					strconv.FormatFloat(e.OccurredAt.Sub(prevLesson.OccurredAt).Seconds(), 'f', -1, 64) + " ")
			}
			prevLesson = e
		case e.Kind == "progress" && e.PercentAfter != nil && j.EnrolledAt != nil:
			for n, days := range CohortDays {
				if !e.OccurredAt.After(j.EnrolledAt.Add(time.Duration(days) * 24 * time.Hour)) {
					j.setStep(n, e.OccurredAt, *e.PercentAfter)
				}
			}
		}
	}
	flush()
	return out
}

const courseEventColumns = "id, learner_id, kind, lesson_id, occurred_at, percent_after"

// countCoursePace counts a course's rollups again: all its journeys when full or never
// counted, else those of learners with events since the last count (looking back
// paceLookback ids, for events committed late) or whose enrollment date moved since theirs
// was counted. An enrollment date learned after the learner's events (the fingerprint does
// not see it) is counted at the course's next change.
func (db *DB) countCoursePace(ctx context.Context, siteID, courseID int64, now time.Time, full bool) error {
	g := db.reader(ctx)
	fp, maxID, err := db.paceFingerprint(ctx, g, siteID, courseID)
	if err != nil {
		return err
	}
	var marks []int64
	if err := g.Raw("SELECT last_event_id FROM pace_courses WHERE site_id = ? AND course_id = ?", siteID, courseID).Scan(&marks).Error; err != nil {
		return dbError(err, "pace")
	}
	full = full || len(marks) == 0
	var enrollments []cohortEnrollment
	if err := g.Raw(`SELECT id, learner_id, enrolled_at, completed_at, percent, imported_percent, imported_as_of FROM enrollments
		WHERE site_id = ? AND course_id = ? ORDER BY learner_id, id`, siteID, courseID).Scan(&enrollments).Error; err != nil {
		return dbError(err, "pace")
	}
	enrolled := map[int64]*time.Time{}
	for _, e := range enrollments {
		if _, ok := enrolled[e.LearnerID]; !ok {
			enrolled[e.LearnerID] = e.EnrolledAt
		}
	}
	var journeys map[int64]*paceJourney
	var changed []int64
	if full {
		var evs []courseEvent
		if err := g.Raw(`SELECT `+courseEventColumns+` FROM learner_events WHERE site_id = ? AND course_id = ?
			ORDER BY learner_id, occurred_at, id`, siteID, courseID).Scan(&evs).Error; err != nil {
			return dbError(err, "pace")
		}
		journeys = journeysOf(siteID, courseID, evs, enrolled)
	} else {
		var stored []*paceJourney
		if err := g.Where("site_id = ? AND course_id = ?", siteID, courseID).Find(&stored).Error; err != nil {
			return dbError(err, "pace")
		}
		journeys = make(map[int64]*paceJourney, len(stored))
		for _, j := range stored {
			journeys[j.LearnerID] = j
			if e := enrolled[j.LearnerID]; (e == nil) != (j.EnrolledAt == nil) || e != nil && !e.Equal(*j.EnrolledAt) {
				changed = append(changed, j.LearnerID)
			}
		}
		var moved []int64
		if err := g.Raw("SELECT DISTINCT learner_id FROM learner_events WHERE site_id = ? AND course_id = ? AND id > ? AND id <= ?",
			siteID, courseID, marks[0]-paceLookback, maxID).Scan(&moved).Error; err != nil {
			return dbError(err, "pace")
		}
		changed = append(changed, moved...)
		slices.Sort(changed)
		changed = slices.Compact(changed)
		for chunk := range slices.Chunk(changed, 500) {
			var evs []courseEvent
			if err := g.Raw(`SELECT `+courseEventColumns+` FROM learner_events WHERE site_id = ? AND learner_id IN ? AND course_id = ?
				ORDER BY learner_id, occurred_at, id`, siteID, chunk, courseID).Scan(&evs).Error; err != nil {
				return dbError(err, "pace")
			}
			fresh := journeysOf(siteID, courseID, evs, enrolled)
			for _, l := range chunk {
				if j := fresh[l]; j != nil {
					journeys[l] = j
				} else {
					delete(journeys, l)
				}
			}
		}
	}
	lessons := lessonGaps(journeys)
	cohorts := countCohorts(enrollments, journeys, now)
	err = db.tx(ctx, func(tx *gorm.DB) error {
		// The upsert first: it locks the course's row, so two counts of one course take turns.
		if err := tx.Exec(`INSERT INTO pace_courses (site_id, course_id, fingerprint, last_event_id, built_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (site_id, course_id) DO UPDATE SET fingerprint = excluded.fingerprint, last_event_id = excluded.last_event_id,
				built_at = excluded.built_at`, siteID, courseID, fp, maxID, now.UTC()).Error; err != nil {
			return err
		}
		var rows []*paceJourney
		if full {
			if err := tx.Exec("DELETE FROM pace_journeys WHERE site_id = ? AND course_id = ?", siteID, courseID).Error; err != nil {
				return err
			}
			for _, j := range journeys {
				rows = append(rows, j)
			}
		} else {
			for chunk := range slices.Chunk(changed, 500) {
				if err := tx.Exec("DELETE FROM pace_journeys WHERE site_id = ? AND course_id = ? AND learner_id IN ?", siteID, courseID, chunk).Error; err != nil {
					return err
				}
				for _, l := range chunk {
					if j := journeys[l]; j != nil {
						rows = append(rows, j)
					}
				}
			}
		}
		if len(rows) > 0 {
			if err := tx.CreateInBatches(rows, 500).Error; err != nil {
				return err
			}
		}
		for _, t := range []string{"pace_lessons", "pace_cohorts"} {
			if err := tx.Exec("DELETE FROM "+t+" WHERE site_id = ? AND course_id = ?", siteID, courseID).Error; err != nil {
				return err
			}
		}
		for _, l := range lessons {
			if err := tx.Exec("INSERT INTO pace_lessons (site_id, course_id, lesson_id, gaps, median_seconds) VALUES (?, ?, ?, ?, ?)",
				siteID, courseID, l.lesson, l.gaps, l.median).Error; err != nil {
				return err
			}
		}
		for _, c := range cohorts {
			if err := tx.Exec(`INSERT INTO pace_cohorts (site_id, course_id, cohort, enrollments, completed,
					known7, unknown7, median7, known30, unknown30, median30, known90, unknown90, median90)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, siteID, courseID, c.Month, c.Enrollments, c.Completed,
				c.At[0].Known, c.At[0].Unknown, c.At[0].Median, c.At[1].Known, c.At[1].Unknown, c.At[1].Median,
				c.At[2].Known, c.At[2].Unknown, c.At[2].Median).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return dbError(err, "pace")
}

type lessonGap struct {
	lesson int64
	gaps   int64
	median float64 // seconds
}

// lessonGaps is, per lesson, the median time from each learner's previous lesson
// completion in the course to its completion.
func lessonGaps(journeys map[int64]*paceJourney) []lessonGap {
	gaps := map[int64][]float64{}
	for _, j := range journeys {
		for _, g := range strings.Fields(j.Gaps) {
			lesson, secs, _ := strings.Cut(g, ":")
			id, err1 := strconv.ParseInt(lesson, 10, 64)
			s, err2 := strconv.ParseFloat(secs, 64)
			if err1 == nil && err2 == nil {
				gaps[id] = append(gaps[id], s)
			}
		}
	}
	out := make([]lessonGap, 0, len(gaps))
	for lesson, g := range gaps {
		slices.Sort(g)
		out = append(out, lessonGap{lesson: lesson, gaps: int64(len(g)), median: *percentile(g, 0.5)})
	}
	slices.SortFunc(out, func(a, b lessonGap) int { return cmp.Compare(a.lesson, b.lesson) })
	return out
}
