//go:build fault

package faulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strideapp/stride/app/internal/stridebin"
)

// router spreads deliveries over several web processes, as Heroku's router does over web
// dynos, and delivers each again until it gets a 2xx, as Thinkific retries: to the next
// process after no answer (refused, reset, timed out) or an answer other than a 2xx.
type router struct {
	l       *ledger
	webs    []string
	within  time.Duration // how long one delivery is retried before it counts as failed
	retries atomic.Int64
	mu      sync.Mutex
	failed  []*event
}

func newRouter(webs ...string) *router {
	return &router{l: newLedger(webs[0]), webs: webs, within: 60 * time.Second}
}

// send delivers ev to the web process at index first, and again until it gets a 2xx. It
// reports whether one came.
func (r *router) send(ev *event, first int) bool {
	deadline := time.Now().Add(r.within)
	for i := first; ; i++ {
		if i > first {
			r.retries.Add(1)
		}
		a := r.l.deliverTo(r.webs[i%len(r.webs)], ev)
		if a.ok() {
			return true
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			r.failed = append(r.failed, ev)
			r.mu.Unlock()
			return false
		}
		if a.Status != 0 {
			time.Sleep(50 * time.Millisecond) // a 503: the database is busy or away, not the process
		}
	}
}

// checkNoneFailed fails for every delivery that never got a 2xx.
func (r *router) checkNoneFailed(t testing.TB) {
	t.Helper()
	p := problems{what: fmt.Sprintf("deliveries without a 2xx after %v of retries", r.within)}
	for _, ev := range r.failed {
		p.add("%v: %s", ev, r.l.byID[ev.ID].history())
	}
	p.report(t)
}

// checkAll waits until the workers drained the inbox, then fails unless every delivery got
// a 2xx, and every event is stored once, answered "accepted" at most once and applied once.
// It returns how long the drain took and what Thinkific's side saw.
func (r *router) checkAll(t testing.TB, pg *postgres) (drained time.Duration, c tally) {
	t.Helper()
	drained = waitDrained(t, pg, 60*time.Second)
	r.checkNoneFailed(t)
	recs := r.l.records()
	stored := read(t, pg)
	checkAckedStored(t, stored, recs, "once the load ended")
	checkApplied(t, stored, recs)
	checkOneAccepted(t, recs)
	checkNoDeadlocks(t, pg)
	return drained, count(recs)
}

// tally is what Thinkific's side saw, counted over every attempt.
type tally struct {
	events, attempts, ok, accepted, duplicate, unavailable, refused, noAnswer, other int
	lostAnswers                                                                      int // events committed by an attempt whose answer never came
}

func count(recs []*record) tally {
	var c tally
	for _, r := range recs {
		c.events++
		accepted := 0
		for _, a := range r.answers {
			c.attempts++
			switch {
			case a.ok():
				c.ok++
				switch a.Outcome {
				case "accepted":
					c.accepted++
					accepted++
				case "duplicate":
					c.duplicate++
				}
			case a.Status == http.StatusServiceUnavailable:
				c.unavailable++
			case a.Status == 0 && errors.Is(a.Err, syscall.ECONNREFUSED):
				c.refused++
			case a.Status == 0:
				c.noAnswer++
			default:
				c.other++
			}
		}
		// Each event is answered "accepted" once: the attempt that stored it. An event
		// stored with no "accepted" answer was stored by an attempt whose answer was lost.
		if _, ok := r.acked(); ok && accepted == 0 {
			c.lostAnswers++
		}
	}
	return c
}

func (c tally) String() string {
	return fmt.Sprintf("%d HTTP attempts: %d 2xx (%d accepted, %d duplicate), %d 503, %d connection refused, %d no answer (reset, closed or timed out), %d other; %d events stored by an attempt whose answer was lost",
		c.attempts, c.ok, c.accepted, c.duplicate, c.unavailable, c.refused, c.noAnswer, c.other, c.lostAnswers)
}

// eventOf is a delivery body made elsewhere (testkit.Journeys), for the ledger.
func eventOf(t testing.TB, s site, body []byte) *event {
	t.Helper()
	var env struct{ ID, Resource, Action string }
	if err := json.Unmarshal(body, &env); err != nil || env.ID == "" {
		t.Fatalf("not an event envelope (%v): %s", err, body)
	}
	return &event{Site: s, ID: env.ID, Topic: env.Resource + "." + env.Action, Body: body}
}

// procfile is the repository's Procfile: each process type's command, in words.
func procfile(t testing.TB) map[string][]string {
	t.Helper()
	root, err := stridebin.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "Procfile"))
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, command, ok := strings.Cut(line, ":")
		if !ok || len(strings.Fields(command)) == 0 {
			t.Fatalf("Procfile line %q is not <process type>: <command>", line)
		}
		procs[strings.TrimSpace(name)] = strings.Fields(command)
	}
	return procs
}

// command is a Procfile command as a binary and its arguments: the program is looked up in
// the directory of the stride binary the tests built, as Heroku's Go buildpack puts the
// binaries it builds on PATH.
func command(t testing.TB, procs map[string][]string, proc string) (bin string, args []string) {
	t.Helper()
	words, ok := procs[proc]
	if !ok {
		t.Fatalf("the Procfile has no %s process", proc)
	}
	bin = filepath.Join(filepath.Dir(strideBin), words[0])
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Procfile %s runs %q, which is not a binary built from this repository", proc, words[0])
	}
	return bin, words[1:]
}

// herokuDatabase makes a role with a password and a database it owns, as Heroku Postgres
// provides, lets that role in by password alone (scram-sha-256, while the cluster trusts
// its superuser), and returns the database's URL in Heroku's form.
func herokuDatabase(t testing.TB, pg *postgres) (dsn string) {
	t.Helper()
	user, dbname, password := "u"+randomHex(6), "d"+randomHex(6), "p"+randomHex(32)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var hba string
	for _, q := range []string{
		"CREATE ROLE " + user + " LOGIN PASSWORD '" + password + "'",
		"CREATE DATABASE " + dbname + " OWNER " + user,
		"SHOW hba_file",
	} {
		if err := conn.QueryRow(ctx, q).Scan(&hba); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rules, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	rule := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", user)
	if err := os.WriteFile(hba, append([]byte(rule), rules...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	super, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	dsn = fmt.Sprintf("postgres://%s:%s@%s/%s", user, password, super.Host, dbname)
	wrong := fmt.Sprintf("postgres://%s:%s@%s/%s", user, "wrong", super.Host, dbname)

	// The server rereads pg_hba.conf on its own time: wait until the password is checked.
	for {
		c, err := pgx.Connect(ctx, wrong)
		if err != nil && strings.Contains(err.Error(), "password authentication failed") {
			break
		}
		if err == nil {
			c.Close(ctx)
		}
		if ctx.Err() != nil {
			t.Fatalf("a wrong password still lets %s in: %v", user, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("the role's own URL does not connect: %v", err)
	}
	c.Close(ctx)
	return dsn
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// as is the cluster reached through another URL, for the checks that read the database.
func (p *postgres) as(dsn string) *postgres {
	c := *p.Cluster
	c.URL = dsn
	return &postgres{Cluster: &c, t: p.t}
}
