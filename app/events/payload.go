package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// Time is a Thinkific time that may be null or empty.
type Time struct{ time.Time }

func (t *Time) UnmarshalJSON(b []byte) error {
	s := scalar(b)
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	t.Time = v
	return err
}

// Ptr is the time, or nil when absent.
func (t Time) Ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// Percent is a completion percentage on a 0–100 scale. Webhooks send a string on a 0–100
// scale ("24.0"); the REST API sends a number from 0 to 1 (PLATFORM §6). So: a string is a
// percentage, a number up to 1 is a fraction, a larger number is a percentage.
type Percent struct {
	Value float64
	Set   bool
}

func (p *Percent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*p = Percent{}
		return nil
	}
	var v float64
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSuffix(strings.TrimSpace(s), "%")
		if s == "" {
			*p = Percent{}
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("percentage %q is not a number", s)
		}
		v = f
	} else {
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("percentage %s is not a number", b)
		}
		if v <= 1 {
			v *= 100
		}
	}
	if math.IsNaN(v) || v < 0 || v > 100.0001 {
		return fmt.Errorf("percentage %v is outside 0–100", v)
	}
	*p = Percent{Value: math.Min(math.Round(v*100)/100, 100), Set: true}
	return nil
}

// User is the learner an event is about.
type User struct {
	ID        ID     `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// Named is a course or chapter reference.
type Named struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
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
	FreeTrial   bool    `json:"free_trial"`
	CreatedAt   Time    `json:"created_at"`
	UpdatedAt   Time    `json:"updated_at"`
	// Seed 003 says progress events carry the previous percentage; the field name is not
	// published, so these are guesses, used only when present.
	PreviousPercentage  Percent `json:"previous_percentage_completed"`
	PercentageWas       Percent `json:"percentage_completed_was"`
	PreviousPercentage2 Percent `json:"previous_percentage"`
}

// Previous is the percentage before this event, when the event says.
func (e *Enrollment) Previous() Percent {
	for _, p := range []Percent{e.PreviousPercentage, e.PercentageWas, e.PreviousPercentage2} {
		if p.Set {
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
		ID       ID     `json:"id"`
		Name     string `json:"name"`
		Position int    `json:"position"`
		Type     string `json:"type"`
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
