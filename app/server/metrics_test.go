package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/thinkificdouble"
)

const metricsToken = "metrics-token-for-tests-0123456789"

func withMetricsToken(_ *thinkificdouble.Config, env map[string]string) {
	env["METRICS_TOKEN"] = metricsToken
}

// getMetrics is a GET of /metrics with the Authorization header auth ("" for none).
func getMetrics(t *testing.T, baseURL, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// families are one scrape, parsed.
type families map[string]*dto.MetricFamily

func parseMetrics(body string) (families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(body))
}

// scrape reads /metrics as Prometheus would, with the token.
func scrape(t *testing.T, baseURL string) families {
	t.Helper()
	resp, body := getMetrics(t, baseURL, "Bearer "+metricsToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	fams, err := parseMetrics(body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value sums the samples of name whose labels include labels (name, value pairs): a
// counter's or gauge's value, a histogram's count of observations.
func (f families) value(name string, labels ...string) float64 {
	fam := f[name]
	if fam == nil {
		return -1
	}
	sum := 0.0
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// histogramSum is the sum of the observations of a histogram without labels.
func (f families) histogramSum(name string) float64 {
	if fam := f[name]; fam != nil && len(fam.GetMetric()) == 1 {
		return fam.GetMetric()[0].GetHistogram().GetSampleSum()
	}
	return -1
}

// documentedSeries are the stride_ names the README's metrics section mentions.
func documentedSeries(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Metrics and alerts\n")
	if !ok {
		t.Fatal("README.md has no section ## Metrics and alerts")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var names []string
	for _, n := range regexp.MustCompile(`\bstride_[a-z_]+`).FindAllString(section, -1) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) < 10 {
		t.Fatalf("the README's metrics section names only %v", names)
	}
	return names
}

// /metrics is off without METRICS_TOKEN; with it, only its bearer gets the series, every
// one the README documents, and the README documents every one.
func TestMetricsAccess(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		off := testkit.New(t, dbURL)
		if resp, _ := getMetrics(t, off.URL, "Bearer "+metricsToken); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("without METRICS_TOKEN: %d, want 404", resp.StatusCode)
		}

		h := testkit.New(t, dbURL, withMetricsToken)
		for _, tc := range []struct {
			name, auth string
			want       int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"wrong token", "Bearer not-the-metrics-token-at-all", http.StatusUnauthorized},
			{"the token's first half", "Bearer " + metricsToken[:len(metricsToken)/2], http.StatusUnauthorized},
			{"the token as basic credentials", "Basic " + metricsToken, http.StatusUnauthorized},
			{"the token", "Bearer " + metricsToken, http.StatusOK},
			{"the token, scheme in lower case", "bearer " + metricsToken, http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := getMetrics(t, h.URL, tc.auth)
				if resp.StatusCode != tc.want {
					t.Fatalf("%d, want %d: %.200s", resp.StatusCode, tc.want, body)
				}
				if strings.Contains(body, metricsToken) {
					t.Fatal("the answer carries the token")
				}
				if tc.want == http.StatusUnauthorized {
					if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
						t.Fatalf("WWW-Authenticate %q", got)
					}
					if strings.Contains(body, "stride_") {
						t.Fatal("a refused scrape got series")
					}
					return
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Fatalf("Content-Type %q", ct)
				}
				for _, name := range documentedSeries(t) {
					if !strings.Contains(body, name) {
						t.Errorf("documented series %s is not served", name)
					}
				}
				fams, err := parseMetrics(body)
				if err != nil {
					t.Fatal(err)
				}
				doc := strings.Join(documentedSeries(t), " ")
				for name := range fams {
					if strings.HasPrefix(name, "stride_") && !strings.Contains(doc, name) {
						t.Errorf("series %s is served but not in the README", name)
					}
				}
				if fams.value("stride_fleet_up") != 1 || fams.value("go_goroutines") <= 0 {
					t.Errorf("fleet_up %v, go_goroutines %v", fams.value("stride_fleet_up"), fams.value("go_goroutines"))
				}
			})
		}
	})
}

// Every answer of the webhook URL is counted once, under the outcome and topic it had, the
// refusals before the handler (an oversized body) included. An unsigned delivery's topic
// is not believed.
func TestDeliveryOutcomesCounted(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withMetricsToken)
		h.School()
		now := time.Now()
		lesson := testkit.LessonEventFor("m-1", testkit.PublishedGID, now, 7, 70, 700)
		progress := testkit.ProgressEvent("m-2", testkit.PublishedGID, now, 7, 70, "10.0")
		noSite := testkit.JSON(map[string]any{"id": "m-3", "resource": "lesson", "action": "completed",
			"created_at": now.UTC().Format(time.RFC3339), "payload": map[string]any{}})
		for _, tc := range []struct {
			name                string
			subdomain           string
			body                []byte
			secret              string
			status              int
			outcome, topic, cls string
		}{
			{"new event", "school", lesson, testkit.ClientSecret, 200, "stored", "lesson.completed", "2xx"},
			{"the same again", "school", lesson, testkit.ClientSecret, 200, "duplicate", "lesson.completed", "2xx"},
			{"bad signature", "school", progress, "not-the-secret", 401, "bad_signature", "other", "4xx"},
			{"no installed site", "school", testkit.ProgressEvent("m-4", "gid-of-no-site", now, 7, 70, "10.0"), testkit.ClientSecret, 200, "held", "enrollment.progress", "2xx"},
			{"names no site", "not a subdomain", noSite, testkit.ClientSecret, 400, "malformed", "lesson.completed", "4xx"},
			{"oversized", "school", bytes.Repeat([]byte("x"), 256<<10+1), testkit.ClientSecret, 413, "too_large", "other", "4xx"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := scrape(t, h.URL)
				if code, body := h.Deliver(tc.subdomain, tc.body, tc.secret); code != tc.status {
					t.Fatalf("%d %s, want %d", code, body, tc.status)
				}
				after := scrape(t, h.URL)
				delta := func(name string, labels ...string) float64 {
					return after.value(name, labels...) - before.value(name, labels...)
				}
				if d := delta("stride_webhook_deliveries_total", "outcome", tc.outcome, "topic", tc.topic); d != 1 {
					t.Errorf("deliveries{outcome=%s,topic=%s} went up by %v, want 1", tc.outcome, tc.topic, d)
				}
				if d := delta("stride_webhook_deliveries_total"); d != 1 {
					t.Errorf("all deliveries went up by %v, want 1", d)
				}
				if d := delta("stride_webhook_duration_seconds", "class", tc.cls); d != 1 {
					t.Errorf("duration{class=%s} observed %v, want 1", tc.cls, d)
				}
			})
		}
	})
}

// post delivers body as Thinkific does and tells the status; it never fails the test, so
// that goroutines may call it.
func post(url string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/thinkific", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Thinkific-Subdomain", "school")
	req.Header.Set("X-Thinkific-Hmac-Sha256", testkit.Sign(testkit.ClientSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Under a burst of deliveries with no worker running, /metrics shows the inbox filling
// (read from the database while the burst goes on), every delivery counted, and, once the
// worker runs, the inbox emptying back to zero with every event applied.
func TestMetricsDuringLoad(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, withMetricsToken)
		h.School()
		const steps = 200 // a lesson.completed and an enrollment.progress each
		start := time.Now().Add(-time.Hour)
		var bodies [][]byte
		for i := range steps {
			at := start.Add(time.Duration(i) * time.Second)
			learner := int64(1 + i%20)
			bodies = append(bodies,
				testkit.LessonEventFor(fmt.Sprintf("lesson-%d", i), testkit.PublishedGID, at, learner, 70, int64(700+i)),
				testkit.ProgressEvent(fmt.Sprintf("progress-%d", i), testkit.PublishedGID, at.Add(100*time.Millisecond), learner, 70, fmt.Sprintf("%d.0", i%100)))
		}
		if got := scrape(t, h.URL).value("stride_inbox_depth"); got != 0 {
			t.Fatalf("depth before the burst %v", got)
		}

		// The burst: 8 senders; a 503 (the inbox could not commit in time) is sent again,
		// as Thinkific would.
		var posts, failures atomic.Int64
		work := make(chan []byte)
		var senders sync.WaitGroup
		for range 8 {
			senders.Go(func() {
				for b := range work {
					for {
						posts.Add(1)
						code, err := post(h.URL, b)
						if err == nil && code == http.StatusServiceUnavailable {
							continue
						}
						if err != nil || code != http.StatusOK {
							failures.Add(1)
						}
						break
					}
				}
			})
		}
		var depths []float64
		scraping := make(chan struct{})
		scraped := make(chan error, 1)
		go func() {
			for {
				select {
				case <-scraping:
					scraped <- nil
					return
				case <-time.After(20 * time.Millisecond):
				}
				// Not scrape(): t.Fatal belongs to the test's goroutine.
				req, _ := http.NewRequest(http.MethodGet, h.URL+"/metrics", nil)
				req.Header.Set("Authorization", "Bearer "+metricsToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					scraped <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				fams, err := parseMetrics(string(b))
				if err != nil {
					scraped <- err
					return
				}
				depths = append(depths, fams.value("stride_inbox_depth"))
			}
		}()
		for _, b := range bodies {
			work <- b
		}
		close(work)
		senders.Wait()
		close(scraping)
		if err := <-scraped; err != nil {
			t.Fatal(err)
		}
		if failures.Load() > 0 {
			t.Fatalf("%d deliveries not taken", failures.Load())
		}
		if !slices.IsSorted(depths) || len(depths) == 0 || depths[len(depths)-1] > float64(len(bodies)) {
			t.Fatalf("depth during the burst, with no worker: %v", depths)
		}
		t.Logf("%d deliveries (%d posts); inbox depth over %d scrapes during the burst: %v … %v",
			len(bodies), posts.Load(), len(depths), depths[0], depths[len(depths)-1])

		h.Clock.Advance(90 * time.Second) // the backlog has waited a minute and a half
		full := scrape(t, h.URL)
		if got := full.value("stride_inbox_depth"); got != float64(len(bodies)) {
			t.Fatalf("depth after the burst %v, want %d", got, len(bodies))
		}
		if got := full.value("stride_inbox_oldest_age_seconds"); got < 90 {
			t.Fatalf("oldest age %v, want at least 90 s", got)
		}
		for _, topic := range []string{"lesson.completed", "enrollment.progress"} {
			if got := full.value("stride_webhook_deliveries_total", "outcome", "stored", "topic", topic); got != steps {
				t.Errorf("%s stored: %v, want %d", topic, got, steps)
			}
		}
		if got := full.value("stride_webhook_deliveries_total"); got != float64(posts.Load()) {
			t.Errorf("deliveries counted %v, posts made %d", got, posts.Load())
		}

		// The worker runs; the inbox drains to zero.
		ctx, stop := context.WithCancel(context.Background())
		worked := make(chan struct{})
		go func() { h.Worker.Run(ctx); close(worked) }()
		t.Cleanup(func() { stop(); <-worked })
		var draining []float64
		var last families
		for deadline := time.Now().Add(time.Minute); ; {
			last = scrape(t, h.URL)
			draining = append(draining, last.value("stride_inbox_depth"))
			if draining[len(draining)-1] == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the inbox did not drain: %v", draining)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !slices.IsSortedFunc(draining, func(a, b float64) int { return int(b - a) }) {
			t.Fatalf("depth while the worker ran went up: %v", draining)
		}
		t.Logf("inbox depth over %d scrapes while the worker ran: %v", len(draining), draining)
		if got := last.value("stride_inbox_oldest_age_seconds"); got != 0 {
			t.Errorf("oldest age with the inbox empty: %v", got)
		}
		if got := last.value("stride_events_applied_total"); got != float64(len(bodies)) {
			t.Errorf("applied %v, want %d", got, len(bodies))
		}
		if got := last.value("stride_events_failed_total"); got != 0 {
			t.Errorf("failed %v", got)
		}
		if got := last.value("stride_pairing_lag_seconds"); got != float64(len(bodies)) {
			t.Errorf("pairing lag observations %v, want %d", got, len(bodies))
		}
		if got := last.histogramSum("stride_pairing_lag_seconds"); got < 90*float64(len(bodies)) {
			t.Errorf("pairing lag sum %v s, want at least 90 s per event", got)
		}
	})
}
