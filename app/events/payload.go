package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ID is a Thinkific numeric id, sent as a number or a string.
type ID int64

func (id *ID) UnmarshalJSON(b []byte) error {
	s := scalar(b)
	if s == "" {
		*id = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("id %q is not a number", s)
	}
	*id = ID(n)
	return nil
}

// User is the learner an event is about.
type User struct {
	ID        ID   `json:"id"`
	Email     Text `json:"email"`
	FirstName Text `json:"first_name"`
	LastName  Text `json:"last_name"`
}

// Named is a course or chapter reference.
type Named struct {
	ID   ID   `json:"id"`
	Name Text `json:"name"`
}

// Enrollment is the payload of enrollment.created, .progress and .completed.
type Enrollment struct {
	ID          ID      `json:"id"`
	CourseID    ID      `json:"course_id"`
	Course      Named   `json:"course"`
	User        User    `json:"user"`
	Percentage  Percent `json:"percentage_completed"`
	StartedAt   Time    `json:"started_at"`
	ActivatedAt Time    `json:"activated_at"`
	CompletedAt Time    `json:"completed_at"`
	ExpiryDate  Time    `json:"expiry_date"`
	FreeTrial   Flag    `json:"free_trial"`
	CreatedAt   Time    `json:"created_at"`
	UpdatedAt   Time    `json:"updated_at"`
	// Progress events are said to carry the previous percentage; the field name is not
	// published, so these are guesses, used only when present and readable.
	PreviousPercentage  json.RawMessage `json:"previous_percentage_completed"`
	PercentageWas       json.RawMessage `json:"percentage_completed_was"`
	PreviousPercentage2 json.RawMessage `json:"previous_percentage"`
}

// Previous is the percentage before this event, when the event says.
func (e *Enrollment) Previous() Percent {
	for _, raw := range []json.RawMessage{e.PreviousPercentage, e.PercentageWas, e.PreviousPercentage2} {
		var p Percent
		if len(raw) > 0 && json.Unmarshal(raw, &p) == nil && p.Set {
			return p
		}
	}
	return Percent{}
}

// LessonCompleted is the payload of lesson.completed.
type LessonCompleted struct {
	Chapter    Named `json:"chapter"`
	Course     Named `json:"course"`
	Enrollment struct {
		ID ID `json:"id"`
	} `json:"enrollment"`
	Lesson struct {
		ID       ID       `json:"id"`
		Name     Text     `json:"name"`
		Position Position `json:"position"`
		Type     Text     `json:"type"`
	} `json:"lesson"`
	User User `json:"user"`
}

// ErrPayload marks a payload that cannot be applied however often it is retried.
var ErrPayload = errors.New("unusable payload")

// ParseEnrollment reads an enrollment payload; it needs the enrollment, course and user.
func ParseEnrollment(payload json.RawMessage) (*Enrollment, error) {
	var e Enrollment
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if e.CourseID == 0 {
		e.CourseID = e.Course.ID
	}
	if e.Course.ID == 0 {
		e.Course.ID = e.CourseID
	}
	if e.ID == 0 || e.CourseID == 0 || e.User.ID == 0 {
		return nil, fmt.Errorf("%w: enrollment needs id, course and user ids", ErrPayload)
	}
	return &e, nil
}

// ParseLessonCompleted reads a lesson.completed payload; it needs the lesson, course and user.
func ParseLessonCompleted(payload json.RawMessage) (*LessonCompleted, error) {
	var l LessonCompleted
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if l.Lesson.ID == 0 || l.Course.ID == 0 || l.User.ID == 0 {
		return nil, fmt.Errorf("%w: lesson.completed needs lesson, course and user ids", ErrPayload)
	}
	return &l, nil
}

// CourseChanged is what Stride reads of a course.created, course.updated or course.deleted
// payload. The payload is not published; the course id is taken from payload.id, as in
// the REST API's course object.
type CourseChanged struct {
	ID ID `json:"id"`
}

// ParseCourseChanged reads a course.* payload; it needs the course id.
func ParseCourseChanged(payload json.RawMessage) (*CourseChanged, error) {
	var c CourseChanged
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if c.ID == 0 {
		return nil, fmt.Errorf("%w: a course event needs the course id", ErrPayload)
	}
	return &c, nil
}
