//go:build fault

package faulttest

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/loopback"
)

// A deploy as Heroku runs one, from the repository's Procfile: the release command first,
// then two web processes (each with its own PORT) and a worker process, with DATABASE_URL
// in Heroku's form (a role and its password). Under a steady load of signed deliveries over
// both web processes, each process in turn gets SIGTERM, as a deploy or a daily restart
// sends it, and is started again. No delivery fails for good: a 503 is sent again, and a
// refused connection goes to the other web process. Every process exits within Heroku's
// 30 s, every delivery is stored and applied once, and none is stored by an attempt whose
// answer was dropped.
func TestDeployRehearsal(t *testing.T) {
	procs := procfile(t)
	pg := startPostgres(t)
	dsn := herokuDatabase(t, pg)
	app := pg.as(dsn)
	var ports [2]int
	for i := range ports {
		port, err := loopback.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = port
	}
	appURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0]) // one config var for every dyno

	bin, args := command(t, procs, "release")
	release := exec.Command(bin, args...)
	release.Env = appEnv(dsn, 0, appURL)
	out, err := release.CombinedOutput()
	if err != nil {
		t.Fatalf("release (%s): %v\n%s", strings.Join(procs["release"], " "), err, out)
	}
	t.Logf("deploy: release phase %q: %s", strings.Join(procs["release"], " "), strings.TrimSpace(string(out)))

	sites := installSites(t, app, 3)
	var all []*server
	for i, port := range ports {
		bin, args := command(t, procs, "web")
		all = append(all, newProcess(t, bin, args, fmt.Sprintf("http://127.0.0.1:%d", port), appEnv(dsn, port, appURL)))
		all[i].start()
	}
	bin, args = command(t, procs, "worker")
	all = append(all, newProcess(t, bin, args, "", appEnv(dsn, 0, appURL)))
	all[2].start()
	names := []string{"web.1", "web.2", "worker.1"}

	rt := newRouter(all[0].URL, all[1].URL)
	gen := newEvents(sites)
	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	for i := range 6 {
		load.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				rt.send(gen.next(), n%2)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	t.Cleanup(func() { stopLoad(); load.Wait() })

	// Heroku restarts dynos one at a time when asked to; each is started again once it
	// exited.
	start := time.Now()
	exits := make([]time.Duration, len(all))
	terms := make([]time.Time, len(all))
	time.Sleep(2 * time.Second)
	for i, p := range all {
		terms[i] = time.Now()
		exits[i] = p.stop()
		p.start()
		time.Sleep(1500 * time.Millisecond)
	}
	stopLoad()
	load.Wait()
	loadTook := time.Since(start)
	took, c := rt.checkAll(t, app)
	if c.lostAnswers > 0 {
		t.Errorf("%d deliveries were stored by an attempt that got no answer: a process dropped requests it had taken", c.lostAnswers)
	}
	for i, d := range exits {
		if d > 30*time.Second {
			t.Errorf("%s exited %v after SIGTERM; Heroku sends SIGKILL after 30 s", names[i], d)
		}
	}
	// A web process that gets SIGTERM answers the requests it has taken before it exits.
	inFlight := make([]int, 2)
	for _, a := range rt.l.answers() {
		for i := range inFlight {
			if a.To == all[i].URL && a.Sent.Before(terms[i]) && a.Got.After(terms[i]) {
				inFlight[i]++
				if a.Status == 0 {
					t.Errorf("%v sent to %s at %s, in flight at its SIGTERM (%s): %v", a.ev, names[i], clock(a.Sent), clock(terms[i]), a.answer)
				}
			}
		}
	}

	u, _ := url.Parse(dsn)
	t.Logf("deploy: Procfile web %q ×2 (PORT %d, %d), worker %q ×1; DATABASE_URL postgres://%s:<password>@%s%s",
		strings.Join(procs["web"], " "), ports[0], ports[1], strings.Join(procs["worker"], " "), u.User.Username(), u.Host, u.Path)
	t.Logf("deploy: %d events over %v of load; %v; %d retries", c.events, loadTook.Round(time.Millisecond), c, rt.retries.Load())
	var exitTimes []string
	for i, d := range exits {
		exitTimes = append(exitTimes, fmt.Sprintf("%s %v", names[i], d.Round(time.Millisecond)))
	}
	t.Logf("deploy: exit after SIGTERM: %s; requests in flight at SIGTERM and answered: web.1 %d, web.2 %d; inbox drained %v after the load ended",
		strings.Join(exitTimes, ", "), inFlight[0], inFlight[1], took.Round(time.Millisecond))
	for _, p := range all {
		p.stop()
	}
}
