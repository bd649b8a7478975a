package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkific"
	"github.com/strideapp/stride/app/thinkificdouble"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	clientID     = "stride-client"
	clientSecret = "stride-client-secret"
	secretKey    = "8f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f"
)

// clock is real time plus an offset that tests move forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// harness is Stride served over real HTTP, against the Thinkific double over real HTTP.
type harness struct {
	t        *testing.T
	double   *thinkificdouble.Double
	site     *thinkificdouble.Site // "acme"
	cfg      *config.Config
	db       *store.DB
	install  *install.Service
	receiver *ingest.Receiver
	worker   *progress.Worker
	clock    *clock
	url      string
}

type option func(*thinkificdouble.Config, map[string]string)

// dbKinds runs fn once on PostgreSQL and once on SQLite: every storage path is tested on both.
func dbKinds(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("postgres", func(t *testing.T) { fn(t, testdb.Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
}

func newHarness(t *testing.T, dbURL string, opts ...option) *harness {
	t.Helper()
	dcfg := thinkificdouble.Config{ClientID: clientID, ClientSecret: clientSecret}
	env := map[string]string{}
	for _, o := range opts {
		o(&dcfg, env)
	}
	double := thinkificdouble.New(dcfg)
	dts := httptest.NewServer(double)
	t.Cleanup(dts.Close)

	ts := httptest.NewUnstartedServer(nil)
	base := map[string]string{
		"APP_URL":                 "http://" + ts.Listener.Addr().String(),
		"DATABASE_URL":            dbURL,
		"DATA_DIR":                t.TempDir(),
		"THINKIFIC_CLIENT_ID":     clientID,
		"THINKIFIC_CLIENT_SECRET": clientSecret,
		"SECRET_KEY":              secretKey,
		"THINKIFIC_SITE_URL":      double.SiteURLTemplate(dts.URL),
		"THINKIFIC_API_URL":       dts.URL,
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) string { return base[k] }, config.NeedAll)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, double: double, site: double.AddSite("acme"), cfg: cfg, clock: &clock{}, url: cfg.AppURL.String()}
	h.db = h.openDB()
	h.install = h.newInstall(h.db)
	log := slog.New(slog.DiscardHandler)
	h.worker = progress.New(h.db, progress.Config{Window: cfg.PairingWindow, Grace: cfg.UninstallGrace, Retention: cfg.Retention, Poll: progress.DefaultPoll}, h.clock, log)
	h.receiver = ingest.New(h.db, ingest.Config{Secrets: cfg.Secrets(), WaitForLesson: cfg.WaitForLesson, Window: cfg.PairingWindow, Grace: cfg.UninstallGrace}, h.clock, log, nil)
	srv, err := server.New(cfg, server.Deps{DB: h.db, Install: h.install, Receiver: h.receiver, Clock: h.clock, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return h
}

func (h *harness) openDB() *store.DB {
	keys, _ := secret.NewKeyring(h.cfg.SecretKey)
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: h.cfg.DatabaseURL, DataDir: h.cfg.DataDir, MaxConns: h.cfg.MaxConnections, Keys: keys, Clock: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return db
}

// newInstall builds an install service on db: two of them on two connections to one
// database behave as two processes.
func (h *harness) newInstall(db *store.DB) *install.Service {
	api := thinkific.New(thinkific.Config{
		SiteURL: h.cfg.SiteURL, APIURL: h.cfg.APIURL, ClientID: h.cfg.ClientID, ClientSecret: h.cfg.ClientSecret,
		RedirectURI: h.cfg.RedirectURI(), UserAgent: "Stride/test", Clock: h.clock,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 3 * time.Second,
	})
	svc := install.New(db, api, install.Config{WebhookURL: h.cfg.WebhookURL(), PreviousWebhookURLs: h.cfg.PreviousWebhookURLs(), SweepInterval: h.cfg.SweepInterval}, h.clock, slog.New(slog.DiscardHandler))
	h.t.Cleanup(func() { svc.Drain(context.Background()) }) // before the database closes
	return svc
}

// browser is a client with its own cookies that follows redirects, like a person's browser.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// stepper is a browser that stops at each redirect, to see and tamper with each hop.
func stepper() *http.Client {
	c := browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// installVia runs the whole install in browser c and returns the final page, once the
// webhook registration the install started in the background is done.
func (h *harness) installVia(c *http.Client, subdomain string) (*http.Response, string) {
	resp, page := get(h.t, c, h.url+"/install?subdomain="+subdomain)
	h.install.Drain(context.Background())
	return resp, page
}

// callbackURL starts an install in c and lets the double approve it, returning the
// callback URL the admin's browser would be sent to (not yet visited).
func (h *harness) callbackURL(c *http.Client) string {
	h.t.Helper()
	resp, _ := get(h.t, c, h.url+"/install?subdomain=acme")
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("install answered %d", resp.StatusCode)
	}
	resp, _ = get(h.t, c, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("authorize answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// requests are the double's recorded requests matching method and path fragment.
func (h *harness) requests(method, pathPart string) []thinkificdouble.Request {
	var out []thinkificdouble.Request
	for _, r := range h.double.Requests() {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, pathPart) {
			out = append(out, r)
		}
	}
	return out
}

func mustContain(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q:\n%s", p, body)
		}
	}
}
