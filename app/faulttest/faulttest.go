//go:build fault

package faulttest

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/loopback"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

const (
	clientSecret = "fault-test-client-secret"
	secretKey    = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// server is a stride command running as a child process, `stride serve` unless said
// otherwise; it can be killed and started again on the same port and log file.
type server struct {
	t      testing.TB
	bin    string
	args   []string // the command's arguments: serve, worker
	env    []string
	URL    string // where it answers HTTP; "" for a process that does not
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
}

func newServer(t testing.TB, bin string, pg *postgres) *server {
	t.Helper()
	port, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	return newProcess(t, bin, []string{"serve"}, url, appEnv(pg.URL, port, url))
}

// appEnv is the environment a stride process runs with here: Stride's configuration as a
// partner sets it, but for Thinkific's URLs, which lead nowhere. Port 0 sets no PORT, as
// Heroku sets none for a worker dyno or the release phase.
func appEnv(databaseURL string, port int, appURL string) []string {
	env := os.Environ()
	if port != 0 {
		env = append(env, "PORT="+strconv.Itoa(port))
	}
	return append(env,
		"APP_URL="+appURL,
		"DATABASE_URL="+databaseURL,
		"THINKIFIC_CLIENT_ID=fault-test",
		"THINKIFIC_CLIENT_SECRET="+clientSecret,
		"SECRET_KEY="+secretKey,
		"LOG_LEVEL=warn",
		// The webhook sweep must not reach the real Thinkific: a closed port fails at once.
		"THINKIFIC_API_URL=http://127.0.0.1:1",
		"THINKIFIC_SITE_URL=http://127.0.0.1:1/{subdomain}",
	)
}

// newProcess is bin with args and env, not yet started; url is where it answers HTTP, or ""
// for a process that does not. t.Cleanup kills it if it still runs.
func newProcess(t testing.TB, bin string, args []string, url string, env []string) *server {
	t.Helper()
	s := &server{t: t, bin: bin, args: args, env: env, URL: url, log: filepath.Join(t.TempDir(), "stride.log")}
	t.Cleanup(func() {
		if s.running() {
			s.kill()
		}
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", s, testdb.Tail(s.log, 40))
		}
	})
	return s
}

func (s *server) String() string { return "stride " + strings.Join(s.args, " ") + " " + s.URL }

// migrate runs `stride migrate`, as Heroku's release phase does.
func (s *server) migrate() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "migrate")
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("stride migrate: %v\n%s", err, out)
	}
}

// start runs the command and returns once /healthz answers 200; a process that answers no
// HTTP must still be running after a moment.
func (s *server) start() {
	s.t.Helper()
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = s.env, f, f
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { s.cmd.Wait(); close(exited) }()
	if s.URL == "" {
		select {
		case <-exited:
			s.t.Fatalf("%s exited at start: %v\n%s", s, s.cmd.ProcessState, testdb.Tail(s.log, 40))
		case <-time.After(500 * time.Millisecond):
		}
		return
	}

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			s.t.Fatalf("%s exited before it was healthy: %v\n%s", s, s.cmd.ProcessState, testdb.Tail(s.log, 40))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not healthy within 20 s (last: %v)\n%s", s, err, testdb.Tail(s.log, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL, as a crashed dyno or an OOM kill would, and waits for the process.
func (s *server) kill() {
	s.signal(syscall.SIGKILL, 10*time.Second)
}

// stop sends SIGTERM, as Heroku does, waits for the graceful shutdown (Heroku sends
// SIGKILL 30 s after SIGTERM) and returns how long the process took to exit.
func (s *server) stop() time.Duration {
	s.t.Helper()
	took := s.signal(syscall.SIGTERM, 30*time.Second)
	if !s.cmd.ProcessState.Success() {
		s.t.Errorf("%s ended with %v after SIGTERM; want a clean exit", s, s.cmd.ProcessState)
	}
	return took
}

// signal sends sig and returns how long the process took to exit; past wait it kills the
// process and fails the test.
func (s *server) signal(sig syscall.Signal, wait time.Duration) time.Duration {
	s.t.Helper()
	sent := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil && s.running() {
		s.t.Fatalf("%v to %s: %v", sig, s, err)
	}
	select {
	case <-s.exited:
		return time.Since(sent)
	case <-time.After(wait):
		s.cmd.Process.Kill()
		s.t.Fatalf("%s did not exit within %v of %v", s, wait, sig)
		return wait
	}
}

// site is an installed Thinkific site the load is sent for.
type site struct {
	ID        int64
	Subdomain string
	GID       string // the tenant_global_id its events carry
	TenantID  string
}

// installSites installs n sites directly in the store, without the OAuth dance.
func installSites(t testing.TB, pg *postgres, n int) []site {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, pg)
	defer db.Close()
	var sites []site
	for i := range n {
		s := site{
			Subdomain: fmt.Sprintf("fault-school-%d", i+1),
			GID:       fmt.Sprintf("7c1e9a52-%04d-4d6b-9f3e-0a5b8c2d%04d", i+1, i+1),
			TenantID:  strconv.Itoa(91000 + i),
		}
		saved, _, err := db.SaveInstall(ctx, store.Grant{Subdomain: s.Subdomain, GID: s.GID,
			Tokens: stride.Tokens{Access: "access", Refresh: "refresh", Expiry: time.Now().Add(time.Hour)}})
		if err != nil {
			t.Fatalf("installing %s: %v", s.Subdomain, err)
		}
		s.ID = saved.ID
		sites = append(sites, s)
	}
	return sites
}

// openStore opens Stride's store on the test's database, with a small pool of its own.
func openStore(t testing.TB, pg *postgres) *store.DB {
	t.Helper()
	key, _ := hex.DecodeString(secretKey)
	keys, err := secret.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: pg.URL, MaxConns: 2, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// stack is one test's world: its own PostgreSQL, migrated, with sites installed, and
// `stride serve` running against it.
func stack(t *testing.T, bin string, sites int) (*postgres, *server, []site) {
	t.Helper()
	pg := startPostgres(t)
	srv := newServer(t, bin, pg)
	srv.migrate()
	ss := installSites(t, pg, sites)
	srv.start()
	return pg, srv, ss
}
