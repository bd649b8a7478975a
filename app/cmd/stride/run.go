package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strideapp/stride/app/bench"
	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/demo"
	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/importer"
	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/simulate"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkific"
)

// commands are stride's subcommands. Procfile and app.json name them; a test checks.
var commands = map[string]struct {
	help string
	run  func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error
}{
	"serve":       {"web server and in-process worker", serve},
	"worker":      {"background work only (events, webhook sweep), for a worker dyno", worker},
	"migrate":     {"apply database migrations (Heroku release phase)", migrate},
	"demo":        {"Stride against a simulated Thinkific on the embedded database: installs, learners, dashboard", runDemo},
	"import":      {"read one site's courses and enrollments from Thinkific now (--subdomain S [--full]), with progress", importSite},
	"simulate":    {"send signed test events (modes: one, journey, duplicates, bad-signature, replay) to a running Stride", simulate.Run},
	"bench":       {"measure the webhook path against a scratch PostgreSQL (DATABASE_URL)", bench.Run},
	"bench-pages": {"seed a scratch PostgreSQL with many sites and time the dashboard pages", benchPages},
	"digest":      {"send one site's weekly digest now: --subdomain S [--to ADDRESS]", sendDigest},

	"bench-growth": {"send learners' events through the worker into a scratch PostgreSQL and print table sizes per event", bench.RunGrowth},
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: stride <command>\n\ncommands:\n")
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(&b, "  %-12s %s\n", name, commands[name].help)
	}
	b.WriteString("\nConfiguration comes from the environment; see README.md.")
	return b.String()
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage())
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q\n%s", args[0], usage())
	}
	return cmd.run(ctx, args[1:], getenv, stdout)
}

// app is Stride wired together, for serve and worker.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	db       *store.DB
	install  *install.Service
	worker   *progress.Worker
	receiver *ingest.Receiver
	importer *importer.Importer
	digest   *digest.Runner
	metrics  *metrics.Metrics
}

func start(ctx context.Context, getenv func(string) string, stdout io.Writer) (*app, error) {
	cfg, err := config.Load(getenv, config.NeedAll)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	keys, err := secret.NewKeyring(cfg.SecretKeys()...)
	if err != nil {
		return nil, err
	}
	clock := stride.SystemClock{}
	db, err := openDB(ctx, cfg, keys)
	if err != nil {
		return nil, err
	}
	api := thinkific.New(thinkific.Config{
		SiteURL: cfg.SiteURL, APIURL: cfg.APIURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURI: cfg.RedirectURI(), UserAgent: "Stride/1 (Thinkific app; +" + cfg.AppURL.String() + ")", Clock: clock,
		Limiter:      db.APIBudget(cfg.APIRequestsPerMinute),
		RetryWaitMin: thinkific.DefaultRetryWaitMin, RetryWaitMax: thinkific.DefaultRetryWaitMax,
	})
	// One set of series per process; the inbox and import figures are the database's, the
	// same from any process.
	m := metrics.New(getenv("DYNO"))
	m.WatchFleet(db)
	worker := progress.New(db, progress.Config{Window: cfg.PairingWindow, Grace: cfg.UninstallGrace, Retention: cfg.Retention, Poll: progress.DefaultPoll,
		Metrics: m}, clock, log)
	var imp *importer.Importer
	inst := install.New(db, api, install.Config{WebhookURL: cfg.WebhookURL(), PreviousWebhookURLs: cfg.PreviousWebhookURLs(), SweepInterval: cfg.SweepInterval,
		Installed: func() { imp.Wake() }, Metrics: m}, clock, log)
	imp = importer.New(db, api, inst.Tokens, worker, clock, log)
	receiver := ingest.New(db, ingest.Config{Secrets: cfg.Secrets(), WaitForLesson: cfg.WaitForLesson, Window: cfg.PairingWindow, Grace: cfg.UninstallGrace}, clock, log, worker.Wake)
	return &app{cfg: cfg, log: log, db: db, install: inst, worker: worker, receiver: receiver, importer: imp,
		digest: digest.New(db, cfg, clock, log), metrics: m}, nil
}

// openDB opens the database; SQLite is migrated on the spot, PostgreSQL must already be
// (by `stride migrate`, the release phase).
func openDB(ctx context.Context, cfg *config.Config, keys *secret.Keyring) (*store.DB, error) {
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConnections, Keys: keys})
	if err != nil {
		return nil, err
	}
	if db.Postgres() {
		err = db.CheckMigrated(ctx)
	} else {
		_, err = db.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// background starts the work that runs beside the web server; wait blocks until it stopped.
func (a *app) background(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() { a.install.RunSweeper(ctx, time.Minute) })
	wg.Go(func() { a.worker.Run(ctx) })
	wg.Go(func() { a.importer.Run(ctx) })
	wg.Go(func() { a.digest.Run(ctx) })
	return wg.Wait
}

func serve(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	a, err := start(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.db.Close()
	l, err := net.Listen("tcp", ":"+strconv.Itoa(a.cfg.Port))
	if err != nil {
		return err
	}
	return a.Serve(ctx, l, nil)
}

// serve answers HTTP on l, with the background work beside it, until ctx ends; ready (may
// be nil) is called once requests are being taken.
func (a *app) Serve(ctx context.Context, l net.Listener, ready func()) error {
	srv, err := server.New(a.cfg, server.Deps{DB: a.db, Install: a.install, Receiver: a.receiver, Metrics: a.metrics, WakeImporter: a.importer.Wake,
		Clock: stride.SystemClock{}, Log: a.log})
	if err != nil {
		return err
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	waitWork := a.background(workCtx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	a.log.Info("stride serving", "addr", l.Addr().String(), "app_url", a.cfg.AppURL.String(), "database", dbKind(a.db))
	if ready != nil {
		ready()
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	// Heroku gives 30 s after SIGTERM: stop taking requests, drain the workers, then the
	// caller closes the database.
	shutCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	a.log.Info("stride stopping")
	shutErr := srv.Shutdown(shutCtx)
	a.install.Drain(shutCtx) // webhook registrations that installs started
	stopWork()
	waitWork()
	return errors.Join(err, shutErr)
}

func worker(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	a, err := start(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer a.db.Close()
	stopMetrics, err := a.serveWorkerMetrics(getenv("PORT") != "")
	if err != nil {
		return err
	}
	a.log.Info("stride worker running", "database", dbKind(a.db))
	wait := a.background(ctx)
	<-ctx.Done()
	stopMetrics()
	wait()
	return nil
}

// serveWorkerMetrics serves /metrics, and nothing else, on PORT when both PORT (portSet)
// and METRICS_TOKEN are set. A worker has no web server otherwise, and its counters (events
// applied, token refreshes, the webhook sweep) are its own. Heroku gives only web dynos a
// PORT, and routes nothing to a worker dyno: there a worker serves nothing, and the web
// dynos' /metrics carries the inbox and import figures for every process.
func (a *app) serveWorkerMetrics(portSet bool) (stop func(), err error) {
	if !portSet || a.cfg.MetricsToken == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", ":"+strconv.Itoa(a.cfg.Port))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", server.MetricsHandler(a.cfg.MetricsToken, a.metrics))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go srv.Serve(l)
	a.log.Info("stride worker serving /metrics", "addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func migrate(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv, config.NeedDatabase)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConnections})
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stride: %d migration(s) applied to %s\n", n, dbKind(db))
	return nil
}

func dbKind(db *store.DB) string {
	if db.Postgres() {
		return "postgresql"
	}
	return "sqlite"
}

func runDemo(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	return demo.Run(ctx, args, stdout, startDemo)
}

// startDemo wires Stride for the demo, from the environment the demo makes, logging nothing.
func startDemo(ctx context.Context, getenv func(string) string) (demo.Stride, error) {
	return start(ctx, getenv, io.Discard)
}

func (a *app) DrainInstalls(ctx context.Context, subdomain string) error {
	a.install.Drain(ctx)
	site, err := a.db.SiteBySubdomain(ctx, subdomain)
	if err != nil {
		return err
	}
	hooks, err := a.db.Webhooks(ctx, site.ID)
	if err != nil {
		return err
	}
	active := 0
	for _, h := range hooks {
		if h.Status == stride.WebhookActive {
			active++
		}
	}
	if active == len(stride.WebhookTopics) {
		return nil
	}
	// Left to the sweep (its lease was taken) or refused for a moment: register them now.
	rep, err := a.install.Reconcile(ctx, site)
	if err == nil && len(rep.Failed) > 0 {
		err = fmt.Errorf("Thinkific refused the webhooks for %v", rep.Failed)
	}
	return err
}

func (a *app) Unapplied(ctx context.Context) (int64, error) { return a.db.Unapplied(ctx, 0) }

func (a *app) LaunchURL(subdomain, gid string) string {
	return server.LaunchURL(a.cfg.AppURL.String(), a.cfg.ClientSecret, subdomain, gid, time.Now())
}

func (a *app) Import(ctx context.Context, subdomain string) (demo.ImportState, error) {
	site, err := a.db.SiteBySubdomain(ctx, subdomain)
	if err != nil {
		return demo.ImportState{}, err
	}
	imp, err := a.db.ImportOf(ctx, site.ID)
	if err != nil || imp == nil {
		return demo.ImportState{}, err
	}
	return demo.ImportState{State: imp.State, Courses: imp.Courses, Lessons: imp.Lessons, Enrollments: imp.Enrollments,
		Requests: imp.Requests, LastError: imp.LastError}, nil
}

func (a *app) Close() error { return a.db.Close() }

func benchPages(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return bench.RunPages(ctx, args, getenv, stdout, bench.Dashboard{Handler: dashboard, LaunchURL: server.LaunchURL})
}

// dashboard is Stride's HTTP handler over db alone: no installs, no deliveries.
func dashboard(cfg *config.Config, db *store.DB) (http.Handler, error) {
	srv, err := server.New(cfg, server.Deps{DB: db, Clock: stride.SystemClock{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return srv.Handler(), nil
}
