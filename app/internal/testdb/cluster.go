package testdb

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strideapp/stride/app/internal/loopback"
)

// Cluster is a PostgreSQL 15 cluster of its own, in a temporary directory, listening on a
// free loopback port, from the server binaries in PG_BIN (default
// /usr/lib/postgresql/15/bin). Tests may stop and start it again.
type Cluster struct {
	URL     string // the postgres database, as the postgres superuser
	Log     string // the server's log file
	bin     string
	dir     string // owned by the postgres user when the tests run as root
	port    int
	options string
}

// StartCluster initialises a cluster and starts it. A durable cluster keeps PostgreSQL's
// defaults (fsync and synchronous_commit on), for tests of what survives a crash; the
// others skip flushing to disk, which makes tests quicker. Remove it when done.
func StartCluster(durable bool) (*Cluster, error) {
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, fmt.Errorf("no PostgreSQL server binaries (set PG_BIN): %w", err)
	}
	port, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	// Not a test's TempDir: its parents are root's and closed to the postgres user.
	dir, err := os.MkdirTemp("", "stride-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Log: filepath.Join(dir, "postgres.log"), bin: bin, dir: dir, port: port}
	c.options = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200", port, dir)
	if !durable {
		c.options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			c.Remove()
			return nil, fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			c.Remove()
			return nil, err
		}
	}
	// --no-sync only spares initdb's own flush of the new files: tests crash processes, not
	// the machine.
	if out, err := c.command(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		c.Remove()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := c.Start(); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// command runs a PostgreSQL program, as the postgres user when we are root (PostgreSQL
// refuses to run as root).
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (c *Cluster) pgCtl(args ...string) *exec.Cmd {
	return c.command(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
}

// Start starts the server and returns once it accepts connections.
func (c *Cluster) Start() error {
	out, err := c.pgCtl("start", "-w", "-t", "60", "-l", c.Log, "-o", c.options).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.LogTail(30))
	}
	return nil
}

// Stop stops the server in the given shutdown mode (smart, fast or immediate) and returns
// once it is down.
func (c *Cluster) Stop(mode string) error {
	if out, err := c.pgCtl("stop", "-w", "-t", "60", "-m", mode).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// Remove stops the server at once if it runs, and deletes the cluster's files.
func (c *Cluster) Remove() {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		c.pgCtl("stop", "-m", "immediate", "-t", "30").Run()
	}
	os.RemoveAll(c.dir)
}

// LogTail is the last n lines of the server's log, for failure messages.
func (c *Cluster) LogTail(n int) string { return Tail(c.Log, n) }

// Tail is the last n lines of a log file, for failure messages.
func Tail(path string, n int) string {
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
