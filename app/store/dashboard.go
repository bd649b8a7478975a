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

// Courses lists the site's courses with their enrollment counts.
func (v *SiteView) Courses(ctx context.Context) ([]CourseSummary, error) {
	var out []CourseSummary
	err := v.db.reader(ctx).Raw(`SELECT c.id, c.name, COALESCE(SUM(b.enrollments), 0) AS enrollments
		FROM courses c LEFT JOIN progress_buckets b ON b.site_id = c.site_id AND b.course_id = c.id
		WHERE c.site_id = ? GROUP BY c.id, c.name ORDER BY c.name, c.id`, v.siteID).Scan(&out).Error
	return out, dbError(err, "courses")
}

// Course is one course's header.
func (v *SiteView) Course(ctx context.Context, id int64) (*CourseSummary, error) {
	var out []CourseSummary
	err := v.db.reader(ctx).Raw(`SELECT id, name FROM courses WHERE site_id = ? AND id = ?`, v.siteID, id).Scan(&out).Error
	if err != nil {
		return nil, dbError(err, "course")
	}
	if len(out) == 0 {
		return nil, notFound("course")
	}
	return &out[0], nil
}

// FunnelLesson is a lesson with how many learners completed it.
type FunnelLesson struct {
	LessonID    int64
	Lesson      string
	ChapterID   *int64
	Chapter     string
	Position    int
	Learners    int64
	Drop        int64 // learners lost since the lesson before
	BiggestDrop bool
}

// Funnel lists a course's lessons in chapter order with their completions.
func (v *SiteView) Funnel(ctx context.Context, courseID int64) ([]FunnelLesson, error) {
	var out []FunnelLesson
	err := v.db.reader(ctx).Raw(`SELECT l.id AS lesson_id, l.name AS lesson, l.chapter_id, COALESCE(ch.name, '') AS chapter,
			l.position, COALESCE(s.learners, 0) AS learners
		FROM lessons l
		LEFT JOIN chapters ch ON ch.site_id = l.site_id AND ch.id = l.chapter_id
		LEFT JOIN lesson_stats s ON s.site_id = l.site_id AND s.lesson_id = l.id
		WHERE l.site_id = ? AND l.course_id = ?
		ORDER BY l.chapter_id, l.position, l.id`, v.siteID, courseID).Scan(&out).Error
	if err != nil {
		return nil, dbError(err, "lessons")
	}
	biggest := -1
	for i := 1; i < len(out); i++ {
		out[i].Drop = out[i-1].Learners - out[i].Learners
		if out[i].Drop > 0 && (biggest < 0 || out[i].Drop > out[biggest].Drop) {
			biggest = i
		}
	}
	if biggest >= 0 {
		out[biggest].BiggestDrop = true
	}
	return out, nil
}
