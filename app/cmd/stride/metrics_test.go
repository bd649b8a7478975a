package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
)

const metricsToken = "metrics-token-never-logged-0123456789"

// get is a GET of url with the bearer token ("" for none).
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve answers /metrics to the token's bearer, with the DYNO as a label of its own series,
// and the token is never in its logs, even at debug.
func TestServeMetrics(t *testing.T) {
	env, port := testEnv(t, map[string]string{"METRICS_TOKEN": metricsToken, "LOG_LEVEL": "debug", "DYNO": "web.1"})
	var out testkit.Logs
	stop := startServe(t, env, &out)
	waitHealthy(t, port)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	if code, _ := get(t, url, "wrong-token-wrong-token"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	code, body := get(t, url, metricsToken)
	if code != http.StatusOK || !strings.Contains(body, `stride_events_applied_total{dyno="web.1"} 0`) ||
		!strings.Contains(body, "\nstride_inbox_depth 0\n") {
		t.Fatalf("%d %.2000s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if logs := out.String(); strings.Contains(logs, metricsToken) || !strings.Contains(logs, "path=/metrics") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// A worker serves /metrics, and nothing else, on PORT when PORT and METRICS_TOKEN are both
// set; otherwise it listens nowhere.
func TestWorkerMetrics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		serves bool
	}{
		{"port and token", map[string]string{"METRICS_TOKEN": metricsToken}, true},
		{"no token", nil, false},
		{"no port (a Heroku worker dyno)", map[string]string{"METRICS_TOKEN": metricsToken, "PORT": ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, port := testEnv(t, tc.env)
			var out testkit.Logs
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{"worker"}, env, &out) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}()
			for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "stride worker running"); {
				if time.Now().After(deadline) {
					t.Fatalf("the worker did not start:\n%s", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if served := strings.Contains(out.String(), "stride worker serving /metrics"); served != tc.serves {
				t.Fatalf("serving %v, want %v:\n%s", served, tc.serves, out.String())
			}
			if !tc.serves {
				return
			}
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			for _, c := range []struct {
				path, token string
				want        int
			}{
				{"/metrics", "", http.StatusUnauthorized},
				{"/metrics", metricsToken, http.StatusOK},
				{"/healthz", metricsToken, http.StatusNotFound},
			} {
				if code, body := get(t, base+c.path, c.token); code != c.want || (code == 200 && !strings.Contains(body, "stride_events_applied_total 0")) {
					t.Errorf("%s: %d %.300s, want %d", c.path, code, body, c.want)
				}
			}
		})
	}
}
