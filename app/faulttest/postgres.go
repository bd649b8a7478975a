//go:build fault

package faulttest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a PostgreSQL 15 cluster of one test's own, so that the test may stop and
// restart it. It runs with the durable defaults (fsync and synchronous_commit on): a 2xx
// must mean the delivery survives whatever the test does next.
type postgres struct {
	t    testing.TB
	bin  string
	dir  string // owned by the postgres user when the tests run as root
	port int
	URL  string
}

// startPostgres initialises a cluster on a free loopback port and starts it. t.Cleanup
// stops it and removes its files, whatever state the test left it in.
func startPostgres(t testing.TB) *postgres {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		t.Fatalf("no PostgreSQL server binaries (set PG_BIN): %v", err)
	}
	// Not t.TempDir: its parents are root's and closed to the postgres user.
	dir, err := os.MkdirTemp("", "stride-fault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &postgres{t: t, bin: bin, dir: dir, port: freePort(t)}
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err == nil {
			p.pgCtl("stop", "-m", "immediate", "-t", "30").Run()
		}
		if t.Failed() {
			t.Logf("PostgreSQL log (last lines):\n%s", tail(filepath.Join(dir, "postgres.log"), 30))
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// --no-sync only spares initdb's own flush of the new files: the tests crash processes,
	// not the machine. The server itself runs with fsync on.
	if out, err := p.command(filepath.Join(bin, "initdb"), "-D", p.data(), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	p.requireDurable()
	return p
}

func (p *postgres) data() string { return filepath.Join(p.dir, "data") }

// command runs a PostgreSQL program, as the postgres user when we are root (PostgreSQL
// refuses to run as root).
func (p *postgres) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (p *postgres) pgCtl(args ...string) *exec.Cmd {
	return p.command(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", p.data()}, args...)...)
}

// start starts the server and returns once it accepts connections.
func (p *postgres) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=100", p.port, p.dir)
	out, err := p.pgCtl("start", "-w", "-t", "60", "-l", filepath.Join(p.dir, "postgres.log"), "-o", opts).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(filepath.Join(p.dir, "postgres.log"), 30))
	}
	return nil
}

// stop stops the server in the given shutdown mode (smart, fast or immediate) and returns
// once it is down.
func (p *postgres) stop(mode string) error {
	if out, err := p.pgCtl("stop", "-w", "-t", "60", "-m", mode).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// requireDurable fails the test unless the server commits durably: a test of "2xx means
// stored" on a server that may lose commits would prove nothing.
func (p *postgres) requireDurable() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version, fsync, syncCommit string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')").
		Scan(&version, &fsync, &syncCommit); err != nil {
		p.t.Fatal(err)
	}
	if !strings.HasPrefix(version, "15") || fsync != "on" || syncCommit != "on" {
		p.t.Fatalf("PostgreSQL %s with fsync=%s, synchronous_commit=%s; want 15 with both on", version, fsync, syncCommit)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail is the last n lines of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
