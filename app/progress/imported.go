package progress

import (
	"context"
	"strings"
	"time"

	"github.com/strideapp/stride/app/store"
)

// Imported is an enrollment as Thinkific's REST API gives it, its percentage on the
// webhooks' 0–100 scale.
type Imported struct {
	ID, LearnerID, CourseID               int64
	LearnerEmail, LearnerName, CourseName string
	Percent                               *float64
	Completed                             bool
	CreatedAt, StartedAt, ActivatedAt     *time.Time
	CompletedAt, ExpiryDate               *time.Time
	UpdatedAt                             time.Time
	FreeTrial                             bool
}

// ApplyImported merges a page of imported enrollments of one site into its records, in
// one transaction, as events stamped with their updated_at: a webhook newer than that
// keeps its percentage and dates, an older one gives way. The enrollments' locks are those
// the worker takes, so a webhook applied at the same moment waits rather than races.
// Imported percentages are kept apart too, for the learner's timeline; no lesson step is
// invented.
func (w *Worker) ApplyImported(ctx context.Context, siteID int64, page []Imported) error {
	if len(page) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	tx, err := w.db.BeginWork(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var keys []int64
	enrollments := make([]store.EnrollmentKey, len(page))
	for i, e := range page {
		keys = append(keys, lockKeys(siteID, "enrollment", e.ID, "journey", journey(e.LearnerID, e.CourseID))...)
		enrollments[i] = store.EnrollmentKey{SiteID: siteID, ID: e.ID}
	}
	if err := tx.Lock(sortedUnique(keys)); err != nil {
		return err
	}
	if err := tx.Prefetch(enrollments); err != nil {
		return err
	}
	s := tx.Site(siteID)
	for _, e := range page {
		at := e.UpdatedAt.UTC()
		first, last, _ := strings.Cut(strings.TrimSpace(e.LearnerName), " ")
		s.UpsertLearner(store.Learner{ID: e.LearnerID, Email: e.LearnerEmail, FirstName: first, LastName: strings.TrimSpace(last)}, at)
		if e.CourseName != "" {
			s.UpsertCourse(e.CourseID, e.CourseName, at)
		}
		u := store.Enrollment{ID: e.ID, LearnerID: e.LearnerID, CourseID: e.CourseID, Percent: e.Percent,
			EnrolledAt: e.CreatedAt, StartedAt: e.StartedAt, ActivatedAt: e.ActivatedAt, CompletedAt: e.CompletedAt,
			ExpiryDate: e.ExpiryDate, FreeTrial: e.FreeTrial, Activity: true, Imported: true}
		if u.EnrolledAt == nil {
			u.EnrolledAt = e.ActivatedAt
		}
		settleCompletion(&u, e.Completed, at)
		if _, err := s.ApplyEnrollment(u, at); err != nil {
			return err
		}
	}
	if err := tx.Write(); err != nil {
		return err
	}
	return tx.Commit()
}
