package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/demo"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/stride"
)

// A short seeded demo, headless: every learner step the double played is in the site's
// steps.csv exactly once, paired with its progress (from → to), and nothing else is.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	o := demo.Options{Addr: "127.0.0.1:0", Sites: 2, Learners: 12, Speed: 1e6, Seed: 7, APILatency: 5 * time.Millisecond, DataDir: t.TempDir(), Exit: true}
	o.Check = func(appURL, secret string, sites []*demo.Site) error {
		for _, s := range sites {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			resp, err := c.Get(server.LaunchURL(appURL, secret, s.Thinkific.Subdomain(), s.Thinkific.GID(), time.Now()))
			if err != nil {
				return err
			}
			resp.Body.Close()
			resp, err = c.Get(appURL + "/export/steps.csv")
			if err != nil {
				return err
			}
			rows, err := csv.NewReader(resp.Body).ReadAll()
			resp.Body.Close()
			if err != nil {
				return err
			}
			var got, want []string
			for _, r := range rows[1:] {
				got = append(got, strings.Join([]string{r[0], r[1], r[3], r[7], r[9], r[10]}, ","))
			}
			for _, p := range s.Played {
				want = append(want, strings.Join([]string{p.At.UTC().Format(time.RFC3339), fmt.Sprint(p.Learner), fmt.Sprint(p.Course),
					fmt.Sprint(p.Lesson), strconv.FormatFloat(p.Before, 'f', -1, 64), strconv.FormatFloat(p.After, 'f', -1, 64)}, ","))
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) == 0 {
				return fmt.Errorf("%s: the demo played no steps", s.Thinkific.Subdomain())
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s: steps.csv has %d steps, the double played %d:\ngot  %v\nwant %v", s.Thinkific.Subdomain(), len(got), len(want), got, want)
			}
		}
		return nil
	}
	start := time.Now()
	sites, err := demo.Play(context.Background(), o, startDemo, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(sites) != 2 || !strings.Contains(out.String(), fmt.Sprintf("installed on demo-academy through OAuth; %d webhooks registered", len(stride.WebhookTopics))) ||
		!regexp.MustCompile(`imported photo-school from Thinkific: 3 courses, 60 lessons, 150 enrollments, in 20 API requests`).MatchString(out.String()) {
		t.Fatalf("output:\n%s", out.String())
	}
	t.Logf("demo with %d and %d steps took %v", len(sites[0].Played), len(sites[1].Played), time.Since(start))
}
