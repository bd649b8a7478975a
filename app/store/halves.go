package store

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// Half kinds: the two halves of a learner step.
const (
	HalfLesson   = "lesson"
	HalfProgress = "progress"
)

// Half is one half of a learner step (a row of learner_events).
type Half struct {
	ID            int64 `gorm:"primaryKey"`
	SiteID        int64
	EventID       string
	Kind          string
	LearnerID     int64
	CourseID      int64
	EnrollmentID  *int64
	OccurredAt    time.Time
	ChapterID     *int64
	LessonID      *int64
	PercentBefore *float64
	PercentAfter  *float64
	BeforeGiven   bool
	PartnerID     *int64
}

func (Half) TableName() string { return "learner_events" }

// AddHalf stores a half; inserted is false when its event was applied before. With later,
// the half is inserted with the batch's others (see WorkTx.FlushHalves).
func (s *SiteTx) AddHalf(h *Half, later bool) (inserted bool, err error) {
	h.SiteID = s.siteID
	h.OccurredAt = h.OccurredAt.UTC()
	if later && s.w != nil {
		s.w.pending = append(s.w.pending, h)
		return true, nil
	}
	// Halves waiting to be inserted must be seen by the queries that follow this one.
	if s.w != nil && len(s.w.pending) > 0 {
		if _, err := s.w.FlushHalves(); err != nil {
			return false, err
		}
	}
	res := s.tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "site_id"}, {Name: "event_id"}}, DoNothing: true}).Create(h)
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	if h.Kind == HalfLesson && h.LessonID != nil {
		return true, s.countCompletion(h)
	}
	return true, nil
}

// Halves lists a learner's halves in one course between from and to, in time order.
func (s *SiteTx) Halves(learnerID, courseID int64, from, to time.Time) ([]Half, error) {
	var out []Half
	err := s.tx.Where("site_id = ? AND learner_id = ? AND course_id = ? AND occurred_at >= ? AND occurred_at <= ?",
		s.siteID, learnerID, courseID, from.UTC(), to.UTC()).Order("occurred_at, id").Find(&out).Error
	return out, err
}

// Journey is a learner's path through one course: a (learner, course) pair, the key of
// pairing, with the span of time a read covers.
type Journey struct {
	LearnerID, CourseID int64
	From, To            time.Time
}

// JourneysHalves lists the halves of several learner journeys, each between its From and
// To, in time order: one read for a batch's re-pairing.
func (s *SiteTx) JourneysHalves(journeys []Journey) ([]Half, error) {
	var out []Half
	if s.db.postgres {
		// Joined as arrays, each journey is one scan of the journey index; an OR of hundreds
		// of ranges is planned as one bitmap over all of them and costs far more.
		learners, courses := make([]int64, len(journeys)), make([]int64, len(journeys))
		froms, tos := make([]time.Time, len(journeys)), make([]time.Time, len(journeys))
		for i, j := range journeys {
			learners[i], courses[i], froms[i], tos[i] = j.LearnerID, j.CourseID, j.From.UTC(), j.To.UTC()
		}
		err := s.tx.Raw(`SELECT e.* FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[]) AS j(learner, course, lo, hi)
			JOIN learner_events e ON e.site_id = $5 AND e.learner_id = j.learner AND e.course_id = j.course
				AND e.occurred_at >= j.lo AND e.occurred_at <= j.hi
			ORDER BY e.occurred_at, e.id`, learners, courses, froms, tos, s.siteID).Scan(&out).Error
		return out, err
	}
	tuples := make([]string, len(journeys))
	args := []any{s.siteID}
	for i, j := range journeys {
		tuples[i] = "(learner_id = ? AND course_id = ? AND occurred_at >= ? AND occurred_at <= ?)"
		args = append(args, j.LearnerID, j.CourseID, j.From.UTC(), j.To.UTC())
	}
	err := s.tx.Where("site_id = ? AND ("+strings.Join(tuples, " OR ")+")", args...).Order("occurred_at, id").Find(&out).Error
	return out, err
}

// NeighbourProgress finds the learner's progress half just before (or after) at in a
// course, other than the half except: the percentage a step moved from, or the step whose
// "from" changes when a late event lands before it.
func (s *SiteTx) NeighbourProgress(learnerID, courseID int64, at time.Time, except int64, after bool) (*Half, error) {
	if s.w != nil && len(s.w.pending) > 0 {
		if _, err := s.w.FlushHalves(); err != nil {
			return nil, err
		}
	}
	op, order := "<", "occurred_at DESC, id DESC"
	if after {
		op, order = ">", "occurred_at, id"
	}
	var out []Half
	err := s.tx.Where("site_id = ? AND learner_id = ? AND course_id = ? AND kind = ? AND id <> ? AND occurred_at "+op+" ?",
		s.siteID, learnerID, courseID, HalfProgress, except, at.UTC()).Order(order).Limit(1).Find(&out).Error
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return &out[0], nil
}

// SetPercentBefore records the percentage a progress half moved from.
func (s *SiteTx) SetPercentBefore(id int64, v *float64) error {
	return s.tx.Model(&Half{}).Where("site_id = ? AND id = ?", s.siteID, id).Update("percent_before", v).Error
}

// SetPartners links halves to their other halves (a nil partner unlinks), in one statement.
// On PostgreSQL the links are joined as a list of values: a CASE over hundreds of ids costs
// that many comparisons for every row.
func (s *SiteTx) SetPartners(partners map[int64]*int64) error {
	if len(partners) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(partners))
	var sb strings.Builder
	var args []any
	if s.db.postgres {
		sb.WriteString("UPDATE learner_events AS e SET partner_id = v.partner FROM (VALUES ")
		for i, id := range ids {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
			args = append(args, id, partners[id])
		}
		sb.WriteString(") AS v(id, partner) WHERE e.site_id = ? AND e.id = v.id")
		return s.tx.Exec(sb.String(), append(args, s.siteID)...).Error
	}
	sb.WriteString("UPDATE learner_events SET partner_id = CASE id")
	for _, id := range ids {
		sb.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
		args = append(args, id, partners[id])
	}
	sb.WriteString(" END WHERE site_id = ? AND id IN ?")
	return s.tx.Exec(sb.String(), append(args, s.siteID, ids)...).Error
}

// EnrolledBefore reports whether the learner's enrollment in the course began by at.
func (s *SiteTx) EnrolledBefore(learnerID, courseID int64, at time.Time) (bool, error) {
	if err := s.w.writeEnrollments(); err != nil { // the batch's enrollments so far count
		return false, err
	}
	var n int64
	err := s.tx.Table("enrollments").Where("site_id = ? AND learner_id = ? AND course_id = ? AND enrolled_at <= ?",
		s.siteID, learnerID, courseID, at.UTC()).Count(&n).Error
	return n > 0, err
}

// HasLessonNear reports whether a lesson completion of the learner in the course is stored
// within window of at (for the opt-in mode that makes Thinkific retry a progress event until
// its lesson is in).
func (db *DB) HasLessonNear(ctx context.Context, siteID, learnerID, courseID int64, at time.Time, window time.Duration) (bool, error) {
	var n int64
	err := db.reader(ctx).Model(&Half{}).Where("site_id = ? AND learner_id = ? AND course_id = ? AND kind = ? AND occurred_at >= ? AND occurred_at <= ?",
		siteID, learnerID, courseID, HalfLesson, at.Add(-window).UTC(), at.Add(window).UTC()).Limit(1).Count(&n).Error
	return n > 0, dbError(err, "learner events")
}

// FlushHalves inserts the halves gathered so far in one statement and returns every half
// the batch inserted that way. A half whose event was applied before is left out.
func (w *WorkTx) FlushHalves() ([]*Half, error) {
	if len(w.pending) == 0 {
		return w.inserted, nil
	}
	pending := w.pending
	w.pending = nil
	var sb strings.Builder
	var args []any
	byKey := make(map[rowKey]*Half, len(pending))
	for _, h := range pending {
		byKey[rowKey{h.SiteID, h.EventID}] = h
	}
	if w.db.postgres {
		// As arrays, the statement is the same whatever the batch's size: PostgreSQL plans
		// it once, where a list of values would be parsed and planned anew, 12 per row.
		cols := halfColumns{}
		for _, h := range pending {
			cols.add(h)
		}
		sb.WriteString(`INSERT INTO learner_events (site_id, event_id, kind, learner_id, course_id, enrollment_id, occurred_at,
			chapter_id, lesson_id, percent_before, percent_after, before_given)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[],
				$8::bigint[], $9::bigint[], $10::float8[], $11::float8[], $12::bool[])`)
		args = cols.args()
	} else {
		sb.WriteString(`INSERT INTO learner_events (site_id, event_id, kind, learner_id, course_id, enrollment_id, occurred_at,
			chapter_id, lesson_id, percent_before, percent_after, before_given) VALUES `)
		for i, h := range pending {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, h.SiteID, h.EventID, h.Kind, h.LearnerID, h.CourseID, h.EnrollmentID, h.OccurredAt,
				h.ChapterID, h.LessonID, h.PercentBefore, h.PercentAfter, h.BeforeGiven)
		}
	}
	// Ids come back by (site, event), not by position: a replayed event is skipped.
	sb.WriteString(" ON CONFLICT (site_id, event_id) DO NOTHING RETURNING id, site_id, event_id")
	rows, err := w.tx.Raw(sb.String(), args...).Rows()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, site int64
		var event string
		if err := rows.Scan(&id, &site, &event); err != nil {
			rows.Close()
			return nil, err
		}
		if h := byKey[rowKey{site, event}]; h != nil {
			h.ID = id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, h := range pending {
		if h.ID == 0 {
			continue // a replay: not inserted again
		}
		w.inserted = append(w.inserted, h)
		if h.Kind == HalfLesson && h.LessonID != nil {
			w.Site(h.SiteID).countCompletion(h)
		}
	}
	return w.inserted, nil
}

// halfColumns are halves as one array per column, for an insert from unnest.
type halfColumns struct {
	sites, learners, courses       []int64
	events, kinds                  []string
	enrollments, chapters, lessons []*int64
	at                             []time.Time
	before, after                  []*float64
	given                          []bool
}

func (c *halfColumns) add(h *Half) {
	c.sites, c.events, c.kinds = append(c.sites, h.SiteID), append(c.events, h.EventID), append(c.kinds, h.Kind)
	c.learners, c.courses, c.enrollments = append(c.learners, h.LearnerID), append(c.courses, h.CourseID), append(c.enrollments, h.EnrollmentID)
	c.at, c.chapters, c.lessons = append(c.at, h.OccurredAt), append(c.chapters, h.ChapterID), append(c.lessons, h.LessonID)
	c.before, c.after, c.given = append(c.before, h.PercentBefore), append(c.after, h.PercentAfter), append(c.given, h.BeforeGiven)
}

func (c *halfColumns) args() []any {
	return []any{c.sites, c.events, c.kinds, c.learners, c.courses, c.enrollments, c.at, c.chapters, c.lessons, c.before, c.after, c.given}
}
