package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strideapp/stride/app/store"
)

// Fleet is what the database says about every process's work at once: the store.
type Fleet interface {
	InboxBacklog(ctx context.Context) (store.Backlog, error)
	ImportTallies(ctx context.Context) ([]store.ImportTally, error)
}

// importStates are reported even when no import is in them, so that a state emptying
// reads 0 rather than vanishing.
var importStates = []string{store.ImportQueued, store.ImportRunning, store.ImportWaiting, store.ImportDone, store.ImportFailed}

// fleetTimeout bounds the database reads of one scrape, well under Prometheus's 10 s
// default scrape timeout.
const fleetTimeout = 2 * time.Second

var (
	inboxDepthDesc = prometheus.NewDesc("stride_inbox_depth",
		"Events in the inbox not applied yet, across every process sharing the database (retries waiting out their backoff included).", nil, nil)
	inboxAgeDesc = prometheus.NewDesc("stride_inbox_oldest_age_seconds",
		"How long the longest-waiting due event has been waiting for a worker: since its receipt, or since its retry backoff ended. 0 when none is due. Across every process.", nil, nil)
	importsDesc = prometheus.NewDesc("stride_imports",
		"Sites' imports from Thinkific's REST API, by state (queued, running, waiting to retry, done, failed).", []string{"state"}, nil)
	importRequestsDesc = prometheus.NewDesc("stride_import_requests",
		"API requests made by the imports in each state, in their current run (or their last, once ended).", []string{"state"}, nil)
	fleetUpDesc = prometheus.NewDesc("stride_fleet_up",
		"1 when this scrape read the inbox and import figures from the database in time, 0 when it could not (they are left out).", nil, nil)
)

// fleetCollector reads the fleet-wide figures at each scrape: any process's /metrics shows
// them, whichever process did the work.
type fleetCollector struct{ src Fleet }

// WatchFleet adds the database's figures to the series, read from src at each scrape.
func (m *Metrics) WatchFleet(src Fleet) {
	m.registry.MustRegister(fleetCollector{src})
}

func (fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{inboxDepthDesc, inboxAgeDesc, importsDesc, importRequestsDesc, fleetUpDesc} {
		ch <- d
	}
}

func (f fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), fleetTimeout)
	defer cancel()
	up := 1.0
	if b, err := f.src.InboxBacklog(ctx); err != nil {
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(inboxDepthDesc, prometheus.GaugeValue, float64(b.Depth))
		ch <- prometheus.MustNewConstMetric(inboxAgeDesc, prometheus.GaugeValue, b.Waited.Seconds())
	}
	if tallies, err := f.src.ImportTallies(ctx); err != nil {
		up = 0
	} else {
		sites, requests := map[string]int64{}, map[string]int64{}
		for _, t := range tallies {
			sites[t.State], requests[t.State] = t.Sites, t.Requests
		}
		for _, s := range importStates {
			ch <- prometheus.MustNewConstMetric(importsDesc, prometheus.GaugeValue, float64(sites[s]), s)
			ch <- prometheus.MustNewConstMetric(importRequestsDesc, prometheus.GaugeValue, float64(requests[s]), s)
		}
	}
	ch <- prometheus.MustNewConstMetric(fleetUpDesc, prometheus.GaugeValue, up)
}
