package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// demoOptions are `stride demo`'s flags.
type demoOptions struct {
	addr     string
	sites    int
	learners int
	speed    float64
	seed     uint64
	dataDir  string
	exit     bool // stop once every event is delivered and applied (tests, CI)
	// check, when set, runs against the live Stride before an --exit run stops (tests).
	check func(appURL, secret string, sites []*demoSite) error
}

// demoSites are the simulated schools, in the order sites are added.
var demoSites = []string{"demo-academy", "photo-school", "code-camp", "yoga-studio", "language-lab"}

// demo runs Stride on the embedded database against the Thinkific double: it installs
// Stride on simulated sites through the real OAuth flow, then plays learners whose events the
// double delivers as Thinkific does, and prints the dashboard's address.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stride demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	o := demoOptions{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "where Stride listens (loopback unless you mean otherwise)")
	fs.IntVar(&o.sites, "sites", 2, "simulated Thinkific sites (1 to 5)")
	fs.IntVar(&o.learners, "learners", 40, "learners per site")
	fs.Float64Var(&o.speed, "speed", 3600, "how much faster than real time Thinkific's retries run")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for repeatable learners and timings")
	fs.StringVar(&o.dataDir, "data", filepath.Join("data", "demo"), "where the demo's SQLite file goes (emptied at start)")
	fs.BoolVar(&o.exit, "exit", false, "stop when every event is delivered and applied, instead of running until Ctrl-C")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: stride demo [flags]\n\nRuns Stride with a simulated Thinkific: no account, no tunnel. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.sites < 1 || o.sites > len(demoSites) || o.learners < 1 || o.speed <= 0 {
		return fmt.Errorf("demo: --sites must be 1 to %d, --learners and --speed positive", len(demoSites))
	}
	_, err := runDemo(ctx, o, stdout)
	return err
}

// demoSite is one simulated site, installed and played.
type demoSite struct {
	site   *thinkificdouble.Site
	played []playedStep
}

func runDemo(ctx context.Context, o demoOptions, stdout io.Writer) ([]*demoSite, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clientID, clientSecret := "stride-demo", randomHex(24)

	// Thinkific, played by the double, on a loopback port of its own.
	double := thinkificdouble.New(thinkificdouble.Config{ClientID: clientID, ClientSecret: clientSecret})
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dsrv := &http.Server{Handler: double, ReadHeaderTimeout: 5 * time.Second}
	go dsrv.Serve(dl)
	defer dsrv.Close()
	doubleURL := "http://" + dl.Addr().String()

	// Stride, on the embedded database, started fresh.
	if err := os.RemoveAll(o.dataDir); err != nil {
		return nil, err
	}
	sl, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("demo: %w (try --addr 127.0.0.1:0)", err)
	}
	appURL := "http://" + sl.Addr().String()
	env := map[string]string{
		"PORT": strconv.Itoa(sl.Addr().(*net.TCPAddr).Port), "APP_URL": appURL, "DATA_DIR": o.dataDir,
		"THINKIFIC_CLIENT_ID": clientID, "THINKIFIC_CLIENT_SECRET": clientSecret, "SECRET_KEY": randomHex(32),
		"THINKIFIC_SITE_URL": double.SiteURLTemplate(doubleURL), "THINKIFIC_API_URL": doubleURL, "LOG_LEVEL": "warn",
	}
	a, err := start(ctx, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		sl.Close()
		return nil, err
	}
	defer a.db.Close()
	a.log = slog.New(slog.DiscardHandler)
	served := make(chan error, 1)
	ready := make(chan struct{})
	go func() { served <- a.serve(ctx, sl, func() { close(ready) }) }()
	<-ready

	fmt.Fprintf(stdout, "Stride demo: Stride at %s, a simulated Thinkific at %s\n", appURL, doubleURL)
	var sites []*demoSite
	for _, name := range demoSites[:o.sites] {
		s := &demoSite{site: double.AddSite(name)}
		if err := installDemo(ctx, appURL, name); err != nil {
			return nil, fmt.Errorf("demo: installing on %s: %w", name, err)
		}
		a.install.Drain(ctx) // webhooks register in the background: wait for them before playing
		fmt.Fprintf(stdout, "installed on %s through OAuth; %d webhooks registered\n", name, len(s.site.Webhooks()))
		sites = append(sites, s)
	}
	printLinks(stdout, appURL, clientSecret, sites)

	p := newPlayer(o, stdout)
	if err := p.play(ctx, sites); err != nil {
		return sites, err
	}
	if err := waitApplied(ctx, a); err != nil {
		return sites, err
	}
	fmt.Fprintf(stdout, "\nall %d events delivered and applied: %d learner steps on the dashboards\n", p.sent.Load(), p.steps.Load())
	printLinks(stdout, appURL, clientSecret, sites)
	if o.exit {
		var checkErr error
		if o.check != nil {
			checkErr = o.check(appURL, clientSecret, sites)
		}
		cancel()
		return sites, errors.Join(checkErr, <-served)
	}
	fmt.Fprintln(stdout, "Stride keeps running; press Ctrl-C to stop. A fresh link is printed every 4 minutes (links live 5).")
	tick := time.NewTicker(4 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return sites, <-served
		case err := <-served:
			return sites, err
		case <-tick.C:
			printLinks(stdout, appURL, clientSecret, sites)
		}
	}
}

// installDemo runs the install as an admin's browser would: install URL, Thinkific's
// authorize page (the double approves), callback, token exchange, webhooks, dashboard.
func installDemo(ctx context.Context, appURL, subdomain string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, appURL+"/install?subdomain="+subdomain, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		return fmt.Errorf("the install ended at %s with %d", resp.Request.URL.Path, resp.StatusCode)
	}
	return nil
}

func printLinks(w io.Writer, appURL, secret string, sites []*demoSite) {
	fmt.Fprintln(w, "\nOpen a dashboard (signed like a launch from the Thinkific admin, valid 5 minutes):")
	for _, s := range sites {
		fmt.Fprintf(w, "  %-14s %s\n", s.site.Subdomain(), server.LaunchURL(appURL, secret, s.site.Subdomain(), s.site.GID(), time.Now()))
	}
}

// waitApplied waits until the workers have applied everything delivered.
func waitApplied(ctx context.Context, a *app) error {
	for {
		var n int64
		if err := a.db.Gorm().WithContext(ctx).Raw("SELECT COUNT(*) FROM inbox WHERE status = 'accepted'").Scan(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
