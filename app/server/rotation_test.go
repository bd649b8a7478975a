package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
)

// process is another Stride process on the harness's database, with its own environment.
type process struct {
	url    string // where it listens, whatever its APP_URL says
	db     *store.DB
	worker *progress.Worker
}

// startProcess serves Stride on h's database and Thinkific double, with env overriding
// the harness's settings.
func (h *harness) startProcess(env map[string]string) *process {
	h.t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := map[string]string{
		"APP_URL": "http://" + ts.Listener.Addr().String(), "DATABASE_URL": h.cfg.DatabaseURL, "DATA_DIR": h.cfg.DataDir,
		"THINKIFIC_CLIENT_ID": clientID, "THINKIFIC_CLIENT_SECRET": clientSecret, "SECRET_KEY": secretKey,
		"THINKIFIC_SITE_URL": h.cfg.SiteURL, "THINKIFIC_API_URL": h.cfg.APIURL,
	}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := config.Load(func(k string) string { return base[k] }, config.NeedAll)
	if err != nil {
		h.t.Fatal(err)
	}
	keys, err := secret.NewKeyring(cfg.SecretKeys()...)
	if err != nil {
		h.t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConnections, Keys: keys, Clock: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	log := slog.New(slog.DiscardHandler)
	receiver := ingest.New(db, ingest.Config{Secrets: cfg.Secrets(), Window: cfg.PairingWindow, Grace: cfg.UninstallGrace}, h.clock, log, nil)
	srv, err := server.New(cfg, server.Deps{DB: db, Install: h.newInstall(db), Receiver: receiver, Clock: h.clock, Log: log})
	if err != nil {
		h.t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	h.t.Cleanup(ts.Close)
	return &process{url: "http://" + ts.Listener.Addr().String(), db: db, worker: progress.New(db, progress.Config{Window: cfg.PairingWindow, Grace: cfg.UninstallGrace, Retention: cfg.Retention, Poll: progress.DefaultPoll}, h.clock, log)}
}

// sessionCookie is the session a launch in c started on h.
func (h *harness) sessionCookie(c *http.Client) *http.Cookie {
	h.t.Helper()
	get(h.t, c, server.LaunchURL(h.url, clientSecret, "acme", h.site.GID(), h.clock.Now()))
	req, _ := http.NewRequest(http.MethodGet, h.url, nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == "stride_session" {
			return ck
		}
	}
	h.t.Fatal("the launch set no session cookie")
	return nil
}

// withCookie GETs url presenting only ck, as a browser would after the server moved.
func withCookie(t *testing.T, url string, ck *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// SECRET_KEY rotates without locking anyone out: with the old key in SECRET_KEY_PREVIOUS,
// sessions and tokens sealed under it still open, and the worker re-seals the tokens so the
// old key can then be dropped.
func TestSecretKeyRotation(t *testing.T) {
	const newKey = "1f2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f"
	ctx := context.Background()
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.installVia(browser(), "acme")
		site, err := h.db.SiteBySubdomain(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		old := h.sessionCookie(browser())

		rotated := h.startProcess(map[string]string{"SECRET_KEY": newKey, "SECRET_KEY_PREVIOUS": secretKey})
		if got := withCookie(t, rotated.url+"/", old); got != http.StatusOK {
			t.Fatalf("a session from before the rotation answered %d", got)
		}
		if _, err := rotated.db.Tokens(ctx, site.ID); err != nil {
			t.Fatalf("tokens sealed under the previous key: %v", err)
		}
		if n := rotated.worker.ResealTokens(ctx); n != 1 {
			t.Fatalf("re-sealed %d sites, want 1", n)
		}
		if n := rotated.worker.ResealTokens(ctx); n != 0 {
			t.Fatalf("a second pass re-sealed %d sites, want 0", n)
		}

		// The old key dropped: tokens open with the new key alone; old sessions end.
		dropped := h.startProcess(map[string]string{"SECRET_KEY": newKey})
		if _, err := dropped.db.Tokens(ctx, site.ID); err != nil {
			t.Fatalf("tokens after the re-seal, old key dropped: %v", err)
		}
		if got := withCookie(t, dropped.url+"/", old); got != http.StatusUnauthorized {
			t.Fatalf("a session under a dropped key answered %d", got)
		}
	})
}
