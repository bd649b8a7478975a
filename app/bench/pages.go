package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// Dashboard is the Stride that bench-pages times, wired by main: the HTTP handler over db,
// and the signed launch URL that opens a site's dashboard as the Thinkific admin does.
type Dashboard struct {
	Handler   func(cfg *config.Config, db *store.DB) (http.Handler, error)
	LaunchURL func(appURL, clientSecret, subdomain, gid string, at time.Time) string
}

// seedGIDPrefix marks the sites bench-pages seeds; bench-0 is the largest.
const seedGIDPrefix = "bench-gid-"

// RunPages is `stride bench-pages`: it seeds a PostgreSQL database with the records of many
// sites, as the worker would have left them, and times every dashboard page of the largest
// site and its exports.
func RunPages(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, dash Dashboard) error {
	fs := flag.NewFlagSet("stride bench-pages", flag.ContinueOnError)
	fs.SetOutput(stdout)
	sites := fs.Int("sites", 200, "sites to seed")
	events := fs.Int("events", 10_000_000, "learner events (lesson completions and progress changes) across all sites")
	largest := fs.Int("largest-steps", 1_000_000, "learner steps (two events each) of the largest site")
	learners := fs.Int("largest-learners", 50_000, "learners of the largest site")
	runs := fs.Int("runs", 40, "requests per page")
	reseed := fs.Bool("reseed", false, "seed again even if the database holds a seed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := config.Load(getenv, config.NeedAll)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.DatabaseURL == "" {
		return errors.New("bench-pages measures PostgreSQL: set DATABASE_URL to a scratch database (it is filled with test data)")
	}
	keys, _ := secret.NewKeyring(cfg.SecretKey)
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, MaxConns: cfg.MaxConnections, Keys: keys})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	site, err := db.SiteBySubdomain(ctx, "bench-0")
	if err != nil && stride.ErrorCode(err) != stride.ENOTFOUND {
		return err
	}
	if site == nil || *reseed {
		start := time.Now()
		if err := seed(ctx, db, *sites, *events, *largest, *learners, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded in %v\n", time.Since(start).Round(time.Second))
		if site, err = db.SiteBySubdomain(ctx, "bench-0"); err != nil {
			return err
		}
	}
	fig, err := db.SeedFiguresOf(ctx, site.ID)
	if err != nil {
		return err
	}
	h, err := dash.Handler(cfg, db)
	if err != nil {
		return err
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
	launch := dash.LaunchURL(ts.URL, cfg.ClientSecret, "bench-0", site.GID, time.Now())
	resp, err := client.Get(launch)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("launch answered %d", resp.StatusCode)
	}
	course, learner := fig.BusiestCourse, fig.FurthestLearner

	fmt.Fprintf(stdout, "\nStride page benchmark — PostgreSQL, %d events in all; largest site: %d events (%d steps), %d learners\n",
		fig.Events, fig.SiteEvents, fig.SiteEvents/2, fig.SiteLearners)
	fmt.Fprintf(stdout, "%-44s %8s %8s %8s  %s\n", "page (largest site)", "p50", "p95", "max", "target p95 ≤ 100 ms")
	pages := []string{"/", fmt.Sprintf("/courses/%d", course), fmt.Sprintf("/courses/%d?sort=progress", course),
		fmt.Sprintf("/courses/%d?status=stalled", course), fmt.Sprintf("/courses/%d?page=200", course),
		fmt.Sprintf("/courses/%d?q=learner12", course), fmt.Sprintf("/learners/%d", learner), "/connection", "/settings",
		"/attention", "/attention?sort=progress", fmt.Sprintf("/attention?course_id=%d&status=not+started", course), "/attention?page=20",
		// Course 6 holds the learners SeedIdle stopped a month ago: 5,000 stuck somewhere.
		"/courses/6", fmt.Sprintf("/courses/%d?status=stalled&idle_days=30", course), fmt.Sprintf("/courses/%d?cohort=%s", course, time.Now().UTC().Format("2006-01"))}
	for _, p := range pages {
		var took []time.Duration
		for range *runs {
			t0 := time.Now()
			resp, err := client.Get(ts.URL + p)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s answered %d", p, resp.StatusCode)
			}
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		p95 := took[len(took)*95/100]
		verdict := "PASS"
		if p95 > 100*time.Millisecond {
			verdict = "MISS"
		}
		fmt.Fprintf(stdout, "%-44s %8s %8s %8s  %s\n", p, ms(took[len(took)/2]), ms(p95), ms(took[len(took)-1]), verdict)
	}
	// What counting a course's pace and cohorts costs: from all its events (the first time),
	// and from its journeys (what RefreshPace or, after 10 minutes, the page pays when the
	// course has new events; here none, so only the aggregation).
	for _, full := range []bool{true, false} {
		var took []time.Duration
		for range 5 {
			t0 := time.Now()
			if err := db.CountCoursePace(ctx, site.ID, course, full); err != nil {
				return err
			}
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		what := "journeys"
		if full {
			what = "all events"
		}
		fmt.Fprintf(stdout, "%-44s %8s %8s %8s\n", fmt.Sprintf("pace count of course %d from %s", course, what), ms(took[2]), "", ms(took[4]))
	}
	for _, p := range []string{"/export/steps.csv", "/export/enrollments.csv", "/export/lessons.csv", "/export/learners.csv",
		"/export/learners.csv?idle_days=15"} {
		t0 := time.Now()
		resp, err := client.Get(ts.URL + p)
		if err != nil {
			return err
		}
		counter := &lineCounter{}
		io.Copy(counter, resp.Body)
		resp.Body.Close()
		secs := time.Since(t0).Seconds()
		fmt.Fprintf(stdout, "%-44s %d rows in %.1f s: %.0f rows/s, %.1f MB/s\n", p, counter.lines-1, secs,
			float64(counter.lines-1)/secs, float64(counter.bytes)/secs/1e6)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

type lineCounter struct{ lines, bytes int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(strings.Count(string(p), "\n"))
	return len(p), nil
}

// seed fills the database with sites whose records look as the worker leaves them. The
// largest site is bench-0; the others share the rest of the events.
func seed(ctx context.Context, db *store.DB, sites, events, largest, learners int, out io.Writer) error {
	if err := db.DeleteSitesPrefixed(ctx, seedGIDPrefix); err != nil {
		return err
	}
	rest := max(0, events/2-largest) / max(1, sites-1)
	for i := range sites {
		steps, people := largest, learners
		if i > 0 {
			steps, people = rest, max(10, rest/20)
		}
		site, _, err := db.SaveInstall(ctx, store.Grant{Subdomain: fmt.Sprintf("bench-%d", i), GID: fmt.Sprintf("%s%d", seedGIDPrefix, i),
			Tokens: stride.Tokens{Access: "bench", Refresh: "bench", Expiry: time.Now().Add(time.Hour)}})
		if err != nil {
			return err
		}
		if err := db.SeedSite(ctx, site.ID, steps, people); err != nil {
			return fmt.Errorf("seeding site %d: %w", i, err)
		}
		if err := db.SeedIdle(ctx, site.ID); err != nil {
			return fmt.Errorf("seeding site %d: %w", i, err)
		}
		if i%20 == 0 || i == sites-1 {
			fmt.Fprintf(out, "seeding: %d/%d sites\n", i+1, sites)
		}
	}
	return db.EndSeeding(ctx)
}
