package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func gauge(fams map[string]*dto.MetricFamily, name string) float64 {
	if f := fams[name]; f != nil && len(f.GetMetric()) == 1 {
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	return -1
}

// The database's figures come from it at each scrape; a database that does not answer
// leaves them out of a scrape that still succeeds, and stride_fleet_up says so.
func TestFleetFigures(t *testing.T) {
	for _, kind := range []string{"postgres", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			o := store.Options{DataDir: t.TempDir()}
			if kind == "postgres" {
				o = store.Options{DatabaseURL: testdb.Postgres(t)}
			}
			db, err := store.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			m := metrics.New("")
			m.WatchFleet(db)
			fams := scrape(t, m)
			if gauge(fams, "stride_fleet_up") != 1 || gauge(fams, "stride_inbox_depth") != 0 || gauge(fams, "stride_inbox_oldest_age_seconds") != 0 {
				t.Fatalf("on an empty database: up %v, depth %v, age %v", gauge(fams, "stride_fleet_up"),
					gauge(fams, "stride_inbox_depth"), gauge(fams, "stride_inbox_oldest_age_seconds"))
			}
			if n := len(fams["stride_imports"].GetMetric()); n != 5 {
				t.Fatalf("%d import states, want every one of the 5", n)
			}
			db.Close()
			start := time.Now()
			fams = scrape(t, m)
			if gauge(fams, "stride_fleet_up") != 0 || fams["stride_inbox_depth"] != nil || fams["stride_imports"] != nil {
				t.Fatalf("with the database closed: %v", fams["stride_fleet_up"])
			}
			if fams["stride_webhook_deliveries_total"] == nil || fams["go_goroutines"] == nil {
				t.Fatal("the process's own series went with the database's")
			}
			t.Logf("a scrape with the database closed took %v", time.Since(start))
		})
	}
}

// A database that holds the inbox locked does not hold the scrape: the figures are given
// up after a short wait, well inside Prometheus's scrape timeout.
func TestFleetTimeout(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: testdb.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("")
	m.WatchFleet(db)
	lock := db.Gorm().Begin()
	defer lock.Rollback()
	if err := lock.Exec("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fams := scrape(t, m)
	took := time.Since(start)
	if gauge(fams, "stride_fleet_up") != 0 || fams["stride_inbox_depth"] != nil || took > 5*time.Second {
		t.Fatalf("with the inbox locked: up %v after %v", gauge(fams, "stride_fleet_up"), took)
	}
	t.Logf("a scrape with the inbox locked answered after %v", took)
}

// Labels hold bounded values only: a topic Stride does not know is "other", and no series
// has a label beyond the few the README names.
func TestLabelsAreBounded(t *testing.T) {
	m := metrics.New("web.1")
	m.Delivery(metrics.Stored, "lesson.completed", 200, time.Millisecond)
	m.Delivery(metrics.Stored, "order.created", 200, time.Millisecond)
	m.Delivery(metrics.BadSignature, "acme-school; DROP TABLE", 401, time.Millisecond)
	for _, tc := range []struct{ in, want string }{
		{"lesson.completed", "lesson.completed"}, {"course.deleted", "course.deleted"}, {"order.created", "other"}, {"", "other"},
	} {
		if got := metrics.Topic(tc.in); got != tc.want {
			t.Errorf("Topic(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	allowed := []string{"outcome", "topic", "class", "result", "state", "dyno"}
	fams := scrape(t, m)
	topics := map[string]float64{}
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if name[:7] == "stride_" && !slices.Contains(allowed, l.GetName()) {
					t.Errorf("%s has the label %s", name, l.GetName())
				}
				if l.GetName() == "dyno" && l.GetValue() != "web.1" {
					t.Errorf("%s: dyno %q", name, l.GetValue())
				}
				if name == "stride_webhook_deliveries_total" && l.GetName() == "topic" {
					topics[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
	}
	if len(topics) != 10 || topics["other"] != 2 || topics["lesson.completed"] != 1 {
		t.Fatalf("delivery topics %v", topics)
	}
}

// A nil *Metrics records nothing and does not fail: parts built without metrics.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.Delivery(metrics.Stored, "lesson.completed", 200, time.Millisecond)
	m.Applied(1, []time.Duration{time.Second})
	m.EventFailed(metrics.Parked, 1)
	m.TokenRefresh(metrics.Refreshed)
	m.Reconciled(metrics.Kept, 8)
}

// What the webhook path pays to be counted: one counter and one histogram observation.
func BenchmarkDelivery(b *testing.B) {
	m := metrics.New("")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Delivery(metrics.Stored, "lesson.completed", 200, 3*time.Millisecond)
		}
	})
}
