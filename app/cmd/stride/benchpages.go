package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// benchPages seeds a PostgreSQL database with the records of many sites, as the worker would
// have left them, and times every dashboard page of the largest site and its exports.
func benchPages(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
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
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, Keys: keys})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	g := db.Gorm().WithContext(ctx)
	var seeded int64
	g.Raw("SELECT COUNT(*) FROM sites WHERE subdomain LIKE 'bench-%'").Scan(&seeded)
	if seeded == 0 || *reseed {
		start := time.Now()
		if err := seed(ctx, db, *sites, *events, *largest, *learners, stdout); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded in %v\n", time.Since(start).Round(time.Second))
	}
	var site struct {
		ID  int64
		GID string `gorm:"column:gid"`
	}
	g.Raw("SELECT id, gid FROM sites WHERE subdomain = 'bench-0'").Scan(&site)
	var nEvents, nSiteEvents, nLearners int64
	g.Raw("SELECT COUNT(*) FROM learner_events").Scan(&nEvents)
	g.Raw("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID).Scan(&nSiteEvents)
	g.Raw("SELECT COUNT(*) FROM learners WHERE site_id = ?", site.ID).Scan(&nLearners)

	srv, err := server.New(cfg, server.Deps{DB: db, Clock: stride.SystemClock{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
	launch := server.LaunchURL(ts.URL, cfg.ClientSecret, "bench-0", site.GID, time.Now())
	resp, err := client.Get(launch)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("launch answered %d", resp.StatusCode)
	}
	var course, learner int64
	g.Raw("SELECT course_id FROM progress_buckets WHERE site_id = ? GROUP BY course_id ORDER BY SUM(enrollments) DESC LIMIT 1", site.ID).Scan(&course)
	g.Raw("SELECT learner_id FROM enrollments WHERE site_id = ? ORDER BY percent DESC LIMIT 1", site.ID).Scan(&learner)

	fmt.Fprintf(stdout, "\nStride page benchmark — PostgreSQL, %d events in all; largest site: %d events (%d steps), %d learners\n",
		nEvents, nSiteEvents, nSiteEvents/2, nLearners)
	fmt.Fprintf(stdout, "%-44s %8s %8s %8s  %s\n", "page (largest site)", "p50", "p95", "max", "target p95 ≤ 100 ms")
	pages := []string{"/", fmt.Sprintf("/courses/%d", course), fmt.Sprintf("/courses/%d?sort=progress", course),
		fmt.Sprintf("/courses/%d?status=stalled", course), fmt.Sprintf("/courses/%d?page=200", course),
		fmt.Sprintf("/courses/%d?q=learner12", course), fmt.Sprintf("/learners/%d", learner), "/connection"}
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
	for _, p := range []string{"/export/steps.csv", "/export/enrollments.csv"} {
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
