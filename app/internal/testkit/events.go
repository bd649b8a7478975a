package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PublishedGID is the tenant_global_id of the published lesson.completed example.
const PublishedGID = "feb8d00d-8040-4382-afee-491a6c8013af"

// Published is one of the example deliveries Thinkific publishes (enrollment.created.json,
// enrollment.progress.json, lesson.completed.json). Their one copy is app/events/testdata,
// beside the parser they document.
func Published(t *testing.T, name string) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testkit: no go.mod above the test's directory")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "app", "events", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// JSON is v marshalled; test values always marshal.
func JSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Event is a delivery body as Thinkific sends it: the envelope around payload.
func Event(id, resource, action, gid string, at time.Time, payload any) []byte {
	return JSON(map[string]any{"id": id, "resource": resource, "action": action, "tenant_id": "1001",
		"tenant_global_id": gid, "created_at": at.UTC().Format("2006-01-02T15:04:05.000Z"), "payload": payload})
}

// LessonEvent is learner 7 completing lesson 700 of course 70.
func LessonEvent(id, gid string, at time.Time) []byte {
	return LessonEventFor(id, gid, at, 7, 70, 700)
}

// LessonEventFor is a lesson.completed in chapter 1; the enrollment id is learner*100+course.
func LessonEventFor(id, gid string, at time.Time, learner, course, lesson int64) []byte {
	return Event(id, "lesson", "completed", gid, at, map[string]any{
		"chapter": map[string]any{"id": 1, "name": "One"}, "course": map[string]any{"id": course, "name": "Course"},
		"enrollment": map[string]any{"id": learner*100 + course},
		"lesson":     map[string]any{"id": lesson, "name": fmt.Sprint("Lesson ", lesson), "position": 0, "type": "Text"},
		"user":       map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner), "first_name": "A", "last_name": "B"}})
}

// ProgressEvent is an enrollment.progress to percent (as Thinkific spells it, "40.0").
func ProgressEvent(id, gid string, at time.Time, learner, course int64, percent string) []byte {
	return Event(id, "enrollment", "progress", gid, at, map[string]any{
		"id": learner*100 + course, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course,
		"user": map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner)}, "percentage_completed": percent})
}

// EnrollEvent is an enrollment.created at 0 %.
func EnrollEvent(id, gid string, at time.Time, learner, course int64, email string) []byte {
	return Event(id, "enrollment", "created", gid, at, map[string]any{
		"id": learner*100 + course, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course,
		"user": map[string]any{"id": learner, "email": email}, "percentage_completed": "0.0"})
}

// CompletedEvent is an enrollment.completed at 100 %.
func CompletedEvent(id, gid string, at time.Time, learner, course int64) []byte {
	return Event(id, "enrollment", "completed", gid, at, map[string]any{
		"id": learner*100 + course, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course,
		"user": map[string]any{"id": learner, "email": "learner7@example.com"}, "percentage_completed": "100.0",
		"completed_at": at.UTC().Format(time.RFC3339)})
}

// UninstallEvent is an app.uninstalled for the site gid.
func UninstallEvent(id, gid string, at time.Time) []byte {
	return Event(id, "app", "uninstalled", gid, at, map[string]any{})
}
