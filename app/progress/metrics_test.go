package progress_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strideapp/stride/app/internal/testkit"
)

// The worker's counters say what the inbox says it did: events applied, events parked,
// and one wait observed per learner step half.
func TestWorkerCounted(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		school := h.School()
		now := h.Clock.Now()
		defer refuseLearner(t, h, 666, "22023")() // a value the database cannot take: parked at once
		for _, body := range [][]byte{
			testkit.LessonEventFor("lesson", testkit.PublishedGID, now, 5, 70, 700),
			testkit.ProgressEvent("progress", testkit.PublishedGID, now, 5, 70, "50.0"),
			testkit.EnrollEvent("enrolled", testkit.PublishedGID, now.Add(-1e9), 6, 70, "six@example.com"),
			testkit.Event("unreadable", "lesson", "completed", testkit.PublishedGID, now, map[string]any{"user": "nobody"}),
			testkit.LessonEventFor("refused", testkit.PublishedGID, now, 666, 70, 700),
		} {
			if code, resp := h.Deliver("school", body, testkit.ClientSecret); code != http.StatusOK {
				t.Fatalf("%d %s", code, resp)
			}
		}
		if _, err := h.Worker.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}

		rec := httptest.NewRecorder()
		h.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		failed := map[string]float64{}
		for _, m := range fams["stride_events_failed_total"].GetMetric() {
			failed[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
		applied := fams["stride_events_applied_total"].GetMetric()[0].GetCounter().GetValue()
		steps := fams["stride_pairing_lag_seconds"].GetMetric()[0].GetHistogram().GetSampleCount()

		processed := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'processed'", school.ID)
		parked := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'failed'", school.ID)
		retried := h.Count("SELECT COALESCE(SUM(attempts), 0) FROM inbox WHERE site_id = ? AND status = 'accepted'", school.ID)
		if applied != 3 || processed != 3 || failed["parked"] != 2 || parked != 2 || failed["retry"] != float64(retried) {
			t.Fatalf("counted applied %v, parked %v, retried %v; the inbox has %d processed, %d failed, %d retries",
				applied, failed["parked"], failed["retry"], processed, parked, retried)
		}
		if steps != 2 { // the lesson and the progress; an enrollment.created is no step
			t.Fatalf("pairing lag observed %d times, want 2", steps)
		}
	})
}
