package store

import (
	"context"
	"time"
)

// SiteView is one site's dashboard: what its pages read, and the replay its connection page
// offers. Every query it runs is scoped to its site, in this one place, so no page can show
// or change another site's data.
type SiteView struct {
	db     *DB
	siteID int64
}

// View returns one site's dashboard.
func (db *DB) View(siteID int64) *SiteView { return &SiteView{db: db, siteID: siteID} }

// Overview is a site's headline figures, read from rollups and indexes.
type Overview struct {
	Learners, Active7d, Enrollments, Completions int64
	CompletionRate, MedianProgress               float64   // percent
	Histogram                                    [11]int64 // enrollments at 0–9 %, 10–19 %, …, 90–99 %, 100 %
	Days                                         []DayStat
}

// DayStat is one UTC day of a site's activity.
type DayStat struct {
	Day         string
	Steps       int64
	Completions int64
	Enrollments int64
}

// Overview reads the site's figures; days of activity from since on.
func (v *SiteView) Overview(ctx context.Context, now, since time.Time) (*Overview, error) {
	g := v.db.reader(ctx)
	o := &Overview{}
	if err := g.Raw("SELECT COUNT(*) FROM learners WHERE site_id = ?", v.siteID).Scan(&o.Learners).Error; err != nil {
		return nil, dbError(err, "learners")
	}
	if err := g.Raw("SELECT COUNT(DISTINCT learner_id) FROM enrollments WHERE site_id = ? AND last_activity_at >= ?",
		v.siteID, now.Add(-7*24*time.Hour).UTC()).Scan(&o.Active7d).Error; err != nil {
		return nil, dbError(err, "enrollments")
	}
	var buckets []struct{ Bucket, N int64 }
	if err := g.Raw("SELECT bucket, SUM(enrollments) AS n FROM progress_buckets WHERE site_id = ? GROUP BY bucket ORDER BY bucket",
		v.siteID).Scan(&buckets).Error; err != nil {
		return nil, dbError(err, "progress")
	}
	for _, b := range buckets {
		o.Enrollments += b.N
		o.Histogram[min(b.Bucket/10, 10)] += b.N
	}
	// The median is the bucket where the running count passes half the enrollments.
	var seen int64
	for _, b := range buckets {
		seen += b.N
		if o.Enrollments > 0 && seen*2 >= o.Enrollments {
			o.MedianProgress = float64(b.Bucket)
			break
		}
	}
	if err := g.Raw("SELECT COALESCE(SUM(completions), 0) FROM daily_stats WHERE site_id = ?", v.siteID).Scan(&o.Completions).Error; err != nil {
		return nil, dbError(err, "completions")
	}
	if o.Enrollments > 0 {
		o.CompletionRate = 100 * float64(o.Completions) / float64(o.Enrollments)
	}
	if err := g.Raw("SELECT day, steps, completions, enrollments FROM daily_stats WHERE site_id = ? AND day >= ? ORDER BY day",
		v.siteID, day(since)).Scan(&o.Days).Error; err != nil {
		return nil, dbError(err, "days")
	}
	return o, nil
}

// CourseSummary is a course in the site's list.
type CourseSummary struct {
	ID          int64
	Name        string
	Enrollments int64
}

// Courses lists the site's courses with their enrollment counts; a course deleted in
// Thinkific is not listed.
func (v *SiteView) Courses(ctx context.Context) ([]CourseSummary, error) {
	var out []CourseSummary
	err := v.db.reader(ctx).Raw(`SELECT c.id, c.name, COALESCE(SUM(b.enrollments), 0) AS enrollments
		FROM courses c LEFT JOIN progress_buckets b ON b.site_id = c.site_id AND b.course_id = c.id
		WHERE c.site_id = ? AND c.deleted_at IS NULL GROUP BY c.id, c.name ORDER BY c.name, c.id`, v.siteID).Scan(&out).Error
	return out, dbError(err, "courses")
}

// CourseHeader is one course as its page introduces it.
type CourseHeader struct {
	ID               int64
	Name             string
	CurriculumReadAt *time.Time // nil: never read from Thinkific's REST API
	DeletedAt        *time.Time // deleted in Thinkific
}

// Course reads one course's header, a deleted one included: its learners stay.
func (v *SiteView) Course(ctx context.Context, id int64) (*CourseHeader, error) {
	var out []CourseHeader
	err := v.db.reader(ctx).Raw(`SELECT id, name, curriculum_read_at, deleted_at FROM courses WHERE site_id = ? AND id = ?`,
		v.siteID, id).Scan(&out).Error
	if err != nil {
		return nil, dbError(err, "course")
	}
	if len(out) == 0 {
		return nil, notFound("course")
	}
	return &out[0], nil
}
