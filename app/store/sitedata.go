package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SiteTx is the worker's view of one site's records inside a transaction. Every statement
// it runs is scoped to its site: no caller can forget.
type SiteTx struct {
	db     *DB
	tx     *gorm.DB
	siteID int64
	buf    *buffer // writes to shared records, sent with the batch
	w      *WorkTx
}

// SiteID is the site this view is bound to.
func (s *SiteTx) SiteID() int64 { return s.siteID }

// Learner, Course, Chapter and Lesson are a site's records as events describe them.
type Learner struct {
	ID                         int64
	Email, FirstName, LastName string
}

type Lesson struct {
	ID, CourseID, ChapterID int64
	Name, Type              string
	Position                int
}

// The records below are written with the batch (see WorkTx), each only by an event at
// least as new as what it holds, so a late older event never overwrites newer data.

func (s *SiteTx) key(ids ...any) rowKey { return rowKey{site: s.siteID, id: fmt.Sprint(ids...)} }

func (s *SiteTx) UpsertLearner(l Learner, at time.Time) {
	s.buf.put("learners", s.key(l.ID), at, s.siteID, l.ID, l.Email, l.FirstName, l.LastName, at.UTC())
}

func (s *SiteTx) UpsertCourse(id int64, name string, at time.Time) {
	if name != "" { // enrollment events may name the course, or only give its id
		s.buf.put("courses", s.key(id), at, s.siteID, id, name, at.UTC())
	}
}

func (s *SiteTx) UpsertChapter(id, courseID int64, name string, at time.Time) {
	s.buf.put("chapters", s.key(id), at, s.siteID, id, courseID, name, at.UTC())
}

func (s *SiteTx) UpsertLesson(l Lesson, at time.Time) {
	var chapter any
	if l.ChapterID != 0 {
		chapter = l.ChapterID
	}
	s.buf.put("lessons", s.key(l.ID), at, s.siteID, l.ID, l.CourseID, chapter, l.Name, l.Position, l.Type, at.UTC())
}

// LearnTenant records the site's Thinkific tenant_id, once, unless another site has it.
func (s *SiteTx) LearnTenant(tenantID string) { s.buf.tenants[s.siteID] = tenantID }
