//go:build fault

package faulttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strideapp/stride/app/internal/testdb"
)

// postgres is a PostgreSQL cluster of one test's own, so that the test may stop and
// restart it. It runs with the durable defaults (fsync and synchronous_commit on): a 2xx
// must mean the delivery survives whatever the test does next.
type postgres struct {
	*testdb.Cluster
	t testing.TB
}

// startPostgres starts a durable cluster. t.Cleanup stops it and removes its files,
// whatever state the test left it in.
func startPostgres(t testing.TB) *postgres {
	t.Helper()
	c, err := testdb.StartCluster(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PostgreSQL log (last lines):\n%s", c.LogTail(30))
		}
		c.Remove()
	})
	p := &postgres{Cluster: c, t: t}
	p.requireDurable()
	return p
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
