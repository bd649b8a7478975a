package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// InboxRow is an inbox row a worker has claimed.
type InboxRow struct {
	ID       int64
	SiteID   int64
	EventID  string
	Topic    string
	Body     []byte
	Attempts int
}

// WorkTx is one worker transaction over a batch of claimed inbox rows. Writes to records
// that many events share — learners, courses, chapters, lessons, counters — are gathered
// and written once per batch at the end, in key order, as are the batch's enrollments, so a
// batch costs a few statements per table and two workers never deadlock on a shared row.
type WorkTx struct {
	db        *DB
	tx        *gorm.DB
	now       time.Time
	batch     *buffer
	processed []int64
	// Halves are inserted together, enrollments read and written together.
	pending          []*Half                       // halves not yet inserted
	inserted         []*Half                       // halves the batch inserted together
	states           map[[2]int64]*EnrollmentState // (site, enrollment) → state; nil: no such enrollment
	enrollmentWrites map[[2]int64]*enrollmentWrite // (site, enrollment) → not yet written
}

// ClaimInbox claims up to limit due rows and runs fn on them in one transaction. On
// PostgreSQL the rows are locked with SKIP LOCKED, so several workers in several processes
// take disjoint batches; a worker that dies releases its rows with its connection. On
// SQLite the transaction holds the write lock. A failure undoes the whole batch, the
// shared writes included: the caller then applies the rows one per transaction (see
// MarkRetry). It returns the rows it claimed, whether or not fn succeeded.
func (db *DB) ClaimInbox(ctx context.Context, limit int, fn func(w *WorkTx, rows []InboxRow) error) ([]InboxRow, error) {
	var claimed []InboxRow
	err := db.tx(ctx, func(tx *gorm.DB) error {
		now := db.now()
		q := tx.Table("inbox").Select("id, site_id, event_id, topic, body, attempts").
			Where("status = ? AND next_attempt_at <= ?", StatusAccepted, now).
			Order("next_attempt_at").Limit(limit) // the order the inbox_due index gives, so LIMIT stops early
		if db.postgres {
			q = q.Clauses(lockSkipLocked)
		}
		var rows []InboxRow
		if err := q.Scan(&rows).Error; err != nil {
			return err
		}
		claimed = rows
		if len(rows) == 0 {
			return nil
		}
		w := &WorkTx{db: db, tx: tx, now: now, batch: newBuffer(),
			states: map[[2]int64]*EnrollmentState{}, enrollmentWrites: map[[2]int64]*enrollmentWrite{}}
		if err := fn(w, rows); err != nil {
			return err
		}
		return w.flush()
	})
	return claimed, err
}

// Apply runs fn for one row, with a view of the row's site whose shared writes go out with
// the batch.
func (w *WorkTx) Apply(row InboxRow, fn func(s *SiteTx) error) error {
	return fn(&SiteTx{tx: w.tx, siteID: row.SiteID, db: w.db, buf: w.batch, w: w})
}

// Site is a view of one site's records that writes shared records with the batch, for work
// done once per batch rather than per event.
func (w *WorkTx) Site(siteID int64) *SiteTx {
	return &SiteTx{tx: w.tx, siteID: siteID, db: w.db, buf: w.batch, w: w}
}

// Prefetch reads the state of the batch's enrollments, (site, enrollment id) pairs, in one
// query, so that applying each event does not read its enrollment again.
func (w *WorkTx) Prefetch(keys [][2]int64) error {
	if len(keys) == 0 {
		return nil
	}
	var tuples []string
	var args []any
	for _, k := range keys {
		if _, dup := w.states[k]; dup {
			continue
		}
		w.states[k] = nil
		tuples = append(tuples, "(?,?)")
		args = append(args, k[0], k[1])
	}
	var rows []struct {
		SiteID, ID int64
		EnrollmentState
	}
	err := w.tx.Raw("SELECT site_id, id, percent, percent_at, completed_at, enrolled_at, seen_at FROM enrollments WHERE (site_id, id) IN ("+
		strings.Join(tuples, ",")+")", args...).Scan(&rows).Error
	for i := range rows {
		w.states[[2]int64{rows[i].SiteID, rows[i].ID}] = &rows[i].EnrollmentState
	}
	return err
}

// FlushHalves inserts the halves gathered so far in one statement and returns every half
// the batch inserted that way. A half whose event was applied before is left out.
func (w *WorkTx) FlushHalves() ([]*Half, error) {
	if len(w.pending) == 0 {
		return w.inserted, nil
	}
	pending := w.pending
	w.pending = nil
	var sb strings.Builder
	var args []any
	byKey := make(map[rowKey]*Half, len(pending))
	sb.WriteString(`INSERT INTO learner_events (site_id, event_id, kind, learner_id, course_id, enrollment_id, occurred_at,
		chapter_id, lesson_id, percent_before, percent_after, before_given) VALUES `)
	for i, h := range pending {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?)")
		args = append(args, h.SiteID, h.EventID, h.Kind, h.LearnerID, h.CourseID, h.EnrollmentID, h.OccurredAt,
			h.ChapterID, h.LessonID, h.PercentBefore, h.PercentAfter, h.BeforeGiven)
		byKey[rowKey{h.SiteID, h.EventID}] = h
	}
	// Ids come back by (site, event), not by position: a replayed event is skipped.
	sb.WriteString(" ON CONFLICT (site_id, event_id) DO NOTHING RETURNING id, site_id, event_id")
	rows, err := w.tx.Raw(sb.String(), args...).Rows()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, site int64
		var event string
		if err := rows.Scan(&id, &site, &event); err != nil {
			rows.Close()
			return nil, err
		}
		if h := byKey[rowKey{site, event}]; h != nil {
			h.ID = id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, h := range pending {
		if h.ID == 0 {
			continue // a replay: not inserted again
		}
		w.inserted = append(w.inserted, h)
		if h.Kind == HalfLesson && h.LessonID != nil {
			w.Site(h.SiteID).countCompletion(h)
		}
	}
	return w.inserted, nil
}

// Processed marks a row applied (written with the batch).
func (w *WorkTx) Processed(row InboxRow) { w.processed = append(w.processed, row.ID) }

// Failed parks a row the batch cannot read: it stays visible with its error and can be
// replayed.
func (w *WorkTx) Failed(row InboxRow, cause error) error {
	return w.tx.Table("inbox").Where("id = ?", row.ID).
		Updates(map[string]any{"status": StatusFailed, "attempts": row.Attempts + 1, "processed_at": w.now, "last_error": errorText(cause)}).Error
}

// MarkRetry records a failed attempt at a row, in its own transaction (the one that failed
// was rolled back), and puts the row back for another attempt at next. It changes nothing
// when the row moved on meanwhile (applied or marked by another worker).
func (db *DB) MarkRetry(ctx context.Context, row InboxRow, cause error, next time.Time) error {
	err := db.write(ctx).Table("inbox").Where("id = ? AND status = ? AND attempts = ?", row.ID, StatusAccepted, row.Attempts).
		Updates(map[string]any{"attempts": row.Attempts + 1, "next_attempt_at": next.UTC(), "last_error": errorText(cause)}).Error
	return dbError(err, "inbox")
}

// MarkFailed parks a row that failed for good, in its own transaction: it stays visible
// with its error and can be replayed.
func (db *DB) MarkFailed(ctx context.Context, row InboxRow, cause error) error {
	err := db.write(ctx).Table("inbox").Where("id = ? AND status = ? AND attempts = ?", row.ID, StatusAccepted, row.Attempts).
		Updates(map[string]any{"status": StatusFailed, "attempts": row.Attempts + 1, "processed_at": db.now(), "last_error": errorText(cause)}).Error
	return dbError(err, "inbox")
}

// Lock takes transaction-scoped advisory locks on keys, in the order given (callers sort
// them, so that two workers never wait on each other in a cycle), in one round trip.
func (w *WorkTx) Lock(keys []int64) error {
	if !w.db.postgres || len(keys) == 0 {
		return nil // SQLite: the transaction already holds the only write lock
	}
	return w.tx.Exec("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", keys).Error
}

func (w *WorkTx) flush() error {
	if err := w.writeEnrollments(); err != nil {
		return err
	}
	if err := w.batch.write(w.tx, w.db.postgres); err != nil {
		return err
	}
	if len(w.processed) == 0 {
		return nil
	}
	return w.tx.Exec("UPDATE inbox SET status = ?, attempts = attempts + 1, processed_at = ?, last_error = '' WHERE id IN ?",
		StatusProcessed, w.now, w.processed).Error
}

// errorText is an error as the delivery log keeps it (see logText).
func errorText(err error) string { return logText(err.Error()) }

// logText is a message as the delivery log keeps it: valid UTF-8 without NUL (PostgreSQL
// text refuses both, and a message may quote the bad input), at most 1,000 bytes.
func logText(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "")
	}
	return s
}

// buffer gathers writes to shared records: the newest version of each record, and the sum
// of each counter's changes.
type buffer struct {
	rows     map[string]map[rowKey]upsert   // table → key → newest row
	counters map[string]map[rowKey]*counter // table → key → deltas
	tenants  map[int64]string
	activity map[[2]int64]time.Time // (site, enrollment) → latest learner activity
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
		activity: map[[2]int64]time.Time{}}
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

func (b *buffer) merge(o *buffer) {
	for t, m := range o.rows {
		for k, u := range m {
			b.put(t, k, u.at, u.vals...)
		}
	}
	for t, m := range o.counters {
		for k, c := range m {
			b.add(t, k.site, c.keys, c.deltas...)
		}
	}
	for s, t := range o.tenants {
		b.tenants[s] = t
	}
	for k, at := range o.activity {
		b.touch(k, at)
	}
}

func (b *buffer) touch(k [2]int64, at time.Time) {
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
	"lessons": {"site_id, id, course_id, chapter_id, name, position, lesson_type, seen_at",
		"course_id = excluded.course_id, chapter_id = excluded.chapter_id, name = excluded.name, position = excluded.position, lesson_type = excluded.lesson_type, seen_at = excluded.seen_at"},
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
	keys := slices.SortedFunc(maps.Keys(b.activity), compareKeys)
	if len(keys) == 0 {
		return nil
	}
	if !postgres {
		for _, k := range keys {
			at := b.activity[k].UTC()
			if err := tx.Exec(`UPDATE enrollments SET last_activity_at = ? WHERE site_id = ? AND id = ?
				AND (last_activity_at IS NULL OR last_activity_at < ?)`, at, k[0], k[1], at).Error; err != nil {
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
		args = append(args, k[0], k[1], b.activity[k].UTC())
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
	sb.WriteString(" ON CONFLICT (site_id, lesson_id, learner_id) DO NOTHING RETURNING site_id, lesson_id, course_id")
	rows, err := tx.Raw(sb.String(), args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var site, lesson, course int64
		if err := rows.Scan(&site, &lesson, &course); err != nil {
			return err
		}
		b.add("lesson_stats", site, []any{lesson, course}, 1)
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
