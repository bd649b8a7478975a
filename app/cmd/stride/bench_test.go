package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/internal/testdb"
)

// inProcessServe starts `stride serve` in this process: a test's executable is the test
// binary, which cannot be re-executed as stride.
func inProcessServe(out io.Writer) benchStarter {
	return func(env map[string]string) (*benchServer, error) {
		ctx, cancel := context.WithCancel(context.Background())
		serve := func() error { return run(ctx, []string{"serve"}, func(k string) string { return env[k] }, out) }
		return newBenchServer(os.Getpid(), cancel, serve), nil
	}
}

func benchSitesIn(t *testing.T, dbURL string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM sites WHERE gid LIKE $1", benchGIDPrefix+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A short run against a real server and PostgreSQL: every figure is reported, no delivery
// fails, every step is seen paired, and the bench's sites go unless --keep.
func TestBenchReportsEveryFigure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantSites int
	}{
		{"cleans up", nil, 0},
		{"keeps its data", []string{"--keep"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := testdb.Postgres(t)
			var logs syncBuffer
			o, err := parseBenchFlags(append([]string{"--duration", "500ms", "--rate", "200", "--concurrency", "4", "--sites", "2"}, tc.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.start = inProcessServe(&logs)
			var out bytes.Buffer
			env := map[string]string{"DATABASE_URL": dbURL}
			if err := runBench(context.Background(), o, func(k string) string { return env[k] }, &out); err != nil {
				t.Fatalf("%v\n%s\nserver logs:\n%s", err, out.String(), logs.String())
			}
			report := out.String()
			for _, want := range []string{
				`machine +\d+ CPUs \(\d+% busy in the second before the run\), go1\.\S+, PostgreSQL 15.* \(synchronous_commit=\w+, fsync=\w+`,
				`events +signed lesson\.completed \(\d{3,4} B\) and enrollment\.progress \(\d{3,4} B\) over 2 sites`,
				`reproduce +DATABASE_URL='postgres://.*' stride bench --duration 500ms --rate 200 --concurrency 4 --sites 2`,
				`throughput, 4 connections +\d+ events/s +≥ 5000/s +(PASS|MISS)`,
				`ack at 200/s, p50 / p99 / max +[\d.]+ / [\d.]+ / [\d.]+ ms +p99 ≤ 25 ms +(PASS|MISS)`,
				`ack to paired step, p50 / p99 / max +[\d.]+ / [\d.]+ / [\d.]+ ms +p99 ≤ 1 s +(PASS|MISS)`,
				`peak RSS of stride serve +[\d.]+ MB +≤ 256 MB +(PASS|MISS)`,
				`fixed-rate phase +100 of 100 events accepted .* 0 errors; 50 steps seen paired, 0 not within 30 s`,
				`shutdown +[\d.]+ s after SIGTERM \(ended cleanly\)`,
			} {
				if !regexp.MustCompile(want).MatchString(report) {
					t.Errorf("report lacks %s:\n%s", want, report)
				}
			}
			if strings.Contains(report, "error ") {
				t.Errorf("report shows errors:\n%s", report)
			}
			if n := benchSitesIn(t, dbURL); n != tc.wantSites {
				t.Errorf("%d bench sites left, want %d", n, tc.wantSites)
			}
		})
	}
}

func TestBenchRefuses(t *testing.T) {
	withForeignSite := func(t *testing.T) string {
		dbURL := testdb.Postgres(t)
		env := map[string]string{"DATABASE_URL": dbURL}
		if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, io.Discard); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), `INSERT INTO sites (subdomain, gid, installed_at, webhooks_due_at, created_at, updated_at)
			VALUES ('acme', 'real-gid', now(), now(), now(), now())`)
		if err != nil {
			t.Fatal(err)
		}
		return dbURL
	}
	for _, tc := range []struct {
		name  string
		dbURL func(t *testing.T) string
		want  string
	}{
		{"SQLite", func(*testing.T) string { return "" }, "needs DATABASE_URL"},
		{"a database with real sites", withForeignSite, "1 site(s) the bench did not install"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": tc.dbURL(t)}
			o, _ := parseBenchFlags(nil, io.Discard)
			o.start = func(map[string]string) (*benchServer, error) { t.Fatal("a server was started"); return nil, nil }
			err := runBench(context.Background(), o, func(k string) string { return env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestBenchFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"double dashes", []string{"--duration", "2s", "--rate", "50", "--keep"}, true},
		{"no rate", []string{"--rate", "0"}, false},
		{"stray argument", []string{"now"}, false},
		{"unknown flag", []string{"--fast"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseBenchFlags(tc.args, io.Discard)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.name == "defaults" && (o.duration != 10*time.Second || o.rate != 1000 || o.concurrency != 64 || o.sites != 20 || o.keep) {
				t.Fatalf("defaults %+v", o)
			}
		})
	}
}

// The generated events are what the receiver and the worker accept: about a kilobyte,
// signed with the client secret, for the site they are sent to, the halves of one step
// within a few milliseconds of each other.
func TestBenchEvents(t *testing.T) {
	sites := []benchSite{{id: 7, subdomain: "bench-001", gid: benchGIDPrefix + "0001", tenant: "990001"}}
	l := newLoad("http://127.0.0.1:1", "the-secret", sites, 1)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for range 3 {
		lesson, progress := l.step(at)
		for _, d := range []delivery{lesson, progress} {
			if len(d.body) < 950 || len(d.body) > 1100 {
				t.Errorf("%s is %d bytes, want about 1 KB", d.topic, len(d.body))
			}
			m := hmac.New(sha256.New, []byte("the-secret"))
			m.Write(d.body)
			if d.signature != hex.EncodeToString(m.Sum(nil)) {
				t.Errorf("%s: bad signature", d.topic)
			}
			ev, err := events.ParseEnvelope(d.body)
			if err != nil || ev.Topic() != d.topic || ev.ID != d.eventID || ev.TenantGlobalID != sites[0].gid || ev.TenantID != "990001" {
				t.Fatalf("%s: %+v %v\n%s", d.topic, ev, err, d.body)
			}
		}
		le, _ := events.ParseEnvelope(lesson.body)
		pe, _ := events.ParseEnvelope(progress.body)
		lc, err := events.ParseLessonCompleted(le.Payload)
		if err != nil {
			t.Fatal(err)
		}
		en, err := events.ParseEnrollment(pe.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if lc.User.ID != en.User.ID || lc.Course.ID != en.CourseID || lc.Enrollment.ID != en.ID || !en.Percentage.Set {
			t.Errorf("halves of one step disagree: %+v / %+v", lc, en)
		}
		if gap := pe.CreatedAt.Sub(le.CreatedAt); gap < 0 || gap > 5*time.Millisecond {
			t.Errorf("halves %v apart", gap)
		}
	}
}
