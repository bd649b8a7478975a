// Package bench measures Stride: `stride bench` times the webhook path of `stride serve`
// against a scratch PostgreSQL, and `stride bench-pages` the dashboard pages over a
// database seeded with many sites.
package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/internal/loopback"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// options are stride bench's flags, and the binary it runs as the server it measures.
type options struct {
	duration    time.Duration
	rate        int
	concurrency int
	sites       int
	keep        bool
	exe         string // the stride binary; "" is this program, tests build one
}

// benchGIDPrefix marks the sites the bench installs, so it can tell them from real ones.
const benchGIDPrefix = "stride-bench-"

// Run is `stride bench [flags]`. It returns nil after --help.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return run(ctx, o, getenv, stdout)
}

func parseFlags(args []string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("stride bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each phase of sending")
	fs.IntVar(&o.rate, "rate", 1000, "events per second in the fixed-rate phase; the worker-alone backlog is rate × duration events")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections sending at once in the bursts")
	fs.IntVar(&o.sites, "sites", 20, "installed sites the events are spread over")
	fs.BoolVar(&o.keep, "keep", false, "leave the bench's sites and events in the database")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: DATABASE_URL=postgres://... stride bench [flags]\n\n"+
			"Measures the webhook path of `stride serve`, in its default configuration, against a scratch\n"+
			"PostgreSQL database: a fixed rate, a burst over every site and one to a single site with\n"+
			"the time to apply each backlog, `stride worker` alone on a backlog, and the CPU time per event.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	case o.duration < 100*time.Millisecond, o.rate < 2, o.concurrency < 1, o.sites < 1 || o.sites > 1000:
		return o, errors.New("bench: needs --duration ≥ 100ms, --rate ≥ 2, --concurrency ≥ 1 and --sites from 1 to 1000")
	}
	return o, nil
}

// reproduce is the command line that repeats this run, password hidden.
func (o options) reproduce(databaseURL string) string {
	if u, err := url.Parse(databaseURL); err == nil {
		databaseURL = u.Redacted()
	}
	line := fmt.Sprintf("DATABASE_URL='%s' stride bench --duration %v --rate %d --concurrency %d --sites %d",
		databaseURL, o.duration, o.rate, o.concurrency, o.sites)
	if o.keep {
		line += " --keep"
	}
	return line
}

func run(ctx context.Context, o options, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv, config.NeedDatabase)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.DatabaseURL == "" {
		return errors.New("bench needs DATABASE_URL naming a scratch PostgreSQL database (it installs and then " +
			"deletes its own sites); the targets are PostgreSQL's, so the embedded SQLite is not measured")
	}
	env, err := serveEnv(cfg, getenv)
	if err != nil {
		return err
	}
	rep := report{opts: o, reproduce: o.reproduce(getenv("DATABASE_URL"))}
	if rep.settings, err = measuredSettings(env); err != nil {
		return err
	}
	// The bench's own connections, apart from the server's pool: seeding, then polls. They
	// carry a name of their own, so that PostgreSQL's CPU time on them is not charged to
	// the server.
	key, _ := hex.DecodeString(env["SECRET_KEY"])
	keys, err := secret.NewKeyring(key)
	if err != nil {
		return err
	}
	self := "stride-bench-" + secret.RandomHex(4)
	db, err := store.Open(ctx, store.Options{DatabaseURL: withApplicationName(cfg.DatabaseURL, self), MaxConns: 2, Keys: keys})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer db.Close()
	if rep.facts, err = readFacts(ctx, db); err != nil {
		return err
	}
	meter := &costMeter{db: db, self: self, pgHere: localDatabase(cfg.DatabaseURL)}
	sites, err := seedSites(ctx, db, o.sites)
	if err != nil {
		return err
	}
	if !o.keep {
		defer deleteSites(context.WithoutCancel(ctx), db)
	}
	srv, err := startStride(o.exe, "serve", env)
	if err != nil {
		return err
	}
	defer srv.shutdown(30 * time.Second) // a no-op once measured below
	base := env["APP_URL"]
	if err := waitServing(ctx, base, srv); err != nil {
		return err
	}
	l := newLoad(base, env["THINKIFIC_CLIENT_SECRET"], sites, o.concurrency)
	if err := l.measure(ctx, o, db, meter, srv.pid, &rep); err != nil || ctx.Err() != nil {
		return errors.Join(err, ctx.Err())
	}
	rep.shutdown, rep.shutdownErr = srv.shutdown(30 * time.Second)
	if rep.shutdownErr == nil {
		if err := l.drainAlone(ctx, o, env, db, meter, &rep); err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
	}
	rep.print(stdout)
	return rep.failure()
}

// serveEnv is the environment of the measured server: credentials made for this run,
// Thinkific's addresses on loopback, since the bench's sites exist nowhere, and of the
// settings that bear on the figures only those the partner's environment holds: the bench
// measures the configuration Stride runs with by default.
func serveEnv(cfg *config.Config, getenv func(string) string) (map[string]string, error) {
	port, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"PORT":                    strconv.Itoa(port),
		"APP_URL":                 fmt.Sprintf("http://127.0.0.1:%d", port),
		"DATABASE_URL":            cfg.DatabaseURL,
		"THINKIFIC_CLIENT_ID":     "stride-bench",
		"THINKIFIC_CLIENT_SECRET": secret.RandomHex(32),
		"SECRET_KEY":              secret.RandomHex(32),
		"THINKIFIC_API_URL":       "http://127.0.0.1:9",
		"THINKIFIC_SITE_URL":      "http://{subdomain}.localhost:9",
	}
	for _, k := range passedThrough {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			env[k] = v
		}
	}
	return env, nil
}

// withApplicationName names the connections opened with databaseURL.
func withApplicationName(databaseURL, name string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// seedSites migrates the database and installs n sites with dummy tokens, sealed under the
// key the server will hold. A database with sites the bench did not make is refused.
func seedSites(ctx context.Context, db *store.DB, n int) ([]benchSite, error) {
	foreign, err := db.SitesNotPrefixed(ctx, benchGIDPrefix)
	if err != nil {
		return nil, err
	}
	if foreign > 0 {
		return nil, fmt.Errorf("bench: the database holds %d site(s) the bench did not install; point DATABASE_URL at a scratch database", foreign)
	}
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	sites := make([]benchSite, n)
	for i := range sites {
		s := benchSite{subdomain: fmt.Sprintf("bench-%03d", i+1), gid: fmt.Sprintf("%s%04d", benchGIDPrefix, i+1), tenant: strconv.Itoa(990001 + i)}
		site, _, err := db.SaveInstall(ctx, store.Grant{Subdomain: s.subdomain, GID: s.gid, Scopes: "bench",
			Tokens: stride.Tokens{Access: "bench", Refresh: "bench", Expiry: time.Now().Add(24 * time.Hour)}})
		if err != nil {
			return nil, err
		}
		// The webhook sweep and the import would try to reach Thinkific for sites that are
		// not there.
		if err := db.SetWebhooksDue(ctx, site.ID, time.Now().AddDate(1, 0, 0)); err != nil {
			return nil, err
		}
		if err := db.SetImportDue(ctx, site.ID, time.Now().AddDate(1, 0, 0)); err != nil {
			return nil, err
		}
		s.id = site.ID
		sites[i] = s
	}
	return sites, nil
}

// deleteSites removes what the bench wrote.
func deleteSites(ctx context.Context, db *store.DB) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := db.DeleteSitesPrefixed(ctx, benchGIDPrefix); err != nil {
		fmt.Fprintln(os.Stderr, "stride bench: deleting its sites:", err)
	}
}

// server is the `stride serve` or `stride worker` being measured.
type server struct {
	pid  int // whose memory and CPU are read
	cmd  *exec.Cmd
	done chan struct{} // closed once it has ended
	err  error         // how it ended, once done is closed
}

// startStride runs exe, or else this very binary, as `stride serve` or `stride worker`: the
// bench measures the program that ships, in a process of its own, so its memory and CPU
// time are the server's alone.
func startStride(exe, command string, env map[string]string) (*server, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(exe, command)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// shutdown stops the server and reports how long it took to end.
func (s *server) shutdown(limit time.Duration) (time.Duration, error) {
	select {
	case <-s.done:
		return 0, s.err
	default:
	}
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM) // as Heroku stops a dyno
	select {
	case <-s.done:
		return time.Since(start), s.err
	case <-time.After(limit):
		return limit, fmt.Errorf("stride %s did not stop within %v of SIGTERM", s.cmd.Args[1], limit)
	}
}

func waitServing(ctx context.Context, base string, srv *server) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-srv.done:
			return fmt.Errorf("bench: stride serve ended before it answered /healthz: %v", srv.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: stride serve did not answer /healthz within 30 s: %v", err)
		}
	}
}

// Targets from the issue, for a 2-core machine with PostgreSQL beside the server.
const (
	targetThroughput   = 5000 // events/s
	targetAckP99       = 25 * time.Millisecond
	targetPairedP99    = time.Second
	targetPeakRSS      = 256 << 20
	targetBurstApplied = 15 * time.Second // for the backlog of a 10 s burst
	targetWorkerAlone  = 4000             // events/s, stride worker draining a backlog by itself
)

// benchFacts describe where the figures were taken.
type benchFacts struct {
	cpus                                 int
	goVersion                            string
	busy                                 float64 // % of the machine busy just before the run: other work skews the figures
	postgres, syncCommit, fsync, walSync string
}

func readFacts(ctx context.Context, db *store.DB) (benchFacts, error) {
	f := benchFacts{cpus: runtime.NumCPU(), goVersion: runtime.Version()}
	idle := machineTicks()
	time.Sleep(time.Second)
	if now := machineTicks(); now.all > idle.all {
		f.busy = 100 * (now.busy - idle.busy) / (now.all - idle.all)
	}
	set, err := db.Settings(ctx, "server_version", "synchronous_commit", "fsync", "wal_sync_method")
	if err != nil {
		return f, fmt.Errorf("bench: %w", err)
	}
	f.postgres, f.syncCommit, f.fsync, f.walSync = set["server_version"], set["synchronous_commit"], set["fsync"], set["wal_sync_method"]
	return f, nil
}
