package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// What `stride bench` and `stride bench-pages` ask of a scratch database: they tell their
// sites from real ones by a gid prefix, watch the worker from outside, and seed in bulk.
// PostgreSQL only, as both measure PostgreSQL.

// SitesNotPrefixed counts the sites whose gid does not start with prefix: the ones a tool
// did not install. A database not yet migrated has none.
func (db *DB) SitesNotPrefixed(ctx context.Context, prefix string) (int64, error) {
	var n int64
	err := db.reader(ctx).Raw("SELECT count(*) FROM sites WHERE gid NOT LIKE ?", likePrefix(prefix)).Scan(&n).Error
	if pg := (*pgconn.PgError)(nil); errors.As(err, &pg) && pg.Code == "42P01" { // undefined_table
		return 0, nil
	}
	return n, dbError(err, "sites")
}

// DeleteSitesPrefixed deletes the sites whose gid starts with prefix and everything they
// hold. The largest tables go first, by site, which is quicker than the cascade from sites.
func (db *DB) DeleteSitesPrefixed(ctx context.Context, prefix string) error {
	in := "IN (SELECT id FROM sites WHERE gid LIKE ?)"
	for _, t := range []string{"learner_events", "enrollments", "lesson_completions", "lessons", "chapters", "courses", "learners",
		"lesson_stats", "daily_stats", "progress_buckets", "inbox"} {
		if err := db.write(ctx).Exec("DELETE FROM "+t+" WHERE site_id "+in, likePrefix(prefix)).Error; err != nil {
			return dbError(err, t)
		}
	}
	return dbError(db.write(ctx).Exec("DELETE FROM sites WHERE id "+in, likePrefix(prefix)).Error, "sites")
}

func likePrefix(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix) + "%"
}

// Settings reads PostgreSQL settings by name (SHOW), to say where figures were taken.
func (db *DB) Settings(ctx context.Context, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, name := range names {
		var v string
		if err := db.reader(ctx).Raw("SELECT current_setting(?)", name).Scan(&v).Error; err != nil {
			return nil, dbError(err, "setting "+name)
		}
		out[name] = v
	}
	return out, nil
}

// Unapplied counts, up to limit (0: all), the accepted deliveries of the given sites (none
// given: of every site) that the worker has yet to apply. A limit of 1 asks only whether
// any are left, which costs the database little while the worker is busy.
func (db *DB) Unapplied(ctx context.Context, limit int, sites ...int64) (int64, error) {
	q := db.reader(ctx).Table("inbox").Select("1").Where("status = ?", StatusAccepted)
	if len(sites) > 0 {
		q = q.Where("site_id IN ?", sites)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var n int64
	err := db.reader(ctx).Raw("SELECT count(*) FROM (?) AS waiting", q).Scan(&n).Error
	return n, dbError(err, "inbox")
}

// StepRef names a learner step by its two deliveries.
type StepRef struct {
	SiteID                     int64
	LessonEvent, ProgressEvent string
}

// PairedSteps says which steps have their lesson half paired with their own progress half,
// as the steps view shows them, by lesson event id.
func (db *DB) PairedSteps(ctx context.Context, steps []StepRef) (map[string]bool, error) {
	if len(steps) == 0 {
		return map[string]bool{}, nil
	}
	keys := make([][]any, len(steps))
	for i, s := range steps {
		keys[i] = []any{s.SiteID, s.LessonEvent, s.ProgressEvent}
	}
	var ids []string
	err := db.reader(ctx).Raw(`SELECT l.event_id FROM learner_events l JOIN learner_events p ON p.id = l.partner_id
		WHERE (l.site_id, l.event_id, p.event_id) IN ?`, keys).Scan(&ids).Error
	if err != nil {
		return nil, dbError(err, "learner events")
	}
	paired := make(map[string]bool, len(ids))
	for _, id := range ids {
		paired[id] = true
	}
	return paired, nil
}

// SeedSite writes, in bulk, the records the worker would have left for a site after
// `steps` learner steps of `learners` learners: 10 courses of 5 chapters and 50 lessons,
// paired steps spread over the last 180 days, enrollments, every rollup and the latest
// 2,000 deliveries. Event ids are the site's own range, so sites may be seeded in any order;
// call EndSeeding once all are.
func (db *DB) SeedSite(ctx context.Context, site int64, steps, learners int) error {
	span := 180 * 24 * time.Hour
	start := time.Now().Add(-span).UTC()
	every := span / time.Duration(max(1, steps))
	base := site * 10_000_000_000
	statements := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO learners (site_id, id, email, first_name, last_name, seen_at)
			SELECT ?, n, 'learner' || n || '@example.com', 'Learner', n::text, now() FROM generate_series(1, ?) n`, []any{site, learners}},
		// The curriculum as the import leaves it: every lesson in course order.
		{`INSERT INTO courses (site_id, id, name, seen_at, listed_at, curriculum_read_at)
			SELECT ?, c, 'Course ' || c, now(), now(), now() FROM generate_series(1, 10) c`, []any{site}},
		{`INSERT INTO chapters (site_id, id, course_id, name, position, seen_at)
			SELECT ?, c * 100 + ch, c, 'Chapter ' || ch, ch - 1, now() FROM generate_series(1, 10) c, generate_series(1, 5) ch`, []any{site}},
		{`INSERT INTO lessons (site_id, id, course_id, chapter_id, name, position, lesson_type, course_position, seen_at)
			SELECT ?, c * 1000 + k, c, c * 100 + (k - 1) / 10 + 1, 'Lesson ' || k, (k - 1) % 10, 'Lesson', k, now()
			FROM generate_series(1, 10) c, generate_series(1, 50) k`, []any{site}},
		// Step n is learner (n mod L)'s k-th step, k = n div L: lesson k mod 50 of a course.
		{`INSERT INTO learner_events (id, site_id, event_id, kind, learner_id, course_id, enrollment_id, occurred_at,
				chapter_id, lesson_id, percent_before, percent_after, before_given, partner_id) OVERRIDING SYSTEM VALUE
			SELECT CAST(? AS BIGINT) + 2 * n + h, ?, 'e' || (2 * n + h), CASE h WHEN 1 THEN 'lesson' ELSE 'progress' END, learner, course,
				learner * 100 + course, ?::timestamptz + n * ?::interval,
				CASE h WHEN 1 THEN course * 100 + pos / 10 + 1 END, CASE h WHEN 1 THEN course * 1000 + pos + 1 END,
				CASE h WHEN 2 THEN pos * 2 END, CASE h WHEN 2 THEN (pos + 1) * 2 END, false, CAST(? AS BIGINT) + 2 * n + 3 - h
			FROM (SELECT n, n % ? + 1 AS learner, ((n % ? + 1) + (n / ?) / 50) % 10 + 1 AS course, (n / ?) % 50 AS pos
				FROM generate_series(0, ? - 1) n) x, (VALUES (1), (2)) AS halves(h)`,
			[]any{base, site, start, fmt.Sprintf("%d microseconds", every.Microseconds()), base, learners, learners, learners, learners, steps}},
		{`INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, percent_at, enrolled_at, started_at,
				completed_at, last_activity_at, seen_at)
			SELECT ?, learner_id * 100 + course_id, learner_id, course_id, MAX(percent_after), MAX(occurred_at),
				MIN(occurred_at) - interval '1 day', MIN(occurred_at),
				CASE WHEN MAX(percent_after) >= 100 THEN MAX(occurred_at) END, MAX(occurred_at), MAX(occurred_at)
			FROM learner_events WHERE site_id = ? AND kind = 'progress' GROUP BY learner_id, course_id`, []any{site, site}},
		// Which learner completed which lesson, as the worker records it beside the events.
		{`INSERT INTO lesson_completions (site_id, lesson_id, learner_id, course_id, first_at)
			SELECT ?, lesson_id, learner_id, MIN(course_id), MIN(occurred_at) FROM learner_events
			WHERE site_id = ? AND kind = 'lesson' GROUP BY lesson_id, learner_id`, []any{site, site}},
		// A third of the enrollments came from the import (their percentage as REST gave it).
		{`UPDATE enrollments SET imported_percent = percent, imported_as_of = percent_at WHERE site_id = ? AND id % 3 = 0`, []any{site}},
		{`UPDATE site_imports SET state = 'done', phase = 'done', finished_at = now(), last_done_at = now(), history_from = now() - interval '181 days'
			WHERE site_id = ?`, []any{site}},
		// The delivery log: the latest 2,000 deliveries (older ones have been trimmed).
		{`INSERT INTO inbox (site_id, event_id, topic, body, status, attempts, next_attempt_at, received_at, processed_at)
			SELECT ?, 'e' || n, 'lesson.completed', '{}'::bytea, 'processed', 1, now(), now() - n * interval '1 minute', now()
			FROM generate_series(1, LEAST(2000, ?)) n`, []any{site, steps}},
	}
	for _, s := range statements {
		if err := db.write(ctx).Exec(s.q, s.args...).Error; err != nil {
			return dbError(err, "seed")
		}
	}
	if err := db.seedNextLessons(ctx, site); err != nil {
		return err
	}
	if err := db.RebuildRollups(ctx, site); err != nil {
		return err
	}
	return db.RebuildPace(ctx, site)
}

// seedNextLessons counts the next lesson of a seeded site's enrollments, as the worker
// keeps it.
func (db *DB) seedNextLessons(ctx context.Context, site int64) error {
	err := db.write(ctx).Exec(db.setNextLessons(`SELECT e.site_id, e.id, `+hasLessonSQL+` AS has_lesson, `+nextLessonSQL+` AS next_lesson_id
		FROM enrollments e WHERE e.site_id = ?`), site).Error
	return dbError(err, "seed")
}

// SeedIdle gives a seeded site learners who need attention, as real sites have them: a
// tenth of its learners stopped a month ago (their history is 30 days older), and a fifth
// were also enrolled, by the import, in the next course, which they never started (at 0 %,
// stamped with REST's updated_at a day after enrolling, some time in the last 180 days).
func (db *DB) SeedIdle(ctx context.Context, site int64) error {
	statements := []string{
		`UPDATE learner_events SET occurred_at = occurred_at - interval '30 days' WHERE site_id = @site AND learner_id % 10 = 5`,
		`UPDATE lesson_completions SET first_at = first_at - interval '30 days' WHERE site_id = @site AND learner_id % 10 = 5`,
		`UPDATE enrollments SET percent_at = percent_at - interval '30 days', enrolled_at = enrolled_at - interval '30 days',
			started_at = started_at - interval '30 days', completed_at = completed_at - interval '30 days',
			last_activity_at = last_activity_at - interval '30 days', imported_as_of = imported_as_of - interval '30 days'
			WHERE site_id = @site AND learner_id % 10 = 5`,
		`INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, enrolled_at, last_activity_at, imported_percent,
				imported_as_of, seen_at)
			SELECT site_id, learner_id * 100 + course_id % 10 + 1, learner_id, course_id % 10 + 1, 0, at, at + interval '1 day', 0,
				at + interval '1 day', now()
			FROM (SELECT site_id, learner_id, course_id, now() - (learner_id * 7919 % 180) * interval '1 day' - interval '1 day' AS at
				FROM enrollments WHERE site_id = @site AND learner_id % 5 = 0) e
			ON CONFLICT DO NOTHING`,
	}
	for _, q := range statements {
		if err := db.write(ctx).Exec(q, sql.Named("site", site)).Error; err != nil {
			return dbError(err, "seed")
		}
	}
	if err := db.seedNextLessons(ctx, site); err != nil {
		return err
	}
	return db.RebuildRollups(ctx, site)
}

// EndSeeding moves the learner event id sequence past the seeded ids and refreshes the
// planner's statistics, as after the worker's own writes.
func (db *DB) EndSeeding(ctx context.Context) error {
	err := db.write(ctx).Exec(`SELECT setval(pg_get_serial_sequence('learner_events', 'id'), (SELECT MAX(id) FROM learner_events)); ANALYZE`).Error
	return dbError(err, "seed")
}

// SeedFigures describe a seeded database and its largest site, for bench-pages' report and
// its choice of pages.
type SeedFigures struct {
	Events, SiteEvents, SiteLearners int64
	BusiestCourse                    int64 // the site's course with the most enrollments
	FurthestLearner                  int64 // the site's learner with the highest percent in a course
}

// SeedFiguresOf reads SeedFigures for the site.
func (db *DB) SeedFiguresOf(ctx context.Context, siteID int64) (SeedFigures, error) {
	var f SeedFigures
	g := db.reader(ctx)
	for _, q := range []struct {
		dst  *int64
		sql  string
		args []any
	}{
		{&f.Events, "SELECT COUNT(*) FROM learner_events", nil},
		{&f.SiteEvents, "SELECT COUNT(*) FROM learner_events WHERE site_id = ?", []any{siteID}},
		{&f.SiteLearners, "SELECT COUNT(*) FROM learners WHERE site_id = ?", []any{siteID}},
		{&f.BusiestCourse, "SELECT course_id FROM progress_buckets WHERE site_id = ? GROUP BY course_id ORDER BY SUM(enrollments) DESC LIMIT 1", []any{siteID}},
		{&f.FurthestLearner, "SELECT learner_id FROM enrollments WHERE site_id = ? ORDER BY percent DESC LIMIT 1", []any{siteID}},
	} {
		if err := g.Raw(q.sql, q.args...).Scan(q.dst).Error; err != nil {
			return f, dbError(err, "seed figures")
		}
	}
	return f, nil
}

// Backends lists the PostgreSQL processes that work for this database: its connections
// except those whose application_name is except, and the server's background processes
// (WAL writer, checkpointer, autovacuum…), which its writes keep busy. Pids are the
// server's, so they name processes here only when PostgreSQL runs on this machine.
func (db *DB) Backends(ctx context.Context, except string) ([]int, error) {
	var pids []int
	err := db.reader(ctx).Raw(`SELECT pid FROM pg_stat_activity
		WHERE (datname = current_database() OR datname IS NULL) AND COALESCE(application_name, '') <> ?`, except).Scan(&pids).Error
	return pids, dbError(err, "pg_stat_activity")
}
