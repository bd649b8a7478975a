package bench

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/internal/stridebin"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/stride"
)

// The mix's events are Thinkific's, and make learners' journeys: each enrollment begins
// with enrollment.created, its lessons are completed in order with a progress to the
// matching percentage, and only an enrollment at 100 % is completed. Few learners are under
// way at once here, so that many journeys end within the test.
func TestGrowthMix(t *testing.T) {
	sites := []benchSite{{id: 1, subdomain: "a", gid: "gid-a", tenant: "1"}, {id: 2, subdomain: "b", gid: "gid-b", tenant: "2"}}
	m := newMix(newLoad("http://127.0.0.1:9", "secret", sites, 1), 6, 20)
	for _, s := range m.sites {
		for _, n := range s.lessons {
			if n < 20 || n > 60 {
				t.Fatalf("a course of %d lessons", n)
			}
		}
	}
	type key struct {
		site       string
		enrollment int64
	}
	type state struct {
		created, completed bool
		lessons            int
		percent            float64
	}
	seen := map[key]*state{}
	topics := map[string]int{}
	at := time.Now()
	for range 10_000 {
		ds := m.step(at)
		at = at.Add(time.Millisecond)
		for _, d := range ds {
			ev, err := events.ParseEnvelope(d.body)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Topic() != d.topic || ev.TenantGlobalID != d.site.gid {
				t.Fatalf("envelope %s of %s for a delivery %s to %s", ev.Topic(), ev.TenantGlobalID, d.topic, d.site.gid)
			}
			topics[d.topic]++
			var k key
			var lesson bool
			var percent float64
			if d.topic == stride.TopicLessonCompleted {
				lc, err := events.ParseLessonCompleted(ev.Payload)
				if err != nil {
					t.Fatal(err)
				}
				k, lesson = key{d.site.gid, int64(lc.Enrollment.ID)}, true
			} else {
				e, err := events.ParseEnrollment(ev.Payload)
				if err != nil {
					t.Fatal(err)
				}
				k, percent = key{d.site.gid, int64(e.ID)}, e.Percentage.Value
			}
			s := seen[k]
			if s == nil {
				if d.topic != stride.TopicEnrollmentCreated {
					t.Fatalf("enrollment %v begins with %s", k, d.topic)
				}
				s = &state{}
				seen[k] = s
			}
			switch d.topic {
			case stride.TopicEnrollmentCreated:
				if s.created {
					t.Fatalf("enrollment %v created twice", k)
				}
				s.created = true
			case stride.TopicEnrollmentProgress:
				if percent <= s.percent || percent > 100 {
					t.Fatalf("enrollment %v went from %.2f to %.2f %%", k, s.percent, percent)
				}
				s.percent = percent
			case stride.TopicEnrollmentCompleted:
				if s.percent < 100 || s.completed {
					t.Fatalf("enrollment %v completed at %.2f %% (completed before: %v)", k, s.percent, s.completed)
				}
				s.completed = true
			}
			if lesson {
				s.lessons++
			}
		}
	}
	finished := 0
	for k, s := range seen {
		if s.completed {
			finished++
		}
		if s.lessons > 60 {
			t.Fatalf("enrollment %v completed %d lessons", k, s.lessons)
		}
	}
	if topics[stride.TopicLessonCompleted] != topics[stride.TopicEnrollmentProgress] || finished == 0 || len(seen) < 50 {
		t.Fatalf("topics %v; %d of %d enrollments finished", topics, finished, len(seen))
	}
	t.Logf("%v; %d of %d enrollments finished; %s", topics, finished, len(seen), m.describe())
}

// A short run against a real server and PostgreSQL: every delivery is applied and shows in
// the sizes, the trim removes them all from the delivery log, and the bench's sites go.
func TestBenchGrowthReports(t *testing.T) {
	exe, err := stridebin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dbURL := testdb.Postgres(t)
	o, err := parseGrowthFlags([]string{"--events", "600", "--sites", "2", "--courses", "3", "--concurrency", "4"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.exe = exe
	var out bytes.Buffer
	env := map[string]string{"DATABASE_URL": dbURL, "LOG_LEVEL": "warn"}
	if err := runGrowth(context.Background(), o, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{
		`600 deliveries sent to stride serve over 2 sites and applied`,
		`mix +3 courses per site of 20–60 lessons; \d+ learners began \d+ courses`,
		`database +PostgreSQL 15`,
		`reproduce +DATABASE_URL='postgres://.*' stride bench-growth --events 600 --sites 2 --courses 3 --concurrency 4`,
		`(?s)as written.*\ninbox +600 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+\n`,
		`(?s)as written.*\nlearner_events +\d+ `,
		`after the retention window: 600 deliveries removed from the delivery log`,
		`(?s)after the retention window.*\ninbox +0 `,
		`(?s)after the retention window.*\nall tables +\d+ `,
		`per million applied events [\d.]+ MB; per active site \(2 sites, 300 events each\) [\d.]+ MB`,
	} {
		if !regexp.MustCompile(want).MatchString(report) {
			t.Errorf("report lacks %s:\n%s", want, report)
		}
	}
	if strings.Contains(report, "error ") {
		t.Errorf("report shows errors:\n%s", report)
	}
	if n := benchSitesIn(t, dbURL, 2); n != 0 {
		t.Errorf("%d bench sites left", n)
	}
}

func TestBenchGrowthFlags(t *testing.T) {
	for _, args := range [][]string{{"--events", "0"}, {"--sites", "0"}, {"--courses", "100"}, {"--concurrency", "0"}, {"extra"}} {
		if _, err := parseGrowthFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	o, err := parseGrowthFlags(nil, io.Discard)
	if err != nil || o.events != 1_000_000 {
		t.Fatalf("defaults %+v, %v", o, err)
	}
	if got := o.reproduce("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("the password shows in %q", got)
	}
}
