package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"

	"github.com/strideapp/stride/app/internal/loopback"
	"github.com/strideapp/stride/app/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// testEnv is a complete environment for serve on a free port, with extra on top.
func testEnv(t *testing.T, extra map[string]string) (getenv func(string) string, port int) {
	port, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORT":                    fmt.Sprint(port),
		"DATA_DIR":                t.TempDir(),
		"THINKIFIC_CLIENT_ID":     "id",
		"THINKIFIC_CLIENT_SECRET": "client-secret-value",
		"SECRET_KEY":              "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }, port
}

// serve starts `stride serve` and returns a stop function that reports how it ended.
func startServe(t *testing.T, getenv func(string) string, out *testkit.Logs) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, out) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s")
			return nil
		}
	}
}

func waitHealthy(t *testing.T, port int) *http.Response {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			resp.Body.Close()
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from /healthz: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The README's run path: serve on the embedded database answers /healthz, and stops
// cleanly when told to.
func TestServeOnSQLite(t *testing.T) {
	env, port := testEnv(t, nil)
	var out testkit.Logs
	stop := startServe(t, env, &out)
	if resp := waitHealthy(t, port); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve ended with %v", err)
	}
	logs := out.String()
	for _, want := range []string{"stride serving", "database=sqlite", "stride stopping", "path=/healthz"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "client-secret-value") {
		t.Fatal("the client secret is in the logs")
	}
}

// On PostgreSQL, serve refuses a schema that `stride migrate` has not brought up to date.
func TestServeOnPostgresNeedsMigrate(t *testing.T) {
	dbURL := testdb.Postgres(t)
	env, port := testEnv(t, map[string]string{"DATABASE_URL": dbURL})
	var out testkit.Logs
	err := run(context.Background(), []string{"serve"}, env, &out)
	if err == nil || !strings.Contains(err.Error(), "stride migrate") {
		t.Fatalf("serve on an empty database: %v", err)
	}
	if err := run(context.Background(), []string{"migrate"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`[1-9][0-9]* migration\(s\) applied to postgresql`).MatchString(out.String()) {
		t.Fatalf("migrate said %q", out.String())
	}
	stop := startServe(t, env, &out)
	if resp := waitHealthy(t, port); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidConfigIsOneLinePerProblem(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"PORT": "eighty", "SECRET_KEY": "short"}[k]
	}
	err := run(context.Background(), []string{"serve"}, env, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve started with a bad config")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 5 { // the heading, PORT, client id, client secret, SECRET_KEY
		t.Fatalf("got:\n%s", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	if err := run(context.Background(), []string{"nope"}, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
		t.Fatal("no error")
	}
	var out bytes.Buffer
	run(context.Background(), nil, func(string) string { return "" }, &out)
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("usage lacks %s", name)
		}
	}
}
