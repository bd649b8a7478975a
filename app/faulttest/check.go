//go:build fault

package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strideapp/stride/app/stride"
)

// key names one event of one site, as the inbox's unique key does.
type key struct {
	site  int64
	event string
}

func keyOf(ev *event) key { return key{ev.Site.ID, ev.ID} }

type inboxRow struct {
	topic, status, lastError string
	attempts                 int
	body                     []byte
}

// snapshot is what the database holds, read straight from the tables.
type snapshot struct {
	inbox      map[key][]inboxRow
	learner    map[key][]string // kinds of the learner_events rows
	duplicates map[key]int      // repeats counted on each inbox row
}

func read(t testing.TB, pg *postgres) *snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatalf("reading the database: %v", err)
	}
	defer conn.Close(ctx)
	s := &snapshot{inbox: map[key][]inboxRow{}, learner: map[key][]string{}, duplicates: map[key]int{}}
	rows, _ := conn.Query(ctx, "SELECT site_id, event_id, topic, status, last_error, attempts, body FROM inbox")
	var k key
	var r inboxRow
	if _, err := pgx.ForEachRow(rows, []any{&k.site, &k.event, &r.topic, &r.status, &r.lastError, &r.attempts, &r.body}, func() error {
		s.inbox[k] = append(s.inbox[k], r)
		return nil
	}); err != nil {
		t.Fatalf("reading the inbox: %v", err)
	}
	var kind string
	rows, _ = conn.Query(ctx, "SELECT site_id, event_id, kind FROM learner_events")
	if _, err := pgx.ForEachRow(rows, []any{&k.site, &k.event, &kind}, func() error {
		s.learner[k] = append(s.learner[k], kind)
		return nil
	}); err != nil {
		t.Fatalf("reading learner_events: %v", err)
	}
	var n int
	rows, _ = conn.Query(ctx, "SELECT site_id, event_id, duplicates FROM inbox WHERE duplicates > 0")
	if _, err := pgx.ForEachRow(rows, []any{&k.site, &k.event, &n}, func() error {
		s.duplicates[k] += n
		return nil
	}); err != nil {
		t.Fatalf("reading repeats: %v", err)
	}
	return s
}

// checkAckedStored fails for every event that got a 2xx but is not in the inbox exactly
// once, with the bytes that were signed. Run it before anything is re-sent, or a re-send
// would hide a lost delivery.
func checkAckedStored(t testing.TB, s *snapshot, recs []*record, when string) (acked int) {
	t.Helper()
	p := problems{what: "acknowledged deliveries not stored exactly once " + when}
	for _, r := range recs {
		a, ok := r.acked()
		if !ok {
			continue
		}
		acked++
		rows := s.inbox[keyOf(r.event)]
		switch {
		case len(rows) != 1:
			p.add("%v was answered %v (sent %s) but the inbox holds %d rows for (site %d, %s); want exactly 1",
				r.event, a, clock(a.Sent), len(rows), r.Site.ID, r.ID)
		case !bytes.Equal(rows[0].body, r.Body):
			p.add("%v: the inbox body (%d bytes) is not the body that was signed (%d bytes)", r.event, len(rows[0].body), len(r.Body))
		case rows[0].topic != r.Topic:
			p.add("%v: stored with topic %q", r.event, rows[0].topic)
		}
	}
	p.report(t)
	return acked
}

// checkApplied fails unless every event sent is in the inbox exactly once, processed, and
// applied exactly once (a lesson.completed or enrollment.progress: one learner_events row of
// its kind; another topic: none), and nothing else is there.
func checkApplied(t testing.TB, s *snapshot, recs []*record) {
	t.Helper()
	p := problems{what: "events not stored and applied exactly once"}
	sent := map[key]bool{}
	for _, r := range recs {
		k := keyOf(r.event)
		sent[k] = true
		rows := s.inbox[k]
		if len(rows) != 1 {
			p.add("%v (answers: %s): %d inbox rows, want exactly 1", r.event, r.history(), len(rows))
			continue
		}
		if rows[0].status != "processed" {
			p.add("%v: inbox status %q after %d attempts (last error %q), want processed", r.event, rows[0].status, rows[0].attempts, rows[0].lastError)
		}
		want, half := map[string]string{stride.TopicLessonCompleted: "lesson", stride.TopicEnrollmentProgress: "progress"}[r.Topic]
		switch kinds := s.learner[k]; {
		case !half && len(kinds) > 0:
			p.add("%v: learner_events rows of kinds %v, want none", r.event, kinds)
		case half && (len(kinds) != 1 || kinds[0] != want):
			p.add("%v: learner_events rows of kinds %v, want exactly one %q", r.event, kinds, want)
		}
	}
	for k, rows := range s.inbox {
		if !sent[k] {
			p.add("inbox row for (site %d, %s) with status %s, but no such event was sent", k.site, k.event, rows[0].status)
		}
	}
	for k, kinds := range s.learner {
		if !sent[k] {
			p.add("learner_events rows %v for (site %d, %s), but no such event was sent", kinds, k.site, k.event)
		}
	}
	p.report(t)
}

// waitDrained waits until the workers have taken every inbox row, and returns how long
// that took.
func waitDrained(t testing.TB, pg *postgres, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var waiting, total int64
	for {
		conn, err := pgx.Connect(ctx, pg.URL)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT COUNT(*) FILTER (WHERE status = 'accepted'), COUNT(*) FROM inbox").Scan(&waiting, &total)
			conn.Close(context.Background())
		}
		if err == nil && waiting == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("workers did not drain the inbox within %v: %d of %d rows still accepted (last error: %v)", within, waiting, total, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkOneAccepted fails for an event answered "accepted" more than once: the second
// would mean it was stored twice.
func checkOneAccepted(t testing.TB, recs []*record) {
	t.Helper()
	p := problems{what: `events answered "accepted" more than once`}
	for _, r := range recs {
		n := 0
		for _, a := range r.answers {
			if a.ok() && a.Outcome == "accepted" {
				n++
			}
		}
		if n > 1 {
			p.add("%v: %s", r.event, r.history())
		}
	}
	p.report(t)
}

// checkNoDeadlocks fails when PostgreSQL broke a deadlock while the test ran: the victim
// transaction is rolled back, and if it was an inbox batch, every delivery in it was answered
// 503 although the database was up.
func checkNoDeadlocks(t testing.TB, pg *postgres) {
	t.Helper()
	b, err := os.ReadFile(pg.Log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var found []int
	for i, l := range lines {
		if strings.Contains(l, "ERROR:  deadlock detected") {
			found = append(found, i)
		}
	}
	if len(found) > 0 {
		first := lines[found[0]:min(found[0]+8, len(lines))]
		t.Errorf("PostgreSQL detected %d deadlock(s); the first:\n%s", len(found), strings.Join(first, "\n"))
	}
}

// history is every answer the event got, for failure messages.
func (r *record) history() string {
	var parts []string
	for _, a := range r.answers {
		parts = append(parts, clock(a.Sent)+" "+a.String())
	}
	return strings.Join(parts, "; ")
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }

// problems gathers the failures of one check and reports them together: the first few in
// full and how many there were.
type problems struct {
	what string
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) report(t testing.TB) {
	t.Helper()
	if len(p.list) == 0 {
		return
	}
	shown := p.list[:min(len(p.list), 15)]
	more := ""
	if n := len(p.list) - len(shown); n > 0 {
		more = fmt.Sprintf("\n  ... and %d more", n)
	}
	t.Errorf("%s: %d\n  %s%s", p.what, len(p.list), strings.Join(shown, "\n  "), more)
}
