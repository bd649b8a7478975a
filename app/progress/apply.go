package progress

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// job is one inbox row, decoded.
type job struct {
	row        store.InboxRow
	ev         *events.Envelope
	enrollment *events.Enrollment
	lesson     *events.LessonCompleted
	course     *events.CourseChanged
	locks      []int64 // lock keys of every record the event touches
	err        error
	added      []*store.Half // halves this event stored, re-paired at the batch's end
	enrolled   *time.Time    // when the enrollment began, for settleFirstStep at the batch's end

}

func decode(row store.InboxRow) *job {
	j := &job{row: row}
	j.ev, j.err = events.ParseEnvelope(row.Body)
	if j.err != nil {
		return j
	}
	if !events.KnownTopic(j.ev.Topic()) {
		j.err = fmt.Errorf("%w: unknown topic %q", events.ErrMalformed, j.ev.Topic())
		return j
	}
	switch j.ev.Topic() {
	case stride.TopicEnrollmentCreated, stride.TopicEnrollmentProgress, stride.TopicEnrollmentCompleted, stride.TopicEnrollmentTrial:
		j.enrollment, j.err = events.ParseEnrollment(j.ev.Payload)
		if j.err == nil {
			e := j.enrollment
			j.locks = lockKeys(row.SiteID, "enrollment", int64(e.ID), "journey", journey(int64(e.User.ID), int64(e.CourseID)))
		}
	case stride.TopicCourseCreated, stride.TopicCourseUpdated, stride.TopicCourseDeleted:
		j.course, j.err = events.ParseCourseChanged(j.ev.Payload)
	case stride.TopicLessonCompleted:
		j.lesson, j.err = events.ParseLessonCompleted(j.ev.Payload)
		if j.err == nil {
			l := j.lesson
			j.locks = lockKeys(row.SiteID, "enrollment", int64(l.Enrollment.ID), "journey", journey(int64(l.User.ID), int64(l.Course.ID)))
		}
	}
	return j
}

// lockKeys names, as numbers, the records an event changes in place: (kind, id) pairs of one
// site — its enrollment and the learner's journey in the course. Workers take these locks in
// sorted order before touching any row, so two workers never change one enrollment at once
// nor wait on each other in a cycle, and the two halves of a learner step are never paired
// by two workers at once. Records many events share (learners, courses, counters) are
// written with the batch, in key order, instead.
func lockKeys(site int64, kindIDs ...any) []int64 {
	var keys []int64
	for i := 0; i < len(kindIDs); i += 2 {
		id := kindIDs[i+1].(int64)
		if id == 0 {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(strconv.FormatInt(site, 10) + ":" + kindIDs[i].(string) + ":" + strconv.FormatInt(id, 10)))
		keys = append(keys, int64(h.Sum64()))
	}
	return keys
}

// journey is a learner's path through one course, as one id for lockKeys.
func journey(learner, course int64) int64 { return learner<<24 ^ course }

func sortedUnique(keys []int64) []int64 {
	slices.Sort(keys)
	return slices.Compact(keys)
}

// apply writes what one event says into its site's records.
func (w *Worker) apply(s *store.SiteTx, j *job) error {
	ev := j.ev
	at := ev.CreatedAt
	if ev.TenantID != "" && ev.TenantGlobalID != "" {
		// The receiver checked the global id against the site; the pair teaches the tenant id.
		s.LearnTenant(ev.TenantID)
	}
	switch {
	case j.enrollment != nil:
		return w.applyEnrollment(s, j, ev, j.enrollment)
	case j.lesson != nil:
		return w.applyLesson(s, j, ev, j.lesson)
	case j.course != nil:
		// The structure is read again from the REST API, outside this transaction.
		return s.CourseChanged(int64(j.course.ID), ev.Topic() == stride.TopicCourseDeleted)
	case ev.Topic() == stride.TopicAppUninstalled:
		return s.Uninstall(at, j.row.ReceivedAt, w.cfg.Grace)
	}
	return nil // a topic Stride does not use
}

func (w *Worker) applyEnrollment(s *store.SiteTx, j *job, ev *events.Envelope, e *events.Enrollment) error {
	at := ev.CreatedAt
	learner, course := int64(e.User.ID), int64(e.CourseID)
	s.UpsertLearner(learnerOf(e.User), at)
	s.UpsertCourse(course, string(e.Course.Name), at)
	u := store.Enrollment{ID: int64(e.ID), LearnerID: learner, CourseID: course,
		StartedAt: e.StartedAt.Ptr(), ActivatedAt: e.ActivatedAt.Ptr(), CompletedAt: e.CompletedAt.Ptr(),
		ExpiryDate: e.ExpiryDate.Ptr(), FreeTrial: bool(e.FreeTrial)}
	if e.Percentage.Odd {
		w.log.Info("percentage looks like a 0–1 fraction; read on the webhook's 0–100 scale", "site", s.SiteID(), "event", ev.ID, "percent", e.Percentage.Value)
	}
	if e.Percentage.Set {
		p := e.Percentage.Value
		u.Percent = &p
	}
	switch ev.Action {
	case "created":
		u.EnrolledAt = e.CreatedAt.Ptr()
		if u.EnrolledAt == nil {
			u.EnrolledAt = &at
		}
	case "progress":
		u.Activity = true
	case "completed":
		u.Activity = true
	}
	settleCompletion(&u, ev.Action == "completed", at)
	// What the batch knows of the learner's journey in the course before this event.
	journey := s.Journey(learner, course)
	before, err := s.ApplyEnrollment(u, at)
	if err != nil {
		return err
	}
	if ev.Action == "created" {
		if journey == nil || journey.Progress {
			j.enrolled = u.EnrolledAt // a progress step may be stored already, without its "from"
		}
		return nil
	}
	if ev.Action != "progress" || !e.Percentage.Set {
		return nil
	}
	enrollment := int64(e.ID)
	h := &store.Half{EventID: ev.ID, Kind: store.HalfProgress, LearnerID: learner, CourseID: course,
		EnrollmentID: &enrollment, OccurredAt: at, PercentAfter: u.Percent}
	if prev := e.Previous(); prev.Set {
		v := prev.Value
		h.PercentBefore, h.BeforeGiven = &v, true
	}
	// In order (the usual case) the enrollment's percentage is where this step moved from,
	// and no later progress exists: no need to look for neighbours.
	inOrder := before != nil && before.PercentAt != nil && before.PercentAt.Before(at)
	if inOrder && before.FromImport() && *before.ImportedPercent == *u.Percent {
		// The import read the enrollment after this step happened (REST's updated_at comes
		// a moment before the event's time): the step did not move from that reading.
		inOrder = false
	}
	if inOrder && !h.BeforeGiven {
		h.PercentBefore = &before.Percent
	}
	var snap *snapshot
	if before != nil && before.ImportedAsOf != nil && before.ImportedPercent != nil {
		snap = &snapshot{percent: *before.ImportedPercent, asOf: *before.ImportedAsOf}
	}
	// The learner's first progress in the course (no enrollment of theirs in it has held a
	// percentage): no step is stored before or after it, and it moved from 0 if the
	// enrollment had begun.
	first := !inOrder && journey != nil && !journey.Progress
	if first && !h.BeforeGiven && journey.Enrolled != nil && !journey.Enrolled.After(at) {
		zero := 0.0
		h.PercentBefore = &zero
	}
	return w.addHalf(s, j, h, inOrder || first, snap)
}

func (w *Worker) applyLesson(s *store.SiteTx, j *job, ev *events.Envelope, l *events.LessonCompleted) error {
	at := ev.CreatedAt
	learner, course := int64(l.User.ID), int64(l.Course.ID)
	s.UpsertLearner(learnerOf(l.User), at)
	s.UpsertCourse(course, string(l.Course.Name), at)
	h := &store.Half{EventID: ev.ID, Kind: store.HalfLesson, LearnerID: learner, CourseID: course, OccurredAt: at}
	lesson := store.Lesson{ID: int64(l.Lesson.ID), CourseID: course, Name: string(l.Lesson.Name), Type: string(l.Lesson.Type), Position: int(l.Lesson.Position)}
	if l.Chapter.ID != 0 {
		chapter := int64(l.Chapter.ID)
		lesson.ChapterID, h.ChapterID = chapter, &chapter
		s.UpsertChapter(chapter, course, string(l.Chapter.Name), at)
	}
	s.UpsertLesson(lesson, at)
	h.LessonID = &lesson.ID
	if l.Enrollment.ID != 0 {
		enrollment := int64(l.Enrollment.ID)
		h.EnrollmentID = &enrollment
		if _, err := s.ApplyEnrollment(store.Enrollment{ID: enrollment, LearnerID: learner, CourseID: course, Activity: true}, at); err != nil {
			return err
		}
	}
	return w.addHalf(s, j, h, false, nil)
}

// settleCompletion makes an enrollment's percentage and completion agree. Completed means
// the whole course: a completion that names no percentage is at 100, and a completed_at
// beside a lower percentage (as in Thinkific's test deliveries) is not a completion; a
// completion at 100 without a date happened at the event's time.
func settleCompletion(u *store.Enrollment, completed bool, at time.Time) {
	if u.Percent == nil && completed {
		full := 100.0
		u.Percent = &full
	}
	switch {
	case u.Percent == nil || *u.Percent < 100:
		u.CompletedAt = nil
	case u.CompletedAt == nil:
		u.CompletedAt = &at
	}
}

func learnerOf(u events.User) store.Learner {
	return store.Learner{ID: int64(u.ID), Email: string(u.Email), FirstName: string(u.FirstName), LastName: string(u.LastName)}
}
