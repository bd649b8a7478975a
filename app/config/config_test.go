package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	goodKey  = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	otherKey = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{
		"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey,
	}), NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.AppURL.String() != "http://localhost:8080" || c.DatabaseURL != "" || c.DataDir != "./data" ||
		c.WriteTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if c.RedirectURI() != "http://localhost:8080/oauth/callback" || c.WebhookURL() != "http://localhost:8080/webhooks/thinkific" {
		t.Errorf("derived URLs: %s %s", c.RedirectURI(), c.WebhookURL())
	}
	if got := c.SiteBaseURL("acme"); got != "https://acme.thinkific.com" {
		t.Errorf("site URL %s", got)
	}
	if got := c.SiteOrigin("acme"); got != "https://acme.thinkific.com" {
		t.Errorf("site origin %s", got)
	}
	if len(c.Secrets()) != 1 {
		t.Errorf("secrets %v", c.Secrets())
	}
}

func TestPreviousAppURLs(t *testing.T) {
	c, err := Load(env(map[string]string{"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey,
		"PREVIOUS_APP_URLS": " https://old.example.com/ ,,https://older.example.com"}), NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.PreviousWebhookURLs(), " ")
	if want := "https://old.example.com/webhooks/thinkific https://older.example.com/webhooks/thinkific"; got != want {
		t.Fatalf("previous webhook URLs %q, want %q", got, want)
	}
}

func TestLoadProblems(t *testing.T) {
	base := map[string]string{"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey}
	cases := []struct {
		name string
		set  map[string]string
		want string // a fragment of the one problem line
	}{
		{"bad port", map[string]string{"PORT": "http"}, "PORT must be a number"},
		{"port out of range", map[string]string{"PORT": "70000"}, "PORT must be a number"},
		{"http app url on public host", map[string]string{"APP_URL": "http://stride.example.com"}, "APP_URL must use https"},
		{"relative app url", map[string]string{"APP_URL": "stride.example.com"}, "APP_URL must be an absolute"},
		{"app url with query", map[string]string{"APP_URL": "https://x.example.com/?a=b"}, "APP_URL must not carry"},
		{"short key", map[string]string{"SECRET_KEY": "abcd"}, "SECRET_KEY must decode to at least 32 bytes"},
		{"missing key", map[string]string{"SECRET_KEY": ""}, "SECRET_KEY is required"},
		{"garbage key", map[string]string{"SECRET_KEY": "not a key!!"}, "SECRET_KEY must be hex or base64"},
		{"missing client id", map[string]string{"THINKIFIC_CLIENT_ID": ""}, "THINKIFIC_CLIENT_ID is required"},
		{"missing client secret", map[string]string{"THINKIFIC_CLIENT_SECRET": ""}, "THINKIFIC_CLIENT_SECRET is required"},
		{"not postgres", map[string]string{"DATABASE_URL": "mysql://db"}, "DATABASE_URL must be a postgres://"},
		{"remote db without tls", map[string]string{"DATABASE_URL": "postgres://u:p@db.example.com/x?sslmode=disable"}, "TLS is required"},
		{"site url without placeholder", map[string]string{"THINKIFIC_SITE_URL": "https://thinkific.com"}, "THINKIFIC_SITE_URL must contain {subdomain}"},
		{"api url over http", map[string]string{"THINKIFIC_API_URL": "http://api.thinkific.com"}, "THINKIFIC_API_URL must use https"},
		{"previous app url over http", map[string]string{"PREVIOUS_APP_URLS": "https://a.example.com, http://b.example.com"}, "PREVIOUS_APP_URLS (comma-separated) must use https"},
		{"previous app url relative", map[string]string{"PREVIOUS_APP_URLS": "old.example.com"}, "PREVIOUS_APP_URLS (comma-separated) must be an absolute"},
		{"sweep interval", map[string]string{"WEBHOOK_SWEEP_INTERVAL": "5s"}, "WEBHOOK_SWEEP_INTERVAL must be"},
		{"short previous key", map[string]string{"SECRET_KEY_PREVIOUS": "abcd"}, "SECRET_KEY_PREVIOUS key 1 must decode to at least 32 bytes"},
		{"garbage second previous key", map[string]string{"SECRET_KEY_PREVIOUS": otherKey + ",not a key!!"}, "SECRET_KEY_PREVIOUS key 2 must be hex or base64"},
		{"previous key is the current one", map[string]string{"SECRET_KEY_PREVIOUS": goodKey}, "SECRET_KEY_PREVIOUS key 1 is SECRET_KEY itself"},
		{"no connections", map[string]string{"DATABASE_MAX_CONNECTIONS": "0"}, "DATABASE_MAX_CONNECTIONS must be a number from 1"},
		{"connections not a number", map[string]string{"DATABASE_MAX_CONNECTIONS": "many"}, "DATABASE_MAX_CONNECTIONS must be a number from 1"},
		{"too many connections", map[string]string{"DATABASE_MAX_CONNECTIONS": "501"}, "DATABASE_MAX_CONNECTIONS must be a number from 1"},
		{"site url over http", map[string]string{"THINKIFIC_SITE_URL": "http://{subdomain}.thinkific.com"}, "THINKIFIC_SITE_URL must use https"},
		{"wait for lesson not a boolean", map[string]string{"PAIRING_WAIT_FOR_LESSON": "sometimes"}, "PAIRING_WAIT_FOR_LESSON must be true or false"},
		{"unknown log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL must be debug, info, warn or error"},
		{"pairing window too wide", map[string]string{"PAIRING_WINDOW": "2m"}, "PAIRING_WINDOW must be a duration"},
		{"api budget zero", map[string]string{"THINKIFIC_API_REQUESTS_PER_MINUTE": "0"}, "THINKIFIC_API_REQUESTS_PER_MINUTE must be a whole number of at least 1"},
		{"api budget not a number", map[string]string{"THINKIFIC_API_REQUESTS_PER_MINUTE": "lots"}, "THINKIFIC_API_REQUESTS_PER_MINUTE must be a whole number of at least 1"},
		{"api budget fractional", map[string]string{"THINKIFIC_API_REQUESTS_PER_MINUTE": "1.5"}, "THINKIFIC_API_REQUESTS_PER_MINUTE must be a whole number of at least 1"},
		{"retention not a duration", map[string]string{"DELIVERY_RETENTION": "a month"}, "DELIVERY_RETENTION must be a duration"},
		{"short metrics token", map[string]string{"METRICS_TOKEN": "fifteen-chars!!"}, "METRICS_TOKEN must be at least 16 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := Load(env(m), NeedAll)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("got %q, want one line with %q", err, tc.want)
			}
		})
	}
}

// SECRET_KEY_PREVIOUS lists the keys SECRET_KEY replaced, current first in SecretKeys.
func TestPreviousSecretKeys(t *testing.T) {
	third := strings.Repeat("ab", 32)
	c, err := Load(env(map[string]string{
		"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey,
		"SECRET_KEY_PREVIOUS": otherKey + " , " + third + ",",
	}), NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	keys := c.SecretKeys()
	if len(keys) != 3 || keys[0][31] != 0x1f || keys[1][0] != 0xff || keys[2][0] != 0xab {
		t.Fatalf("keys %x", keys)
	}
	if c.MaxConnections != 5 {
		t.Errorf("DATABASE_MAX_CONNECTIONS default %d, want 5", c.MaxConnections)
	}
	if c.APIRequestsPerMinute != 120 {
		t.Errorf("THINKIFIC_API_REQUESTS_PER_MINUTE default %d, want 120", c.APIRequestsPerMinute)
	}
}

// METRICS_TOKEN is optional: unset, /metrics is off; set, it is kept as given, trimmed.
func TestMetricsToken(t *testing.T) {
	for _, tc := range []struct{ set, want string }{{"", ""}, {"  0123456789abcdef ", "0123456789abcdef"}} {
		c, err := Load(env(map[string]string{"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey,
			"METRICS_TOKEN": tc.set}), NeedAll)
		if err != nil {
			t.Fatal(err)
		}
		if c.MetricsToken != tc.want {
			t.Errorf("METRICS_TOKEN %q read as %q, want %q", tc.set, c.MetricsToken, tc.want)
		}
	}
}

func TestLoadEveryProblemOnItsOwnLine(t *testing.T) {
	_, err := Load(env(map[string]string{"PORT": "x", "APP_URL": "ftp://x"}), NeedAll)
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 5 { // port, app url, id, secret, key
		t.Errorf("got %d lines:\n%s", n, err)
	}
}

func TestMigrateNeedsOnlyTheDatabase(t *testing.T) {
	if _, err := Load(env(map[string]string{}), NeedDatabase); err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseTLS(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d": "sslmode=require",
		"postgres://u:p@db.example.com/d?sslmode=verify-full":       "sslmode=verify-full",
		"postgres://u:p@localhost:5432/d":                           "postgres://u:p@localhost:5432/d",
		"postgresql://u@127.0.0.1/d?sslmode=disable":                "sslmode=disable",
		"postgres:///d?host=/var/run/postgresql":                    "host=%2Fvar%2Frun%2Fpostgresql",
		"postgres:///d?host=db.example.com":                         "sslmode=require",
	}
	for in, want := range cases {
		got, err := postgresDSN(in)
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("%s: got %q, %v; want it to contain %q", in, got, err, want)
		}
	}
}

func TestKeyEncodings(t *testing.T) {
	for _, k := range []string{goodKey, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"} {
		b, err := decodeKey(k)
		if err != nil || len(b) != 32 || b[31] != 0x1f {
			t.Errorf("%s: %v %x", k, err, b)
		}
	}
}

func TestDatabaseTLSFromHostParameter(t *testing.T) {
	if got, err := postgresDSN("postgres:///d?host=/var/run/postgresql"); err != nil || strings.Contains(got, "sslmode") {
		t.Errorf("socket directory: %q %v, want no sslmode", got, err)
	}
	if _, err := postgresDSN("postgres:///d?host=db.example.com&sslmode=prefer"); err == nil || !strings.Contains(err.Error(), `"db.example.com"`) {
		t.Errorf("remote host given as a parameter: %v", err)
	}
}

// Settings beyond the defaults: a rotation's previous client secret, waiting for lessons,
// the log level, a site URL with a port.
func TestLoadSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey,
		"THINKIFIC_CLIENT_SECRET_PREVIOUS": "old-secret", "PAIRING_WAIT_FOR_LESSON": "Yes", "LOG_LEVEL": "debug",
		"THINKIFIC_SITE_URL": "http://{subdomain}.localhost:3000/", "DATABASE_MAX_CONNECTIONS": "20"}), NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Secrets(); len(s) != 2 || s[0] != "secret" || s[1] != "old-secret" {
		t.Errorf("secrets %v, want the current one first", s)
	}
	if !c.WaitForLesson || c.LogLevel != slog.LevelDebug || c.MaxConnections != 20 {
		t.Errorf("wait %v, level %v, connections %d", c.WaitForLesson, c.LogLevel, c.MaxConnections)
	}
	if got := c.SiteOrigin("acme"); got != "http://acme.localhost:3000" {
		t.Errorf("site origin %q", got)
	}
	// A subdomain that makes no URL leaves the origin as the site's base URL.
	if got := c.SiteOrigin("a%zz"); got != "http://a%zz.localhost:3000" {
		t.Errorf("origin of an unparsable site URL %q", got)
	}
	for _, off := range []string{"false", "0", "no", "OFF"} {
		c, err := Load(env(map[string]string{"PAIRING_WAIT_FOR_LESSON": off}), NeedDatabase)
		if err != nil || c.WaitForLesson {
			t.Errorf("PAIRING_WAIT_FOR_LESSON=%s: %v %v", off, c, err)
		}
	}
}
