package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// seed fills the database with sites whose records look as the worker leaves them: learners,
// 10 courses of 5 chapters and 50 lessons, paired learner steps spread over 180 days,
// enrollments and every rollup. The largest site is bench-0.
func seed(ctx context.Context, db *store.DB, sites, events, largest, learners int, out io.Writer) error {
	g := db.Gorm().WithContext(ctx)
	for _, t := range []string{"learner_events", "enrollments", "lessons", "chapters", "courses", "learners", "lesson_stats",
		"daily_stats", "progress_buckets", "inbox", "sites"} {
		col := "site_id"
		if t == "sites" {
			col = "id"
		}
		if err := g.Exec("DELETE FROM " + t + " WHERE " + col + " IN (SELECT id FROM sites WHERE gid LIKE 'bench-gid-%')").Error; err != nil {
			return err
		}
	}
	rest := max(0, events/2-largest) / max(1, sites-1)
	for i := range sites {
		steps, people := largest, learners
		if i > 0 {
			steps, people = rest, max(10, rest/20)
		}
		site, _, err := db.SaveInstall(ctx, store.Install{Subdomain: fmt.Sprintf("bench-%d", i), GID: fmt.Sprintf("bench-gid-%d", i),
			Tokens: stride.Tokens{Access: "bench", Refresh: "bench", Expiry: time.Now().Add(time.Hour)}})
		if err != nil {
			return err
		}
		if err := seedSite(ctx, db, site.ID, steps, people); err != nil {
			return fmt.Errorf("seeding site %d: %w", i, err)
		}
		if i%20 == 0 || i == sites-1 {
			fmt.Fprintf(out, "seeding: %d/%d sites\n", i+1, sites)
		}
	}
	return g.Exec(`SELECT setval(pg_get_serial_sequence('learner_events', 'id'), (SELECT MAX(id) FROM learner_events)); ANALYZE`).Error
}

func seedSite(ctx context.Context, db *store.DB, site int64, steps, learners int) error {
	g := db.Gorm().WithContext(ctx)
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
		{`INSERT INTO courses (site_id, id, name, seen_at) SELECT ?, c, 'Course ' || c, now() FROM generate_series(1, 10) c`, []any{site}},
		{`INSERT INTO chapters (site_id, id, course_id, name, seen_at)
			SELECT ?, c * 100 + ch, c, 'Chapter ' || ch, now() FROM generate_series(1, 10) c, generate_series(1, 5) ch`, []any{site}},
		{`INSERT INTO lessons (site_id, id, course_id, chapter_id, name, position, lesson_type, seen_at)
			SELECT ?, c * 1000 + k, c, c * 100 + (k - 1) / 10 + 1, 'Lesson ' || k, (k - 1) % 10, 'Text', now()
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
		{`INSERT INTO lesson_stats (site_id, lesson_id, course_id, learners)
			SELECT ?, lesson_id, course_id, COUNT(DISTINCT learner_id) FROM learner_events
			WHERE site_id = ? AND kind = 'lesson' GROUP BY lesson_id, course_id`, []any{site, site}},
		{`INSERT INTO progress_buckets (site_id, course_id, bucket, enrollments)
			SELECT ?, course_id, LEAST(100, FLOOR(percent))::int, COUNT(*) FROM enrollments WHERE site_id = ? GROUP BY 2, 3`, []any{site, site}},
		{`INSERT INTO daily_stats (site_id, day, steps, completions, enrollments)
			SELECT ?, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), COUNT(*), 0, 0 FROM learner_events
			WHERE site_id = ? AND kind = 'lesson' GROUP BY 2`, []any{site, site}},
		{`INSERT INTO daily_stats (site_id, day, steps, completions, enrollments)
			SELECT ?, to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, COUNT(*), 0 FROM enrollments
			WHERE site_id = ? AND completed_at IS NOT NULL GROUP BY 2
			ON CONFLICT (site_id, day) DO UPDATE SET completions = excluded.completions`, []any{site, site}},
		// The delivery log: the latest 2,000 deliveries (older ones have been trimmed).
		{`INSERT INTO inbox (site_id, event_id, topic, body, status, attempts, next_attempt_at, received_at, processed_at)
			SELECT ?, 'e' || n, 'lesson.completed', '{}'::bytea, 'processed', 1, now(), now() - n * interval '1 minute', now()
			FROM generate_series(1, LEAST(2000, ?)) n`, []any{site, steps}},
	}
	for _, s := range statements {
		if err := g.Exec(s.q, s.args...).Error; err != nil {
			return err
		}
	}
	return nil
}
