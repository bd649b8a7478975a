package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/strideapp/stride/app/stride"
)

// Import states. An import is queued by an install or a person, running while a process
// holds its lease, waiting after a failure it will retry, done, or failed for good.
const (
	ImportQueued  = "queued"
	ImportRunning = "running"
	ImportWaiting = "waiting"
	ImportDone    = "done"
	ImportFailed  = "failed"
)

// Import phases, in order.
const (
	PhaseCourses     = "courses"     // the course list, page by page
	PhaseCurricula   = "curricula"   // each listed course's chapters and contents, course by course
	PhaseEnrollments = "enrollments" // every enrollment (or those updated since the last import), page by page
	PhaseDone        = "done"
)

// Import is a site's import of Thinkific's REST Admin API: where it stands and where it
// resumes. Run identifies one request for an import: a newer request supersedes a run in
// progress, which notices when it next saves.
type Import struct {
	SiteID           int64 `gorm:"primaryKey"`
	State            string
	FullImport       bool
	UpdatedAfter     *time.Time
	Phase            string
	CursorPage       int
	CursorID         int64
	Courses          int
	Lessons          int
	Enrollments      int
	EnrollmentsTotal int
	Requests         int
	Attempts         int
	LastError        string
	RequestedAt      time.Time
	StartedAt        *time.Time
	FinishedAt       *time.Time
	NextAttemptAt    time.Time
	LeaseUntil       *time.Time
	LastDoneAt       *time.Time
	HistoryFrom      time.Time
}

func (Import) TableName() string { return "site_imports" }

// ErrImportSuperseded says a newer request replaced the import a process was running.
var ErrImportSuperseded = errors.New("a newer import of this site was asked for")

// queueImport asks for an import of a site in the install's transaction. The first import
// reads everything; later ones (a reinstall) read the structure and only the enrollments
// updated since the last import that finished, unless full is set. A request replaces an
// import in progress: its run stops at its next save.
func queueImport(tx *gorm.DB, siteID int64, full bool, now time.Time) error {
	var cur Import
	err := tx.Where("site_id = ?", siteID).Take(&cur).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return err
	}
	imp := Import{SiteID: siteID, State: ImportQueued, FullImport: true, Phase: PhaseCourses, RequestedAt: now,
		NextAttemptAt: now, HistoryFrom: now}
	if err == nil {
		imp.HistoryFrom, imp.LastDoneAt = cur.HistoryFrom, cur.LastDoneAt
		if !full && cur.LastDoneAt != nil {
			// Thinkific's updated_after is compared with its own clock: a margin keeps an
			// enrollment updated around the last import's start from falling between the two.
			since := cur.LastDoneAt.Add(-10 * time.Minute)
			imp.FullImport, imp.UpdatedAfter = false, &since
		}
		if !cur.RequestedAt.Before(now) {
			imp.RequestedAt = cur.RequestedAt.Add(time.Microsecond) // a new run, even within one clock tick
		}
	}
	return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&imp).Error
}

// RequestImport asks for a new import of an installed site now, as a person does with
// "Re-import": full reads every enrollment again.
func (db *DB) RequestImport(ctx context.Context, siteID int64, full bool) error {
	err := db.tx(ctx, func(tx *gorm.DB) error { return queueImport(tx, siteID, full, db.now()) })
	return dbError(err, "import")
}

// SetImportDue moves when a site's queued import may start: for sites that no Thinkific
// answers for (the bench's).
func (db *DB) SetImportDue(ctx context.Context, siteID int64, at time.Time) error {
	err := db.write(ctx).Model(&Import{}).Where("site_id = ?", siteID).Update("next_attempt_at", at.UTC()).Error
	return dbError(err, "import")
}

// ImportOf is a site's import, or nil when none was ever asked for.
func (db *DB) ImportOf(ctx context.Context, siteID int64) (*Import, error) {
	var imp Import
	err := db.reader(ctx).Where("site_id = ?", siteID).Take(&imp).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &imp, dbError(err, "import")
}

// RetryImportNow makes a site's import that waits to retry after a failure due now, from
// its cursor: a person asked for it (stride import).
func (db *DB) RetryImportNow(ctx context.Context, siteID int64) error {
	err := db.write(ctx).Model(&Import{}).Where("site_id = ? AND state = ?", siteID, ImportWaiting).
		Update("next_attempt_at", db.now()).Error
	return dbError(err, "import")
}

// importDue is the condition for an import a process may take: asked for, due, and not
// leased by a live process.
const importDue = "state IN ('queued', 'running', 'waiting') AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"

// ClaimImport leases one due import of an installed site until `until`, or returns nil.
// With siteID 0 it takes the one asked for first; otherwise that site's. The claim is one
// conditional update, so two processes never run one site's import at once.
func (db *DB) ClaimImport(ctx context.Context, siteID int64, until time.Time) (*Import, error) {
	now := db.now()
	q := db.write(ctx).Model(&Import{}).Where(importDue, now, now).
		Where("site_id IN (SELECT id FROM sites WHERE uninstalled_at IS NULL)")
	if siteID != 0 {
		q = q.Where("site_id = ?", siteID)
	}
	var due []Import
	if err := q.Order("requested_at").Limit(5).Find(&due).Error; err != nil {
		return nil, dbError(err, "import")
	}
	for _, imp := range due {
		started := imp.StartedAt
		if imp.State == ImportQueued || started == nil {
			started = &now
		}
		res := db.write(ctx).Model(&Import{}).Where("site_id = ? AND requested_at = ? AND "+importDue, imp.SiteID, imp.RequestedAt, now, now).
			Updates(map[string]any{"state": ImportRunning, "lease_until": until.UTC(), "started_at": *started})
		if res.Error != nil {
			return nil, dbError(res.Error, "import")
		}
		if res.RowsAffected == 1 {
			imp.State, imp.LeaseUntil, imp.StartedAt = ImportRunning, &until, started
			return &imp, nil
		}
	}
	return nil, nil
}

// SaveImport records an import's progress and renews its lease until `until`. It fails
// with ErrImportSuperseded when a newer request replaced the run.
func (db *DB) SaveImport(ctx context.Context, imp *Import, until time.Time) error {
	res := db.write(ctx).Model(&Import{}).Where("site_id = ? AND requested_at = ?", imp.SiteID, imp.RequestedAt).
		Updates(map[string]any{"phase": imp.Phase, "cursor_page": imp.CursorPage, "cursor_id": imp.CursorID,
			"courses": imp.Courses, "lessons": imp.Lessons, "enrollments": imp.Enrollments, "enrollments_total": imp.EnrollmentsTotal,
			"requests": imp.Requests, "lease_until": until.UTC(), "state": ImportRunning, "last_error": imp.LastError})
	if res.Error != nil {
		return dbError(res.Error, "import")
	}
	if res.RowsAffected == 0 {
		return ErrImportSuperseded
	}
	imp.LeaseUntil = &until
	return nil
}

// FinishImport marks an import done.
func (db *DB) FinishImport(ctx context.Context, imp *Import) error {
	now := db.now()
	res := db.write(ctx).Model(&Import{}).Where("site_id = ? AND requested_at = ?", imp.SiteID, imp.RequestedAt).
		Updates(map[string]any{"state": ImportDone, "phase": PhaseDone, "finished_at": now, "lease_until": nil, "last_error": "",
			"last_done_at": imp.StartedAt, "requests": imp.Requests, "courses": imp.Courses, "lessons": imp.Lessons,
			"enrollments": imp.Enrollments, "enrollments_total": imp.EnrollmentsTotal, "attempts": 0})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrImportSuperseded
	}
	return dbError(res.Error, "import")
}

// ImportStopped records why an import stopped and releases it: retried at retryAt, or
// failed for good when retryAt is nil. Its cursor stays, so a retry resumes.
func (db *DB) ImportStopped(ctx context.Context, imp *Import, cause error, retryAt *time.Time) error {
	now := db.now()
	// The Connection page shows it: the words meant for a person, not the cause's details
	// (the importer logs those).
	vals := map[string]any{"state": ImportFailed, "lease_until": nil, "last_error": logText(stride.ErrorMessage(cause)), "attempts": imp.Attempts + 1,
		"requests": imp.Requests, "finished_at": now}
	if retryAt != nil {
		vals["state"], vals["next_attempt_at"], vals["finished_at"] = ImportWaiting, retryAt.UTC(), nil
	}
	err := db.write(ctx).Model(&Import{}).Where("site_id = ? AND requested_at = ?", imp.SiteID, imp.RequestedAt).Updates(vals).Error
	return dbError(err, "import")
}

// ReleaseImport gives up an import's lease without counting an attempt (the process is
// stopping): another process resumes it from its cursor.
func (db *DB) ReleaseImport(ctx context.Context, imp *Import) error {
	err := db.write(ctx).Model(&Import{}).Where("site_id = ? AND requested_at = ?", imp.SiteID, imp.RequestedAt).
		Update("lease_until", nil).Error
	return dbError(err, "import")
}

// CatalogCourse is a course as REST lists it.
type CatalogCourse struct {
	ID   int64
	Name string
}

// SaveCourses records courses REST listed at listedAt. A course deleted before and listed
// again is back.
func (db *DB) SaveCourses(ctx context.Context, siteID int64, courses []CatalogCourse, listedAt time.Time) error {
	if len(courses) == 0 {
		return nil
	}
	now := db.now()
	rows := make([]map[string]any, len(courses))
	for i, c := range courses {
		rows[i] = map[string]any{"site_id": siteID, "id": c.ID, "name": c.Name, "seen_at": now, "listed_at": listedAt.UTC(), "deleted_at": nil}
	}
	err := db.write(ctx).Table("courses").Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "site_id"}, {Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "seen_at", "listed_at", "deleted_at"}),
	}).Create(rows).Error
	return dbError(err, "courses")
}

// curriculumToRead is the condition for a course whose curriculum an import still has to
// read: listed at or after the import's start, above its cursor, not deleted.
const curriculumToRead = "site_id = ? AND listed_at >= ? AND id > ? AND deleted_at IS NULL"

// ListedCourses is the ids of a site's courses REST listed at or after since, above
// afterID, in id order: the curricula an import still has to read.
func (db *DB) ListedCourses(ctx context.Context, siteID int64, since time.Time, afterID int64) ([]int64, error) {
	var ids []int64
	err := db.reader(ctx).Table("courses").Where(curriculumToRead, siteID, since.UTC(), afterID).
		Order("id").Pluck("id", &ids).Error
	return ids, dbError(err, "courses")
}

// CourseName is a course's name as Stride has it ("" when unknown).
func (db *DB) CourseName(ctx context.Context, siteID, courseID int64) (string, error) {
	var names []string
	err := db.reader(ctx).Table("courses").Where("site_id = ? AND id = ?", siteID, courseID).Pluck("name", &names).Error
	if len(names) == 0 {
		return "", dbError(err, "course")
	}
	return names[0], dbError(err, "course")
}

// DeleteUnlistedCourses marks deleted the courses an earlier listing had and the one made
// at listedAt lacks; courses known only from webhooks are left alone.
func (db *DB) DeleteUnlistedCourses(ctx context.Context, siteID int64, listedAt time.Time) (int64, error) {
	res := db.write(ctx).Table("courses").Where("site_id = ? AND listed_at < ? AND deleted_at IS NULL", siteID, listedAt.UTC()).
		Update("deleted_at", db.now())
	return res.RowsAffected, dbError(res.Error, "courses")
}

// DeleteCourse marks a course deleted: it leaves the funnel and lessons.csv; the steps
// learners took in it stay in the exports.
func (db *DB) DeleteCourse(ctx context.Context, siteID, courseID int64) error {
	err := db.write(ctx).Table("courses").Where("site_id = ? AND id = ? AND deleted_at IS NULL", siteID, courseID).
		Update("deleted_at", db.now()).Error
	return dbError(err, "course")
}

// CatalogChapter and CatalogContent are a course's curriculum as REST gives it.
type CatalogChapter struct {
	ID       int64
	Name     string
	Position int
	Contents []CatalogContent // in position order
}

type CatalogContent struct {
	ID       int64
	Name     string
	Position int
	Type     string // REST's contentable_type: Lesson, Quiz, ...
}

// SaveCurriculum records a course's chapters and contents, read at readAt, in curriculum
// order: chapters by position, then contents by position, numbered 1..n within the course.
// Contents of the course the read no longer lists leave the curriculum; what learners
// completed in them stays. It returns how many contents the course has.
func (db *DB) SaveCurriculum(ctx context.Context, siteID int64, course CatalogCourse, chapters []CatalogChapter, readAt time.Time) (int, error) {
	now := db.now()
	n := 0
	err := db.tx(ctx, func(tx *gorm.DB) error {
		courseID := course.ID
		row := map[string]any{"site_id": siteID, "id": courseID, "name": course.Name, "seen_at": now, "curriculum_read_at": readAt.UTC(), "deleted_at": nil}
		update := []string{"name", "seen_at", "curriculum_read_at", "deleted_at"}
		if course.Name == "" {
			update = update[1:] // a name Stride has is better than none
		}
		if err := tx.Table("courses").Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "site_id"}, {Name: "id"}},
			DoUpdates: clause.AssignmentColumns(update),
		}).Create(row).Error; err != nil {
			return err
		}
		if err := tx.Table("lessons").Where("site_id = ? AND course_id = ?", siteID, courseID).
			Updates(map[string]any{"course_position": nil, "unlisted_at": readAt.UTC()}).Error; err != nil {
			return err
		}
		var chapterRows, lessonRows []map[string]any
		for _, ch := range chapters {
			chapterRows = append(chapterRows, map[string]any{"site_id": siteID, "id": ch.ID, "course_id": courseID, "name": ch.Name,
				"position": ch.Position, "seen_at": now})
			for _, c := range ch.Contents {
				n++
				lessonRows = append(lessonRows, map[string]any{"site_id": siteID, "id": c.ID, "course_id": courseID, "chapter_id": ch.ID,
					"name": c.Name, "position": c.Position, "lesson_type": c.Type, "course_position": n, "unlisted_at": nil, "seen_at": now})
			}
		}
		if len(chapterRows) > 0 {
			if err := tx.Table("chapters").Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "site_id"}, {Name: "id"}},
				DoUpdates: clause.AssignmentColumns([]string{"course_id", "name", "position", "seen_at"}),
			}).CreateInBatches(chapterRows, 200).Error; err != nil {
				return err
			}
		}
		if len(lessonRows) > 0 {
			if err := tx.Table("lessons").Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "site_id"}, {Name: "id"}},
				DoUpdates: clause.AssignmentColumns([]string{"course_id", "chapter_id", "name", "position", "lesson_type", "course_position", "unlisted_at", "seen_at"}),
			}).CreateInBatches(lessonRows, 200).Error; err != nil {
				return err
			}
		}
		return db.recountNextLessons(tx, siteID, courseID)
	})
	return n, dbError(err, "curriculum")
}

// CourseRefresh is a course to read again: a course.* webhook named it, or an event named
// a lesson its curriculum lacks.
type CourseRefresh struct {
	SiteID, CourseID int64
	Deleted          bool
	DueAt            time.Time
	Attempts         int
	LastError        string
}

func (CourseRefresh) TableName() string { return "course_refreshes" }

// QueueCourseRefresh asks for a course to be read again (or, deleted, to leave the funnel).
// A deletion is never turned back into a read by a later request.
func (db *DB) QueueCourseRefresh(ctx context.Context, siteID, courseID int64, deleted bool) error {
	return dbError(queueCourseRefresh(db.write(ctx), siteID, courseID, deleted, db.now()), "course")
}

func queueCourseRefresh(tx *gorm.DB, siteID, courseID int64, deleted bool, now time.Time) error {
	set := clause.Assignments(map[string]any{"due_at": now, "attempts": 0})
	if deleted {
		set = clause.Assignments(map[string]any{"due_at": now, "attempts": 0, "deleted": true})
	}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "site_id"}, {Name: "course_id"}}, DoUpdates: set}).
		Create(&CourseRefresh{SiteID: siteID, CourseID: courseID, Deleted: deleted, DueAt: now}).Error
}

// CourseChanged asks, in the worker's transaction, for a course to be read again after a
// course.* webhook (deleted: to leave the funnel).
func (s *SiteTx) CourseChanged(courseID int64, deleted bool) error {
	return queueCourseRefresh(s.tx, s.siteID, courseID, deleted, s.db.now())
}

// QueueUnknownLessons asks for a re-read of every listed course that an event has named a
// lesson of that no read of its curriculum has seen yet, at most once per `every` per
// course: a lesson added or moved may send no course.updated. A lesson a read did not list
// (unlisted_at) never asks again, so a lesson REST does not know costs one re-read.
func (db *DB) QueueUnknownLessons(ctx context.Context, every time.Duration) (int64, error) {
	now := db.now()
	var keys []struct{ SiteID, CourseID int64 }
	err := db.reader(ctx).Raw(`SELECT DISTINCT l.site_id, l.course_id FROM lessons l
		JOIN courses c ON c.site_id = l.site_id AND c.id = l.course_id
		JOIN sites s ON s.id = l.site_id AND s.uninstalled_at IS NULL
		WHERE l.course_position IS NULL AND c.listed_at IS NOT NULL AND c.deleted_at IS NULL
			AND l.unlisted_at IS NULL AND c.curriculum_read_at IS NOT NULL AND c.curriculum_read_at <= ?
			AND NOT EXISTS (SELECT 1 FROM course_refreshes r WHERE r.site_id = l.site_id AND r.course_id = l.course_id)`,
		now.Add(-every)).Scan(&keys).Error
	if err != nil {
		return 0, dbError(err, "lessons")
	}
	for _, k := range keys {
		if err := queueCourseRefresh(db.write(ctx), k.SiteID, k.CourseID, false, now); err != nil {
			return 0, dbError(err, "course")
		}
	}
	return int64(len(keys)), nil
}

// ClaimCourseRefresh takes one due refresh of an installed site, pushing its due time to
// `until` so that no other process takes it meanwhile; nil when none is due.
func (db *DB) ClaimCourseRefresh(ctx context.Context, until time.Time) (*CourseRefresh, error) {
	now := db.now()
	var due []CourseRefresh
	err := db.write(ctx).Where("due_at <= ? AND site_id IN (SELECT id FROM sites WHERE uninstalled_at IS NULL)", now).
		Order("due_at").Limit(5).Find(&due).Error
	if err != nil {
		return nil, dbError(err, "course")
	}
	for _, r := range due {
		res := db.write(ctx).Model(&CourseRefresh{}).Where("site_id = ? AND course_id = ? AND due_at = ?", r.SiteID, r.CourseID, r.DueAt).
			Update("due_at", until.UTC())
		if res.Error != nil {
			return nil, dbError(res.Error, "course")
		}
		if res.RowsAffected == 1 {
			claimed := r
			claimed.DueAt = until.UTC()
			return &claimed, nil
		}
	}
	return nil, nil
}

// CourseRefreshDone removes a refresh once done, unless it was asked for again meanwhile.
func (db *DB) CourseRefreshDone(ctx context.Context, r *CourseRefresh) error {
	err := db.write(ctx).Where("site_id = ? AND course_id = ? AND due_at = ?", r.SiteID, r.CourseID, r.DueAt).
		Delete(&CourseRefresh{}).Error
	return dbError(err, "course")
}

// CourseRefreshFailed sets a refresh to be tried again at retryAt.
func (db *DB) CourseRefreshFailed(ctx context.Context, r *CourseRefresh, cause error, retryAt time.Time) error {
	err := db.write(ctx).Model(&CourseRefresh{}).Where("site_id = ? AND course_id = ? AND due_at = ?", r.SiteID, r.CourseID, r.DueAt).
		Updates(map[string]any{"due_at": retryAt.UTC(), "attempts": r.Attempts + 1, "last_error": errorText(cause)}).Error
	return dbError(err, "course")
}
