package simulate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// event is one body ready to sign and post.
type event struct {
	Topic string
	ID    string
	At    time.Time
	Body  []byte
}

type person struct {
	ID                     int64
	Email, First, Last     string
	EnrollmentID, CourseID int64
	Course, Chapter        string
	ChapterID              int64
}

// fixture builds events shaped like the published examples (shared/thinkific/events) for
// one learner in one course. With a seed, ids and names repeat from run to run, so a
// second run is a storm of duplicates by design.
type fixture struct {
	rng           *rand.Rand
	now           func() time.Time
	seeded        bool
	tenantID, gid string
	lastID        time.Time
	learner       person
	enrolledAt    time.Time
	startedAt     time.Time
	lessonIDBase  int64
	nextGenericID int64
}

var (
	firstNames  = []string{"Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"}
	lastNames   = []string{"Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman"}
	courseNames = []string{"Introduction to Webhooks", "Watercolour Basics", "Sourdough at Home", "Negotiation 101", "Python for Analysts"}
	lessonTypes = []string{"Video", "Text", "Multimedia", "Pdf", "Quiz"}
)

func newFixture(seed uint64, seeded bool, now func() time.Time, tenantID, gid string, learnerID, courseID int64) *fixture {
	if !seeded {
		seed = rand.Uint64()
	}
	f := &fixture{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), now: now, seeded: seeded, tenantID: tenantID, gid: gid}
	if seeded {
		// Thinkific ids are time stamps; a seeded run draws its own clock so they repeat.
		f.lastID = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(f.rng.Int64N(365*24*3600)) * time.Second)
	}
	first, last := firstNames[f.rng.IntN(len(firstNames))], lastNames[f.rng.IntN(len(lastNames))]
	p := person{ID: 100000 + f.rng.Int64N(900000), First: first, Last: last,
		CourseID: 1000 + f.rng.Int64N(9000), Course: courseNames[f.rng.IntN(len(courseNames))],
		ChapterID: 10000 + f.rng.Int64N(90000), Chapter: "Chapter 1", EnrollmentID: 1000000 + f.rng.Int64N(9000000)}
	if learnerID > 0 {
		p.ID = learnerID
	}
	if courseID > 0 {
		p.CourseID = courseID
	}
	p.Email = fmt.Sprintf("%s.%s+%d@example.com", strings.ToLower(first), strings.ToLower(last), p.ID)
	f.learner = p
	f.lessonIDBase = 100000 + f.rng.Int64N(900000)
	f.nextGenericID = 1 + f.rng.Int64N(1000000)
	f.enrolledAt = now().UTC()
	f.startedAt = f.enrolledAt
	return f
}

// newID returns a 23-digit id (a UTC time to the nanosecond), strictly increasing.
func (f *fixture) newID() string {
	t := f.lastID.Add(time.Duration(1+f.rng.IntN(1000)) * time.Microsecond)
	if !f.seeded {
		if n := f.now().UTC(); n.After(f.lastID) {
			t = n
		} else {
			t = f.lastID.Add(time.Nanosecond)
		}
	}
	f.lastID = t
	return t.Format("20060102150405") + fmt.Sprintf("%09d", t.Nanosecond())
}

// build wraps payload in a new envelope for topic, created at at.
func (f *fixture) build(topic string, at time.Time, payload any) (event, error) {
	id := f.newID()
	body, err := thinkificdouble.NewEvent(id, topic, f.tenantID, f.gid, at, payload)
	if err != nil {
		return event{}, fmt.Errorf("simulate: %w", err)
	}
	return event{Topic: topic, ID: id, At: at, Body: body}, nil
}

// sample builds one event of any topic, for mode one: the published shapes where
// Thinkific publishes them, a plausible record of the resource otherwise.
func (f *fixture) sample(topic string) (event, error) {
	at := f.now().UTC()
	switch topic {
	case stride.TopicLessonCompleted:
		return f.build(topic, at, f.lesson(0))
	case stride.TopicEnrollmentCreated:
		return f.build(topic, at, f.enrollment(at, 0))
	case stride.TopicEnrollmentProgress:
		f.startedAt = at.Add(-time.Hour)
		return f.build(topic, at, f.enrollment(at, 40))
	case stride.TopicEnrollmentCompleted:
		f.startedAt = at.Add(-time.Hour)
		return f.build(topic, at, f.enrollment(at, 100))
	case stride.TopicEnrollmentTrial:
		p := f.enrollment(at, 0)
		p["free_trial"] = true
		return f.build(topic, at, p)
	case stride.TopicAppUninstalled:
		return f.build(topic, at, map[string]any{}) // unpublished: Stride relies on the envelope only
	}
	return f.build(topic, at, f.generic(topic, at))
}

func (f *fixture) user() map[string]any {
	p := f.learner
	return map[string]any{"id": p.ID, "email": p.Email, "first_name": p.First, "last_name": p.Last}
}

// enrollment is the payload of enrollment.* events; percentage_completed is a string on a
// 0–100 scale, as webhooks send it.
func (f *fixture) enrollment(at time.Time, percent float64) map[string]any {
	p := f.learner
	var started, completed any
	if percent > 0 {
		started = thinkificdouble.Stamp(f.startedAt)
	}
	if percent >= 100 {
		completed = thinkificdouble.Stamp(at)
	}
	return map[string]any{"id": p.EnrollmentID, "course": map[string]any{"id": p.CourseID, "name": p.Course},
		"course_id": p.CourseID, "user": f.user(), "percentage_completed": fmt.Sprintf("%.1f", percent),
		"activated_at": thinkificdouble.Stamp(f.enrolledAt), "started_at": started, "completed_at": completed, "expiry_date": nil,
		"free_trial": false, "created_at": thinkificdouble.Stamp(f.enrolledAt), "updated_at": thinkificdouble.Stamp(at)}
}

// lesson is the payload of lesson.completed for the lesson at position i.
func (f *fixture) lesson(i int) map[string]any {
	p := f.learner
	return map[string]any{"chapter": map[string]any{"id": p.ChapterID, "name": p.Chapter},
		"course": map[string]any{"id": p.CourseID, "name": p.Course}, "enrollment": map[string]any{"id": p.EnrollmentID},
		"lesson": map[string]any{"id": f.lessonIDBase + int64(i), "name": fmt.Sprintf("Lesson %d", i+1),
			"position": i, "type": lessonTypes[i%len(lessonTypes)]},
		"user": f.user()}
}

// generic is a record of the topic's resource; Stride stores but does not read these.
func (f *fixture) generic(topic string, at time.Time) map[string]any {
	p := f.learner
	f.nextGenericID++
	id := f.nextGenericID
	resource, _, _ := strings.Cut(topic, ".")
	switch resource {
	case "course":
		return map[string]any{"id": p.CourseID, "name": p.Course, "slug": slug(p.Course), "created_at": thinkificdouble.Stamp(f.enrolledAt), "updated_at": thinkificdouble.Stamp(at)}
	case "user":
		u := f.user()
		u["created_at"], u["updated_at"] = thinkificdouble.Stamp(f.enrolledAt), thinkificdouble.Stamp(at)
		return u
	case "lead":
		return map[string]any{"id": id, "email": p.Email, "first_name": p.First, "last_name": p.Last, "created_at": thinkificdouble.Stamp(at)}
	case "quiz":
		return map[string]any{"quiz": map[string]any{"id": id, "name": "Check your understanding"},
			"course": map[string]any{"id": p.CourseID, "name": p.Course}, "lesson": map[string]any{"id": f.lessonIDBase},
			"user": f.user(), "result": map[string]any{"grade": 80.0, "correct_count": 4, "incorrect_count": 1}, "attempts": 1}
	case "order", "order_transaction", "subscription":
		return map[string]any{"id": id, "user": f.user(), "product_id": p.CourseID, "product_name": p.Course,
			"amount_cents": 4900, "amount_dollars": "49.0", "currency": "USD", "status": "complete", "created_at": thinkificdouble.Stamp(at)}
	case "product", "plan":
		return map[string]any{"id": id, "name": p.Course, "productable_id": p.CourseID, "productable_type": "Course",
			"created_at": thinkificdouble.Stamp(f.enrolledAt), "updated_at": thinkificdouble.Stamp(at)}
	}
	return map[string]any{"id": id, "created_at": thinkificdouble.Stamp(at)}
}

func slug(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) }
