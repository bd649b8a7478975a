// Package importer reads a site's courses, curricula and enrollments from Thinkific's REST
// Admin API once per install (and when a person asks), so that the dashboard shows the
// whole course from the first minute; afterwards webhooks keep it current, and a course is
// read again only when a course.* webhook or an unknown lesson says it changed. It runs in
// the background beside the worker, never on the webhook path.
package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// Settings of the import, not configurable: the rate budget (THINKIFIC_API_REQUESTS_PER_MINUTE)
// is what bounds it.
const (
	pageSize     = thinkific.MaxPageSize
	lease        = 2 * time.Minute  // a process that dies mid-import leaves it to another after this
	poll         = 5 * time.Second  // how often Run looks for work nobody woke it for
	unknownEvery = 10 * time.Minute // a course is re-read for unknown lessons at most this often
	maxAttempts  = 10               // failures in a row before an import is failed for good
)

// Tokens gives the API credentials of an installed site.
type Tokens func(*stride.Site) thinkific.TokenSource

// Importer runs imports and course re-reads. Several may run, in one process or many: each
// import and each re-read is leased.
type Importer struct {
	db     *store.DB
	api    *thinkific.Client
	tokens Tokens
	apply  *progress.Worker
	clock  stride.Clock
	log    *slog.Logger
	wake   chan struct{}
}

// New returns an importer; imported enrollments are applied through w, under the locks
// the worker takes.
func New(db *store.DB, api *thinkific.Client, tokens Tokens, w *progress.Worker, clock stride.Clock, log *slog.Logger) *Importer {
	return &Importer{db: db, api: api, tokens: tokens, apply: w, clock: clock, log: log, wake: make(chan struct{}, 1)}
}

// Wake tells the importer there is work (an install); it never blocks.
func (im *Importer) Wake() {
	select {
	case im.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends: due imports, then due course re-reads, one at a time.
func (im *Importer) Run(ctx context.Context) {
	t := time.NewTicker(poll)
	defer t.Stop()
	var lastUnknown time.Time
	for ctx.Err() == nil {
		if time.Since(lastUnknown) > time.Minute {
			lastUnknown = time.Now()
			if n, err := im.db.QueueUnknownLessons(ctx, unknownEvery); err != nil && ctx.Err() == nil {
				im.log.Error("looking for lessons the curriculum lacks", "err", err)
			} else if n > 0 {
				im.log.Info("courses to read again: events named lessons their curriculum lacks", "courses", n)
			}
		}
		busy := im.once(ctx)
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-im.wake:
		case <-t.C:
		}
	}
}

// Drain runs due imports and course re-reads until none is due, and returns how many it
// ran: for tests, and for a process that wants the work done now.
func (im *Importer) Drain(ctx context.Context) int {
	n := 0
	for ctx.Err() == nil && im.once(ctx) {
		n++
	}
	return n
}

// Claim leases the site's import if it is due and no live process holds it, for Run1;
// nil otherwise. With siteID 0 it takes the one asked for first.
func (im *Importer) Claim(ctx context.Context, siteID int64) (*store.Import, error) {
	return im.db.ClaimImport(ctx, siteID, im.clock.Now().Add(lease))
}

// once runs one due import or course re-read and reports whether there was one.
func (im *Importer) once(ctx context.Context) bool {
	imp, err := im.Claim(ctx, 0)
	if err != nil {
		if ctx.Err() == nil {
			im.log.Error("claiming an import", "err", err)
		}
		return false
	}
	if imp != nil {
		im.Run1(ctx, imp, nil)
		return true
	}
	r, err := im.db.ClaimCourseRefresh(ctx, im.clock.Now().Add(lease))
	if err != nil {
		if ctx.Err() == nil {
			im.log.Error("claiming a course to read again", "err", err)
		}
		return false
	}
	if r == nil {
		return false
	}
	im.refresh(ctx, r)
	return true
}

// Run1 runs a claimed import to its end, or until it stops, and records how it ended.
// progress, when given, is told after each step.
func (im *Importer) Run1(ctx context.Context, imp *store.Import, progress func(store.Import)) error {
	site, err := im.db.Site(ctx, imp.SiteID)
	if err != nil {
		return err
	}
	im.log.Info("import running", "site", site.ID, "subdomain", site.Subdomain, "phase", imp.Phase, "full", imp.FullImport)
	err = im.run(ctx, site, imp, progress)
	bg := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		if err := im.db.FinishImport(bg, imp); err != nil {
			return err
		}
		im.log.Info("import done", "site", site.ID, "courses", imp.Courses, "lessons", imp.Lessons,
			"enrollments", imp.Enrollments, "requests", imp.Requests, "took", im.clock.Now().Sub(*imp.StartedAt).Round(time.Second))
		return nil
	case errors.Is(err, store.ErrImportSuperseded):
		im.log.Info("import replaced by a newer request", "site", site.ID)
		return err
	case ctx.Err() != nil:
		// Stopping: another process, or this one after a restart, resumes from the cursor.
		if err := im.db.ReleaseImport(bg, imp); err != nil {
			im.log.Error("releasing an import", "site", site.ID, "err", err)
		}
		return ctx.Err()
	}
	var retry *time.Time
	if retriable(err) && imp.Attempts+1 < maxAttempts {
		at := im.clock.Now().Add(backoff(imp.Attempts))
		retry = &at
	}
	im.log.Warn("import stopped", "site", site.ID, "phase", imp.Phase, "attempt", imp.Attempts+1, "retry_at", retry, "err", err)
	if serr := im.db.ImportStopped(bg, imp, err, retry); serr != nil {
		return serr
	}
	return err
}

// run reads phase after phase from the import's cursor, saving the cursor after each page
// or course, so that a restart resumes where it stopped and repeats at most one step (every
// write is an upsert: a repeated step changes nothing).
func (im *Importer) run(ctx context.Context, site *stride.Site, imp *store.Import, progress func(store.Import)) error {
	auth := im.tokens(site)
	listedAt := *imp.StartedAt
	for imp.Phase != store.PhaseDone {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch imp.Phase {
		case store.PhaseCourses:
			err = im.coursesPage(ctx, auth, imp, listedAt)
		case store.PhaseCurricula:
			err = im.nextCurriculum(ctx, auth, imp, listedAt)
		case store.PhaseEnrollments:
			err = im.enrollmentsPage(ctx, auth, imp)
		default:
			return fmt.Errorf("import: unknown phase %q", imp.Phase)
		}
		if err != nil {
			return err
		}
		if err := im.db.SaveImport(context.WithoutCancel(ctx), imp, im.clock.Now().Add(lease)); err != nil {
			return err
		}
		if progress != nil {
			progress(*imp)
		}
	}
	return nil
}

func (im *Importer) coursesPage(ctx context.Context, auth thinkific.TokenSource, imp *store.Import, listedAt time.Time) error {
	page := imp.CursorPage + 1
	imp.Requests++
	courses, meta, err := im.api.ListCourses(ctx, auth, page, pageSize)
	if err != nil {
		return err
	}
	rows := make([]store.CatalogCourse, 0, len(courses))
	for _, c := range courses {
		if c.ID != 0 {
			rows = append(rows, store.CatalogCourse{ID: c.ID, Name: c.Name})
		}
	}
	if err := im.db.SaveCourses(ctx, imp.SiteID, rows, listedAt); err != nil {
		return err
	}
	imp.Courses += len(rows)
	if meta.Next != 0 && len(courses) > 0 {
		imp.CursorPage = page
		return nil
	}
	if imp.FullImport {
		// A course listed before and no longer listed was deleted while nobody watched.
		if _, err := im.db.DeleteUnlistedCourses(ctx, imp.SiteID, listedAt); err != nil {
			return err
		}
	}
	imp.Phase, imp.CursorPage, imp.CursorID = store.PhaseCurricula, 0, 0
	return nil
}

func (im *Importer) nextCurriculum(ctx context.Context, auth thinkific.TokenSource, imp *store.Import, listedAt time.Time) error {
	ids, err := im.db.ListedCourses(ctx, imp.SiteID, listedAt, imp.CursorID)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		imp.Phase, imp.CursorPage, imp.CursorID = store.PhaseEnrollments, 0, 0
		return nil
	}
	n, requests, err := im.readCurriculum(ctx, auth, imp.SiteID, store.CatalogCourse{ID: ids[0]}, false)
	imp.Requests += requests
	if err != nil && stride.ErrorCode(err) != stride.ENOTFOUND {
		return err
	}
	imp.Lessons += n
	imp.CursorID = ids[0]
	return nil
}

// readCurriculum reads a course's chapters and their contents and saves them in
// curriculum order. With named false the course's name is kept as listed; otherwise the
// course itself is read first (its name may have changed). A course Thinkific no longer
// has is marked deleted.
func (im *Importer) readCurriculum(ctx context.Context, auth thinkific.TokenSource, siteID int64, course store.CatalogCourse, named bool) (lessons, requests int, err error) {
	defer func() {
		if stride.ErrorCode(err) == stride.ENOTFOUND {
			if derr := im.db.DeleteCourse(ctx, siteID, course.ID); derr != nil {
				err = derr
			}
		}
	}()
	if named {
		requests++
		c, err := im.api.GetCourse(ctx, auth, course.ID)
		if err != nil {
			return 0, requests, err
		}
		course.Name = c.Name
	}
	var chapters []store.CatalogChapter
	for page := 1; ; page++ {
		requests++
		list, meta, err := im.api.ListChapters(ctx, auth, course.ID, page, pageSize)
		if err != nil {
			return 0, requests, err
		}
		for _, ch := range list {
			if ch.ID != 0 {
				chapters = append(chapters, store.CatalogChapter{ID: ch.ID, Name: ch.Name, Position: int(ch.Position)})
			}
		}
		if meta.Next == 0 || len(list) == 0 {
			break
		}
	}
	for i := range chapters {
		for page := 1; ; page++ {
			requests++
			list, meta, err := im.api.ListContents(ctx, auth, chapters[i].ID, page, pageSize)
			if err != nil {
				return 0, requests, err
			}
			for _, c := range list {
				if c.ID != 0 {
					chapters[i].Contents = append(chapters[i].Contents, store.CatalogContent{ID: c.ID, Name: c.Name, Position: int(c.Position), Type: c.ContentableType})
				}
			}
			if meta.Next == 0 || len(list) == 0 {
				break
			}
		}
	}
	sortCurriculum(chapters)
	if !named {
		if course.Name, err = im.db.CourseName(ctx, siteID, course.ID); err != nil {
			return 0, requests, err
		}
	}
	n, err := im.db.SaveCurriculum(ctx, siteID, course, chapters, im.clock.Now())
	return n, requests, err
}

func (im *Importer) enrollmentsPage(ctx context.Context, auth thinkific.TokenSource, imp *store.Import) error {
	page := imp.CursorPage + 1
	var q thinkific.EnrollmentQuery
	if !imp.FullImport && imp.UpdatedAfter != nil {
		q.UpdatedAfter = *imp.UpdatedAfter
	}
	imp.Requests++
	list, meta, err := im.api.ListEnrollments(ctx, auth, q, page, pageSize)
	if err != nil {
		return err
	}
	rows := make([]progress.Imported, 0, len(list))
	for _, e := range list {
		if e.ID == 0 || e.UserID == 0 || e.CourseID == 0 {
			continue // nothing to file it under
		}
		r := progress.Imported{ID: e.ID, LearnerID: e.UserID, CourseID: e.CourseID, LearnerEmail: e.UserEmail, LearnerName: e.UserName,
			CourseName: e.CourseName, Completed: e.Completed, CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, ActivatedAt: e.ActivatedAt,
			CompletedAt: e.CompletedAt, ExpiryDate: e.ExpiryDate, FreeTrial: e.FreeTrial}
		if e.Percentage.Set {
			p := math.Min(math.Max(e.Percentage.Value, 0), 100)
			r.Percent = &p
		}
		switch {
		case e.UpdatedAt != nil:
			r.UpdatedAt = *e.UpdatedAt
		case e.CompletedAt != nil:
			r.UpdatedAt = *e.CompletedAt
		case e.StartedAt != nil:
			r.UpdatedAt = *e.StartedAt
		case e.CreatedAt != nil:
			r.UpdatedAt = *e.CreatedAt
		default:
			// Undated: as old as can be, so that any webhook wins over it.
			r.UpdatedAt = time.Unix(0, 0).UTC()
		}
		rows = append(rows, r)
	}
	if err := im.apply.ApplyImported(ctx, imp.SiteID, rows); err != nil {
		return err
	}
	imp.Enrollments += len(rows)
	if meta.TotalItems > 0 {
		imp.EnrollmentsTotal = int(meta.TotalItems)
	}
	if meta.Next != 0 && len(list) > 0 {
		imp.CursorPage = page
		return nil
	}
	imp.Phase, imp.CursorPage = store.PhaseDone, 0
	return nil
}

// refresh reads one course again after a course.* webhook or an unknown lesson.
func (im *Importer) refresh(ctx context.Context, r *store.CourseRefresh) {
	bg := context.WithoutCancel(ctx)
	if r.Deleted {
		if err := im.db.DeleteCourse(ctx, r.SiteID, r.CourseID); err == nil {
			err = im.db.CourseRefreshDone(bg, r)
			im.log.Info("course deleted", "site", r.SiteID, "course", r.CourseID)
		}
		return
	}
	site, err := im.db.Site(ctx, r.SiteID)
	if err == nil {
		var n int
		n, _, err = im.readCurriculum(ctx, im.tokens(site), r.SiteID, store.CatalogCourse{ID: r.CourseID}, true)
		if err == nil || stride.ErrorCode(err) == stride.ENOTFOUND {
			im.log.Info("course read again", "site", r.SiteID, "course", r.CourseID, "contents", n, "gone", err != nil)
			if err := im.db.CourseRefreshDone(bg, r); err != nil {
				im.log.Error("course read again", "site", r.SiteID, "course", r.CourseID, "err", err)
			}
			return
		}
	}
	if ctx.Err() != nil {
		return // the lease runs out and another process takes it
	}
	retry := im.clock.Now().Add(backoff(r.Attempts))
	im.log.Warn("reading a course again failed", "site", r.SiteID, "course", r.CourseID, "retry_at", retry, "err", err)
	if err := im.db.CourseRefreshFailed(bg, r, err, retry); err != nil {
		im.log.Error("course read again", "site", r.SiteID, "course", r.CourseID, "err", err)
	}
}

// retriable reports whether an import that failed with err may succeed later by itself:
// Thinkific busy or unreachable, or the database's moment. Refused access (401 after a
// refresh, 403: a scope not granted) waits for a person.
func retriable(err error) bool {
	switch stride.ErrorCode(err) {
	case stride.EUNAUTHORIZED, stride.EFORBIDDEN, stride.EINVALID:
		return false
	}
	return true
}

// backoff is 30 s, 1 min, 2 min, ... up to 30 minutes between tries.
func backoff(attempts int) time.Duration {
	return time.Duration(math.Min(30*math.Pow(2, float64(attempts)), 1800)) * time.Second
}

// sortCurriculum puts chapters in position order and each chapter's contents in position
// order, ids breaking ties, whatever order the pages came in.
func sortCurriculum(chapters []store.CatalogChapter) {
	slices.SortStableFunc(chapters, func(a, b store.CatalogChapter) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
	})
	for _, ch := range chapters {
		slices.SortStableFunc(ch.Contents, func(a, b store.CatalogContent) int {
			return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
		})
	}
}
