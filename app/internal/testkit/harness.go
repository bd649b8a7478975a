// Package testkit runs Stride for tests as it runs in production: served over real HTTP,
// against the Thinkific double over real HTTP, on PostgreSQL or SQLite. Only tests import
// it; the tests of app/server, app/ingest, app/install and app/progress share it.
//
// A package whose tests use PostgreSQL calls testdb.Main from its TestMain.
package testkit

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/importer"
	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/internal/testclock"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkific"
	"github.com/strideapp/stride/app/thinkificdouble"
)

const (
	ClientID     = "stride-client"
	ClientSecret = "stride-client-secret"
	SecretKey    = "8f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f"
)

// Harness is Stride served over real HTTP, against the Thinkific double over real HTTP.
type Harness struct {
	T        testing.TB
	Double   *thinkificdouble.Double
	Site     *thinkificdouble.Site // "acme"
	Cfg      *config.Config
	DB       *store.DB
	Install  *install.Service
	Receiver *ingest.Receiver
	Worker   *progress.Worker
	Importer *importer.Importer
	Metrics  *metrics.Metrics // served at /metrics when the environment sets METRICS_TOKEN
	Clock    *testclock.Clock
	URL      string
}

// Option changes the double's configuration or Stride's environment before they start.
type Option func(*thinkificdouble.Config, map[string]string)

// DBKinds runs fn once on PostgreSQL and once on SQLite: every storage path is tested on both.
func DBKinds(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("postgres", func(t *testing.T) { fn(t, testdb.Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
}

// New serves Stride on dbURL ("" for SQLite in a temporary directory), with a double that
// has one site, "acme".
func New(t testing.TB, dbURL string, opts ...Option) *Harness {
	t.Helper()
	dcfg := thinkificdouble.Config{ClientID: ClientID, ClientSecret: ClientSecret}
	env := map[string]string{}
	for _, o := range opts {
		o(&dcfg, env)
	}
	double := thinkificdouble.New(dcfg)
	dts := httptest.NewServer(double)
	t.Cleanup(dts.Close)

	ts := httptest.NewUnstartedServer(nil)
	h := &Harness{T: t, Double: double, Site: double.AddSite("acme"), Clock: &testclock.Clock{}}
	h.Cfg = h.load(baseEnv(ts, dbURL, t.TempDir(), double.SiteURLTemplate(dts.URL), dts.URL), env)
	h.URL = h.Cfg.AppURL.String()
	h.DB = h.open(h.Cfg)
	if _, err := h.DB.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var srv *server.Server
	h.Install, h.Receiver, h.Worker, h.Metrics, srv = h.build(h.Cfg, h.DB)
	h.Importer = importer.New(h.DB, h.apiClient(h.Cfg, h.DB), h.Install.Tokens, h.Worker, h.Clock, slog.New(slog.DiscardHandler))
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return h
}

// baseEnv is the environment of a Stride process listening on ts.
func baseEnv(ts *httptest.Server, dbURL, dataDir, siteURL, apiURL string) map[string]string {
	return map[string]string{
		"APP_URL":                 "http://" + ts.Listener.Addr().String(),
		"DATABASE_URL":            dbURL,
		"DATA_DIR":                dataDir,
		"THINKIFIC_CLIENT_ID":     ClientID,
		"THINKIFIC_CLIENT_SECRET": ClientSecret,
		"SECRET_KEY":              SecretKey,
		"THINKIFIC_SITE_URL":      siteURL,
		"THINKIFIC_API_URL":       apiURL,
	}
}

// load reads Stride's configuration from base with env over it.
func (h *Harness) load(base, env map[string]string) *config.Config {
	h.T.Helper()
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) string { return base[k] }, config.NeedAll)
	if err != nil {
		h.T.Fatal(err)
	}
	return cfg
}

// open connects to cfg's database, closed when the test ends.
func (h *Harness) open(cfg *config.Config) *store.DB {
	h.T.Helper()
	keys, err := secret.NewKeyring(cfg.SecretKeys()...)
	if err != nil {
		h.T.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConnections, Keys: keys, Clock: h.Clock})
	if err != nil {
		h.T.Fatal(err)
	}
	h.T.Cleanup(func() { db.Close() })
	return db
}

// build wires one Stride process's services on db, as the serve command does.
func (h *Harness) build(cfg *config.Config, db *store.DB) (*install.Service, *ingest.Receiver, *progress.Worker, *metrics.Metrics, *server.Server) {
	h.T.Helper()
	log := slog.New(slog.DiscardHandler)
	m := metrics.New("")
	m.WatchFleet(db)
	inst := h.newInstall(cfg, db, m)
	worker := progress.New(db, progress.Config{Window: cfg.PairingWindow, Grace: cfg.UninstallGrace, Retention: cfg.Retention, Poll: progress.DefaultPoll,
		Metrics: m}, h.Clock, log)
	receiver := ingest.New(db, ingest.Config{Secrets: cfg.Secrets(), WaitForLesson: cfg.WaitForLesson, Window: cfg.PairingWindow, Grace: cfg.UninstallGrace}, h.Clock, log, nil)
	// A Re-import wakes the harness's importer, which tests drain when they choose.
	wake := func() {
		if h.Importer != nil {
			h.Importer.Wake()
		}
	}
	srv, err := server.New(cfg, server.Deps{DB: db, Install: inst, Receiver: receiver, Metrics: m, WakeImporter: wake, Clock: h.Clock, Log: log})
	if err != nil {
		h.T.Fatal(err)
	}
	return inst, receiver, worker, m, srv
}

// apiClient is a Thinkific client of cfg's, counting its requests in db's budget.
func (h *Harness) apiClient(cfg *config.Config, db *store.DB) *thinkific.Client {
	return thinkific.New(thinkific.Config{
		SiteURL: cfg.SiteURL, APIURL: cfg.APIURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURI: cfg.RedirectURI(), UserAgent: "Stride/test", Clock: h.Clock, Limiter: db.APIBudget(cfg.APIRequestsPerMinute),
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 3 * time.Second,
	})
}

func (h *Harness) newInstall(cfg *config.Config, db *store.DB, m *metrics.Metrics) *install.Service {
	api := h.apiClient(cfg, db)
	svc := install.New(db, api, install.Config{WebhookURL: cfg.WebhookURL(), PreviousWebhookURLs: cfg.PreviousWebhookURLs(), SweepInterval: cfg.SweepInterval,
		Metrics: m}, h.Clock, slog.New(slog.DiscardHandler))
	h.T.Cleanup(func() { svc.Drain(context.Background()) }) // before the database closes
	return svc
}

// SecondInstall is an install service on its own connection pool to h's database: beside
// h.Install it behaves as another process.
func (h *Harness) SecondInstall() *install.Service {
	return h.newInstall(h.Cfg, h.open(h.Cfg), nil)
}

// Process is another Stride process on the harness's database and double.
type Process struct {
	URL    string // where it listens, whatever its APP_URL says
	DB     *store.DB
	Worker *progress.Worker
}

// StartProcess serves Stride on h's database and Thinkific double, with env overriding the
// harness's settings.
func (h *Harness) StartProcess(env map[string]string) *Process {
	h.T.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg := h.load(baseEnv(ts, h.Cfg.DatabaseURL, h.Cfg.DataDir, h.Cfg.SiteURL, h.Cfg.APIURL), env)
	db := h.open(cfg)
	_, _, worker, _, srv := h.build(cfg, db)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	h.T.Cleanup(ts.Close)
	return &Process{URL: "http://" + ts.Listener.Addr().String(), DB: db, Worker: worker}
}
