package store

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// buffer gathers writes to shared records: the newest version of each record, and the sum
// of each counter's changes.
type buffer struct {
	rows     map[string]map[rowKey]upsert   // table → key → newest row
	counters map[string]map[rowKey]*counter // table → key → deltas
	tenants  map[int64]string
	activity map[EnrollmentKey]time.Time // latest learner activity
	journeys map[JourneyKey]bool         // whose next lesson may have moved: a new completion or enrollment
}

type rowKey struct {
	site int64
	id   string // the rest of the primary key, as text
}

type upsert struct {
	at   time.Time
	vals []any // in the table's column order (see upserts)
}

type counter struct {
	keys   []any // the key columns after site_id
	deltas []int64
}

func newBuffer() *buffer {
	return &buffer{rows: map[string]map[rowKey]upsert{}, counters: map[string]map[rowKey]*counter{}, tenants: map[int64]string{},
		activity: map[EnrollmentKey]time.Time{}, journeys: map[JourneyKey]bool{}}
}

func (b *buffer) put(table string, k rowKey, at time.Time, vals ...any) {
	if b.rows[table] == nil {
		b.rows[table] = map[rowKey]upsert{}
	}
	if cur, ok := b.rows[table][k]; !ok || !at.Before(cur.at) {
		b.rows[table][k] = upsert{at: at, vals: vals}
	}
}

// add adds deltas (one per counted column of table) to the counter row at keys.
func (b *buffer) add(table string, site int64, keys []any, deltas ...int64) {
	if b.counters[table] == nil {
		b.counters[table] = map[rowKey]*counter{}
	}
	k := rowKey{site: site, id: fmt.Sprint(keys[:keyCols(table)]...)}
	c := b.counters[table][k]
	if c == nil {
		c = &counter{keys: keys, deltas: make([]int64, len(deltas))}
		b.counters[table][k] = c
	}
	for i, d := range deltas {
		c.deltas[i] += d
	}
}

func (b *buffer) touch(k EnrollmentKey, at time.Time) {
	if cur, ok := b.activity[k]; !ok || at.After(cur) {
		b.activity[k] = at
	}
}

// upserts are the shared records, each written only by an event at least as new as it.
var upserts = map[string]struct{ cols, set string }{
	"learners": {"site_id, id, email, first_name, last_name, seen_at",
		"email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, seen_at = excluded.seen_at"},
	"courses":  {"site_id, id, name, seen_at", "name = excluded.name, seen_at = excluded.seen_at"},
	"chapters": {"site_id, id, course_id, name, seen_at", "course_id = excluded.course_id, name = excluded.name, seen_at = excluded.seen_at"},
	// A lesson of the curriculum keeps REST's position and type (its contentable_type: Lesson,
	// Quiz, ...): a lesson.completed gives its own kind of type ("Video") and position 0.
	"lessons": {"site_id, id, course_id, chapter_id, name, position, lesson_type, seen_at",
		`course_id = excluded.course_id, chapter_id = excluded.chapter_id, name = excluded.name,
		position = CASE WHEN lessons.course_position IS NULL THEN excluded.position ELSE lessons.position END,
		lesson_type = CASE WHEN lessons.course_position IS NULL THEN excluded.lesson_type ELSE lessons.lesson_type END,
		seen_at = excluded.seen_at`},
}

// counters are the rollups: their key columns after site_id, and their counted columns.
var counters = map[string]struct{ keys, cols []string }{
	"daily_stats":      {[]string{"day"}, []string{"steps", "completions", "enrollments"}},
	"progress_buckets": {[]string{"course_id", "bucket"}, []string{"enrollments"}},
	"lesson_stats":     {[]string{"lesson_id", "course_id"}, []string{"learners"}},
}

// write sends the buffer in key order: one multi-row statement per table.
func (b *buffer) write(tx *gorm.DB, postgres bool) error {
	if err := b.writeActivity(tx, postgres); err != nil {
		return err
	}
	if err := b.writeCompletions(tx); err != nil {
		return err
	}
	for _, table := range slices.Sorted(maps.Keys(b.rows)) {
		if table == "lesson_completions" {
			continue
		}
		m, u := b.rows[table], upserts[table]
		var sb strings.Builder
		var args []any
		fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", table, u.cols)
		for i, k := range slices.SortedFunc(maps.Keys(m), rowKey.compare) {
			vals := m[k].vals
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(" + strings.Repeat("?,", len(vals)-1) + "?)")
			args = append(args, vals...)
		}
		fmt.Fprintf(&sb, " ON CONFLICT (site_id, id) DO UPDATE SET %s WHERE %s.seen_at <= excluded.seen_at", u.set, table)
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	for _, table := range slices.Sorted(maps.Keys(b.counters)) {
		m, c := b.counters[table], counters[table]
		var sb strings.Builder
		var args []any
		fmt.Fprintf(&sb, "INSERT INTO %s (site_id, %s, %s) VALUES ", table, strings.Join(c.keys, ", "), strings.Join(c.cols, ", "))
		for i, k := range slices.SortedFunc(maps.Keys(m), rowKey.compare) {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(" + strings.Repeat("?,", len(c.keys)+len(c.cols)) + "?)")
			args = append(args, k.site)
			args = append(args, m[k].keys...)
			for _, d := range m[k].deltas {
				args = append(args, d)
			}
		}
		var set []string
		for _, col := range c.cols {
			set = append(set, fmt.Sprintf("%s = %s.%s + excluded.%s", col, table, col, col))
		}
		fmt.Fprintf(&sb, " ON CONFLICT (site_id, %s) DO UPDATE SET %s", strings.Join(c.keys[:keyCols(table)], ", "), strings.Join(set, ", "))
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	for _, site := range slices.Sorted(maps.Keys(b.tenants)) {
		t := b.tenants[site]
		if err := tx.Exec(`UPDATE sites SET tenant_id = ? WHERE id = ? AND tenant_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM sites other WHERE other.tenant_id = ?)`, t, site, t).Error; err != nil {
			return err
		}
	}
	return nil
}

// writeActivity moves enrollments' last activity forward: on PostgreSQL in one statement.
func (b *buffer) writeActivity(tx *gorm.DB, postgres bool) error {
	keys := slices.SortedFunc(maps.Keys(b.activity), EnrollmentKey.compare)
	if len(keys) == 0 {
		return nil
	}
	if !postgres {
		for _, k := range keys {
			at := b.activity[k].UTC()
			if err := tx.Exec(`UPDATE enrollments SET last_activity_at = ? WHERE site_id = ? AND id = ?
				AND (last_activity_at IS NULL OR last_activity_at < ?)`, at, k.SiteID, k.ID, at).Error; err != nil {
				return err
			}
		}
		return nil
	}
	var sb strings.Builder
	var args []any
	sb.WriteString("UPDATE enrollments AS e SET last_activity_at = v.at FROM (VALUES ")
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ))")
		args = append(args, k.SiteID, k.ID, b.activity[k].UTC())
	}
	sb.WriteString(") AS v(site_id, id, at) WHERE e.site_id = v.site_id AND e.id = v.id AND (e.last_activity_at IS NULL OR e.last_activity_at < v.at)")
	return tx.Exec(sb.String(), args...).Error
}

// writeCompletions inserts the batch's lesson completions and counts, per lesson, the
// learners for whom one is new: the funnel.
func (b *buffer) writeCompletions(tx *gorm.DB) error {
	m := b.rows["lesson_completions"]
	if len(m) == 0 {
		return nil
	}
	var sb strings.Builder
	var args []any
	sb.WriteString("INSERT INTO lesson_completions (site_id, lesson_id, learner_id, course_id, first_at) VALUES ")
	for i, k := range slices.SortedFunc(maps.Keys(m), rowKey.compare) {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?,?,?,?,?)")
		args = append(args, m[k].vals...)
	}
	sb.WriteString(" ON CONFLICT (site_id, lesson_id, learner_id) DO NOTHING RETURNING site_id, lesson_id, course_id, learner_id")
	rows, err := tx.Raw(sb.String(), args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var site, lesson, course, learner int64
		if err := rows.Scan(&site, &lesson, &course, &learner); err != nil {
			return err
		}
		b.add("lesson_stats", site, []any{lesson, course}, 1)
		b.journeys[JourneyKey{site, learner, course}] = true
	}
	return rows.Err()
}

// keyCols is how many of a counter table's key columns form its primary key (lesson_stats
// carries course_id beside its key).
func keyCols(table string) int {
	if table == "lesson_stats" {
		return 1
	}
	return len(counters[table].keys)
}

// compare orders row keys by site, then by the rest of the key.
func (k rowKey) compare(o rowKey) int {
	return cmp.Or(cmp.Compare(k.site, o.site), strings.Compare(k.id, o.id))
}
