package bench

import (
	"strings"
	"testing"

	"github.com/strideapp/stride/app/config"
)

// PostgreSQL's processes are read only when it runs on this machine.
func TestLocalDatabase(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"postgres://u@127.0.0.1:5432/db?sslmode=disable", true},
		{"postgres://u@localhost/db", true},
		{"postgres://u@[::1]:5432/db", true},
		{"postgres:///db?host=/var/run/postgresql", true},
		{"postgres://u@db.example.com:5432/db?sslmode=require", false},
		{"postgres://u@10.0.0.7/db?sslmode=require", false},
	} {
		if got := localDatabase(tc.url); got != tc.want {
			t.Errorf("localDatabase(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

// A PostgreSQL process that began during a phase counts whole; one that ended, not at all.
func TestCostPerEvent(t *testing.T) {
	a := costSample{stride: 100, postgres: map[int]float64{1: 50, 2: 70}}
	b := costSample{stride: 120, postgres: map[int]float64{1: 60, 3: 10}}
	c := a.to(b, "serve", 100)
	if c.stride != 200 || c.postgres != 200 || !c.postgresKnown {
		t.Fatalf("%+v", c)
	}
	if ms, ok := c.perEvent(); !ok || ms != 4 {
		t.Errorf("per event %v %v, want 4 ms", ms, ok)
	}
	if s := c.String(); s != "4.000 ms per event applied (serve 2.000 + PostgreSQL 2.000), over 100 events" {
		t.Errorf("%s", s)
	}
	remote := costSample{stride: 100}.to(costSample{stride: 150}, "worker", 50)
	if _, ok := remote.perEvent(); ok || !strings.Contains(remote.String(), "worker 10.000 ms + PostgreSQL n/a") {
		t.Errorf("remote database: %v", remote)
	}
}

// The server runs with Stride's defaults; only what the partner's environment sets is
// passed on, and the report says which.
func TestServeEnvPassesOnlyWhatIsSet(t *testing.T) {
	cfg := &config.Config{DatabaseURL: "postgres://u@127.0.0.1/db?sslmode=disable"}
	for _, tc := range []struct {
		name    string
		partner map[string]string
		want    map[string]string // "" for unset
	}{
		{"defaults", nil, map[string]string{"LOG_LEVEL": "", "DATABASE_MAX_CONNECTIONS": "", "GOGC": ""}},
		{"set", map[string]string{"LOG_LEVEL": "warn", "DATABASE_MAX_CONNECTIONS": "20", "GOMAXPROCS": "1", "HOME": "/root"},
			map[string]string{"LOG_LEVEL": "warn", "DATABASE_MAX_CONNECTIONS": "20", "GOMAXPROCS": "1", "HOME": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := serveEnv(cfg, func(k string) string { return tc.partner[k] })
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if env[k] != v {
					t.Errorf("%s=%q, want %q", k, env[k], v)
				}
			}
			set, err := measuredSettings(env)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range set {
				if _, given := tc.partner[s.name]; s.fromEnv != given || s.value == "" {
					t.Errorf("%v, partner's environment %v", s, tc.partner)
				}
			}
		})
	}
	if _, err := measuredSettings(map[string]string{"LOG_LEVEL": "loud", "THINKIFIC_CLIENT_ID": "x", "THINKIFIC_CLIENT_SECRET": "y",
		"SECRET_KEY": strings.Repeat("ab", 32)}); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("an invalid LOG_LEVEL: %v", err)
	}
}
