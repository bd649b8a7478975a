package thinkificdouble

import (
	"context"
	"fmt"
	"strconv"
)

// DeliverCourse sends course.<action> (created, updated or deleted) about a course of the
// catalog, or one DeleteCourse removed, to the site's webhooks for that topic. The payload
// is not published: the double sends the course as REST shows it, whose id is all the app
// reads. Catalog changes send nothing by themselves; Thinkific documents course.updated
// only for a change of name or settings.
func (s *Site) DeliverCourse(ctx context.Context, action string, courseID int64) ([]Delivery, error) {
	s.d.mu.Lock()
	c, ok := find(s.cat.courses, courseID)
	if !ok {
		if gone, removed := s.cat.removed[courseID]; removed {
			c, ok = &gone, true
		}
	}
	var payload restCourse
	if ok {
		payload = s.restCourseOf(c)
	}
	s.d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("thinkificdouble: no course %d on %s", courseID, s.subdomain)
	}
	return s.Deliver(ctx, "course."+action, payload)
}

// EnrollmentPayload is an enrollment as enrollment.created, .progress and .completed carry
// it, shaped like the published example: percentage_completed a string on the 0–100 scale.
// The map is the test's to change before Deliver. It panics on an unknown enrollment.
func (s *Site) EnrollmentPayload(enrollmentID int64) map[string]any {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	e, u, c := s.enrollment(enrollmentID)
	return map[string]any{
		"id": e.ID, "course_id": c.ID, "course": map[string]any{"id": c.ID, "name": c.Name},
		"user":                 webhookUser(u),
		"percentage_completed": strconv.FormatFloat(e.Percentage*100, 'f', 1, 64),
		"activated_at":         stampOrNil(e.ActivatedAt), "started_at": stampOrNil(e.StartedAt),
		"completed_at": stampOrNil(e.CompletedAt), "expiry_date": stampOrNil(e.ExpiryDate),
		"free_trial": e.FreeTrial, "created_at": Stamp(e.CreatedAt), "updated_at": Stamp(e.UpdatedAt),
	}
}

// LessonCompletedPayload is lesson.completed's payload for a content of the enrollment's
// course, shaped like the published example; lesson.id is the content's REST id. The map
// is the test's to change before Deliver. It panics on an unknown enrollment, or a content
// not in its course.
func (s *Site) LessonCompletedPayload(enrollmentID, contentID int64) map[string]any {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	e, u, c := s.enrollment(enrollmentID)
	ct, ok := find(s.cat.contents, contentID)
	var ch *Chapter
	if ok {
		ch, ok = find(s.cat.chapters, ct.ChapterID)
	}
	if !ok || ch.CourseID != c.ID {
		panic(fmt.Sprintf("thinkificdouble: no content %d in course %d on %s", contentID, c.ID, s.subdomain))
	}
	return map[string]any{
		"chapter":    map[string]any{"id": ch.ID, "name": ch.Name},
		"course":     map[string]any{"id": c.ID, "name": c.Name},
		"enrollment": map[string]any{"id": e.ID},
		"lesson":     map[string]any{"id": ct.ID, "name": ct.Name, "position": ct.Position, "type": ct.LessonType},
		"user":       webhookUser(u),
	}
}

// enrollment finds an enrollment with its user and course, or panics. Callers hold d.mu.
func (s *Site) enrollment(id int64) (*Enrollment, *User, *Course) {
	e, ok := find(s.cat.enrollments, id)
	if !ok {
		panic(fmt.Sprintf("thinkificdouble: no enrollment %d on %s", id, s.subdomain))
	}
	u, _ := find(s.cat.users, e.UserID)
	c, _ := find(s.cat.courses, e.CourseID)
	return e, u, c
}

func webhookUser(u *User) map[string]any {
	return map[string]any{"id": u.ID, "email": u.Email, "first_name": u.FirstName, "last_name": u.LastName}
}
