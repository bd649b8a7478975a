// Package demo is `stride demo`: Stride on the embedded database against a simulated
// Thinkific, with sites installed through the real OAuth flow and learners whose events
// arrive as Thinkific delivers them.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Options are `stride demo`'s flags.
type Options struct {
	Addr     string
	Sites    int
	Learners int
	Speed    float64
	Seed     uint64
	// APILatency is how long the simulated Thinkific takes to answer each REST request:
	// what paces the import the demo shows.
	APILatency time.Duration
	DataDir    string
	Exit       bool // stop once every event is delivered and applied (tests, CI)
	// Check, when set, runs against the live Stride before an Exit run stops (tests).
	Check func(appURL, clientSecret string, sites []*Site) error
}

// Stride is Stride as the demo runs it. main wires it, from the environment Start is given.
type Stride interface {
	// Serve answers HTTP on l, with the background work beside it, until ctx ends; ready is
	// called once requests are being taken.
	Serve(ctx context.Context, l net.Listener, ready func()) error
	// DrainInstalls waits for the webhook registrations that installs started, and registers
	// at once what an install left to the sweep or could not register for the site.
	DrainInstalls(ctx context.Context, subdomain string) error
	// Unapplied counts the accepted events the worker has yet to apply.
	Unapplied(ctx context.Context) (int64, error)
	// LaunchURL opens a site's dashboard, signed as a launch from the Thinkific admin.
	LaunchURL(subdomain, gid string) string
	// Import tells where a site's import from Thinkific's REST API stands.
	Import(ctx context.Context, subdomain string) (ImportState, error)
	Close() error
}

// ImportState is where a site's import stands.
type ImportState struct {
	State                                   string // queued, running, waiting, done or failed; "" before any
	Courses, Lessons, Enrollments, Requests int
	LastError                               string
}

// Start wires Stride from an environment.
type Start func(ctx context.Context, getenv func(string) string) (Stride, error)

// demoSites are the simulated schools, in the order sites are added.
var demoSites = []string{"demo-academy", "photo-school", "code-camp", "yoga-studio", "language-lab"}

// Run is `stride demo [flags]`: it runs Stride on the embedded database against the
// Thinkific double, installs Stride on simulated sites through the real OAuth flow, then
// plays learners whose events the double delivers as Thinkific does, and prints the
// dashboard's address. It returns nil after --help.
func Run(ctx context.Context, args []string, stdout io.Writer, start Start) error {
	fs := flag.NewFlagSet("stride demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	o := Options{}
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "where Stride listens (loopback unless you mean otherwise)")
	fs.IntVar(&o.Sites, "sites", 2, "simulated Thinkific sites (1 to 5)")
	fs.IntVar(&o.Learners, "learners", 40, "learners per site")
	fs.Float64Var(&o.Speed, "speed", 3600, "how much faster than real time Thinkific's retries run")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed for repeatable learners and timings")
	fs.DurationVar(&o.APILatency, "api-latency", 500*time.Millisecond, "how long the simulated Thinkific takes to answer each REST request (paces the import)")
	fs.StringVar(&o.DataDir, "data", filepath.Join("data", "demo"), "where the demo's SQLite file goes (emptied at start)")
	fs.BoolVar(&o.Exit, "exit", false, "stop when every event is delivered and applied, instead of running until Ctrl-C")
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
	if o.Sites < 1 || o.Sites > len(demoSites) || o.Learners < 1 || o.Speed <= 0 || o.APILatency < 0 {
		return fmt.Errorf("demo: --sites must be 1 to %d, --learners and --speed positive, --api-latency not negative", len(demoSites))
	}
	_, err := Play(ctx, o, start, stdout)
	return err
}

// Site is one simulated site, installed and played.
type Site struct {
	Thinkific *thinkificdouble.Site
	Played    []Step // what its dashboard must show
	courses   []demoCourse
}

// Play runs the demo with o and returns the sites it played.
func Play(ctx context.Context, o Options, start Start, stdout io.Writer) ([]*Site, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clientID, clientSecret := "stride-demo", secret.RandomHex(24)

	// Thinkific, played by the double, on a loopback port of its own.
	// Its rate limit is Thinkific's 120 requests a minute per site, the budget Stride keeps to.
	double := thinkificdouble.New(thinkificdouble.Config{ClientID: clientID, ClientSecret: clientSecret, RESTLatency: o.APILatency})
	dl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dsrv := &http.Server{Handler: double, ReadHeaderTimeout: 5 * time.Second}
	go dsrv.Serve(dl)
	defer dsrv.Close()
	doubleURL := "http://" + dl.Addr().String()

	// Stride, on the embedded database, started fresh.
	if err := os.RemoveAll(o.DataDir); err != nil {
		return nil, err
	}
	sl, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo: %w (try --addr 127.0.0.1:0)", err)
	}
	appURL := "http://" + sl.Addr().String()
	env := map[string]string{
		"PORT": strconv.Itoa(sl.Addr().(*net.TCPAddr).Port), "APP_URL": appURL, "DATA_DIR": o.DataDir,
		"THINKIFIC_CLIENT_ID": clientID, "THINKIFIC_CLIENT_SECRET": clientSecret, "SECRET_KEY": secret.RandomHex(32),
		"THINKIFIC_SITE_URL": double.SiteURLTemplate(doubleURL), "THINKIFIC_API_URL": doubleURL, "LOG_LEVEL": "warn",
	}
	a, err := start(ctx, func(k string) string { return env[k] })
	if err != nil {
		sl.Close()
		return nil, err
	}
	defer a.Close()
	served := make(chan error, 1)
	ready := make(chan struct{})
	go func() { served <- a.Serve(ctx, sl, func() { close(ready) }) }()
	<-ready

	fmt.Fprintf(stdout, "Stride demo: Stride at %s, a simulated Thinkific at %s\n", appURL, doubleURL)
	fmt.Fprintf(stdout, "Each site is a school with a past: %d courses of %d chapters, %d learners and %d enrollments from the\n"+
		"months before the install. Stride reads them from Thinkific's REST API after the install, in the background,\n"+
		"one site after the other. The simulated Thinkific answers each request in %v (--api-latency) and allows 120 a\n"+
		"minute per site, so each import takes about %v: watch it on a dashboard's Connection page. Then new\n"+
		"learners enroll and go through the courses, and Thinkific sends their webhooks.\n",
		len(schoolCourses), schoolChapters, schoolLearners, schoolEnrollments, o.APILatency, (time.Duration(importRequests()) * o.APILatency).Round(100*time.Millisecond))
	var sites []*Site
	for i, name := range demoSites[:o.Sites] {
		s := &Site{Thinkific: double.AddSite(name)}
		s.courses = seedSchool(s.Thinkific, o.Seed+uint64(i), time.Now())
		if err := installDemo(ctx, appURL, name); err != nil {
			return nil, fmt.Errorf("demo: installing on %s: %w", name, err)
		}
		// Webhooks register in the background: wait for them before playing.
		if err := a.DrainInstalls(ctx, name); err != nil {
			return nil, fmt.Errorf("demo: registering the webhooks of %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "installed on %s through OAuth; %d webhooks registered\n", name, len(s.Thinkific.Webhooks()))
		sites = append(sites, s)
	}
	printLinks(stdout, a, sites)
	// The learners play once the past is in, as on a site that installed Stride and then
	// went on.
	fmt.Fprintln(stdout, "\nimporting each site's past from Thinkific...")
	if err := waitImported(ctx, a, sites, stdout); err != nil {
		if o.Exit {
			return sites, err
		}
		fmt.Fprintln(stdout, err)
	}

	p := newPlayer(o, stdout)
	if err := p.play(ctx, sites); err != nil {
		return sites, err
	}
	if err := waitApplied(ctx, a); err != nil {
		return sites, err
	}
	fmt.Fprintf(stdout, "\nall %d events delivered and applied: %d learner steps on the dashboards\n", p.sent.Load(), p.steps.Load())
	printLinks(stdout, a, sites)
	if o.Exit {
		var checkErr error
		if o.Check != nil {
			checkErr = o.Check(appURL, clientSecret, sites)
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
			printLinks(stdout, a, sites)
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

func printLinks(w io.Writer, a Stride, sites []*Site) {
	fmt.Fprintln(w, "\nOpen a dashboard (signed like a launch from the Thinkific admin, valid 5 minutes):")
	for _, s := range sites {
		fmt.Fprintf(w, "  %-14s %s\n", s.Thinkific.Subdomain(), a.LaunchURL(s.Thinkific.Subdomain(), s.Thinkific.GID()))
	}
}

// waitApplied waits until the workers have applied everything delivered.
func waitApplied(ctx context.Context, a Stride) error {
	for {
		n, err := a.Unapplied(ctx)
		if err != nil {
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

// importRequests is about how many REST requests a school's import takes: the course list,
// each course's chapter list and chapters, one page of enrollments.
func importRequests() int { return 1 + len(schoolCourses)*(1+schoolChapters) + 1 }

// waitImported waits until every site's import has ended, and says how each went.
func waitImported(ctx context.Context, a Stride, sites []*Site, w io.Writer) error {
	var failed []error
	for _, s := range sites {
		name := s.Thinkific.Subdomain()
		for {
			st, err := a.Import(ctx, name)
			if err != nil {
				return err
			}
			if st.State == "done" {
				fmt.Fprintf(w, "imported %s from Thinkific: %d courses, %d lessons, %d enrollments, in %d API requests\n",
					name, st.Courses, st.Lessons, st.Enrollments, st.Requests)
				break
			}
			if st.State == "failed" {
				failed = append(failed, fmt.Errorf("demo: the import of %s failed: %s", name, st.LastError))
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return errors.Join(failed...)
}
