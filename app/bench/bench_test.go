package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/internal/stridebin"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func openStore(t *testing.T, dbURL string) *store.DB {
	t.Helper()
	keys, _ := secret.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: dbURL, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// benchSitesIn counts which of the first n sites the bench installs are in the database.
func benchSitesIn(t *testing.T, dbURL string, n int) int {
	t.Helper()
	db, found := openStore(t, dbURL), 0
	for i := range n {
		_, err := db.SiteByGID(context.Background(), fmt.Sprintf("%s%04d", benchGIDPrefix, i+1))
		switch {
		case err == nil:
			found++
		case stride.ErrorCode(err) != stride.ENOTFOUND:
			t.Fatal(err)
		}
	}
	return found
}

// A short run against a real server and PostgreSQL: every figure is reported, no delivery
// fails, every step is seen paired, and the bench's sites go unless --keep.
func TestBenchReportsEveryFigure(t *testing.T) {
	// The test binary is not stride: build the stride the bench runs as its server.
	exe, err := stridebin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string // the partner's, beside DATABASE_URL
		wantSites int
		wantSet   []string // lines of the configuration measured
	}{
		{"cleans up", nil, nil, 0, []string{`LOG_LEVEL=info \(default\)`, `DATABASE_MAX_CONNECTIONS=5 \(default\)`,
			`PAIRING_WINDOW=500ms \(default\)`, `GOMAXPROCS=\d+ \(default\)`, `GOGC=100 \(default\)`}},
		{"keeps its data", []string{"--keep"}, map[string]string{"LOG_LEVEL": "warn", "GOGC": "200"}, 2,
			[]string{`LOG_LEVEL=warn \(from your environment\)`, `GOGC=200 \(from your environment\)`, `GOMEMLIMIT=none \(default\)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := testdb.Postgres(t)
			o, err := parseFlags(append([]string{"--duration", "500ms", "--rate", "200", "--concurrency", "4", "--sites", "2"}, tc.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.exe = exe // logs to stderr, which the test shows
			var out bytes.Buffer
			env := map[string]string{"DATABASE_URL": dbURL}
			for k, v := range tc.env {
				env[k] = v
			}
			if err := run(context.Background(), o, func(k string) string { return env[k] }, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			report := out.String()
			for _, want := range []string{
				`machine +\d+ CPUs \(\d+% busy in the second before the run\), go1\.\S+, PostgreSQL 15.* \(synchronous_commit=\w+, fsync=\w+`,
				`events +signed lesson\.completed \(\d{3,4} B\) and enrollment\.progress \(\d{3,4} B\) over 2 sites`,
				`reproduce +DATABASE_URL='postgres://.*' stride bench --duration 500ms --rate 200 --concurrency 4 --sites 2`,
				`measured +LOG_LEVEL=`,
				`throughput, 4 connections +\d+ events/s +≥ 5000/s +(PASS|MISS)`,
				`throughput, one site, 4 connections +\d+ events/s +≥ 5000/s +(PASS|MISS)`,
				`backlog of a 500ms burst, applied in +[\d.]+ s +≤ 15 s +(PASS|MISS)`,
				`worker alone drains +\d+ events/s`,
				`CPU per event at 200/s, serve \+ PostgreSQL +[\d.]+ ms`,
				`cost +[\d.]+ ms per event applied \(serve [\d.]+ \+ PostgreSQL [\d.]+\), over 100 events, until applied`,
				`one-site phase +\d+ of \d+ events accepted .* 0 errors`,
				`worker alone +100 events written to the inbox, no server running; stride worker had applied them all [\d.]+ s after it started`,
				`cost +[\d.]+ ms per event applied \(worker [\d.]+ \+ PostgreSQL [\d.]+\), over 100 events`,
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
			for _, want := range tc.wantSet {
				if !regexp.MustCompile(`(?m)^(measured)? +` + want + `$`).MatchString(report) {
					t.Errorf("report lacks %s:\n%s", want, report)
				}
			}
			if strings.Contains(report, "error ") {
				t.Errorf("report shows errors:\n%s", report)
			}
			if n := benchSitesIn(t, dbURL, 2); n != tc.wantSites {
				t.Errorf("%d bench sites left, want %d", n, tc.wantSites)
			}
		})
	}
}

func TestBenchRefuses(t *testing.T) {
	withForeignSite := func(t *testing.T) string {
		dbURL := testdb.Postgres(t)
		db := openStore(t, dbURL)
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.SaveInstall(context.Background(), store.Grant{Subdomain: "acme", GID: "real-gid"}); err != nil {
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
			o, _ := parseFlags(nil, io.Discard)
			o.exe = "/nonexistent/stride" // starting a server would fail with another error
			err := run(context.Background(), o, func(k string) string { return env[k] }, io.Discard)
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
			o, err := parseFlags(tc.args, io.Discard)
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

// Making a step's two signed bodies is on the load's hot path, beside the server it measures.
func BenchmarkStep(b *testing.B) {
	l := newLoad("http://127.0.0.1:1", "the-secret", []benchSite{{id: 7, subdomain: "bench-001", gid: benchGIDPrefix + "0001", tenant: "990001"}}, 1)
	at := time.Now()
	for b.Loop() {
		l.step(at)
	}
}
