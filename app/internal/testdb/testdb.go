// Package testdb gives tests real databases: PostgreSQL (TEST_DATABASE_URL, or a throwaway
// server started from the PostgreSQL binaries on this machine) and SQLite files.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// adminURL is the server every test database is created on; Main sets it.
var adminURL string

// Main runs the package's tests with a PostgreSQL server available. With TEST_DATABASE_URL
// set it uses that server; otherwise it starts one from PG_BIN (default
// /usr/lib/postgresql/15/bin) in a temporary directory and stops it afterwards.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		adminURL = u
		return m.Run()
	}
	c, err := StartCluster(false)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: no PostgreSQL for the tests: %v\n(set TEST_DATABASE_URL, or PG_BIN to PostgreSQL's server binaries)\n", err)
		return 1
	}
	defer c.Remove()
	adminURL = c.URL
	return m.Run()
}

// Postgres returns the URL of a new, empty database that is dropped when t ends.
func Postgres(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("testdb: call testdb.Main from the package's TestMain")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "stride_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable",
		cfg.User, cfg.Password, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), name)
}
