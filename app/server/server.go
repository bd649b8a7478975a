// Package server is Stride's HTTP interface: one Echo instance, one route table
// (routes.go), one error handler (errors.go), one file per route group.
package server

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"golang.org/x/net/netutil"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/ingest"
	"github.com/strideapp/stride/app/install"
	"github.com/strideapp/stride/app/metrics"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/web"
)

// Server serves Stride over HTTP.
type Server struct {
	echo     *echo.Echo
	http     *http.Server
	cfg      *config.Config
	db       *store.DB
	install  *install.Service
	receiver *ingest.Receiver
	metrics  *metrics.Metrics // nil: no /metrics, nothing counted
	// serveMetrics answers /metrics when METRICS_TOKEN is set (see MetricsHandler).
	serveMetrics http.Handler
	// wakeImporter tells the importer a person asked for an import; nil when none runs.
	wakeImporter func()
	clock        stride.Clock
	log          *slog.Logger
	pages        map[string]*template.Template
	cookies      []securecookie.Codec // current SECRET_KEY first, then SECRET_KEY_PREVIOUS
	secure       bool                 // APP_URL is https: cookies are Secure, sessions work inside the admin iframe
}

// Deps are the parts the server drives.
type Deps struct {
	DB       *store.DB
	Install  *install.Service
	Receiver *ingest.Receiver
	// Metrics are the process's series; with METRICS_TOKEN set they are served at /metrics.
	// Nil: nothing is counted or served.
	Metrics *metrics.Metrics
	// WakeImporter tells the importer a person asked for an import (the importer's Wake).
	WakeImporter func()
	Clock        stride.Clock
	Log          *slog.Logger
}

// New builds the server; it fails when a template does not parse.
func New(cfg *config.Config, d Deps) (*Server, error) {
	pages, err := web.Pages()
	if err != nil {
		return nil, err
	}
	var pairs [][]byte
	for _, key := range cfg.SecretKeys() {
		pairs = append(pairs, secret.Derive(key, "cookie-hash/v1", 64), secret.Derive(key, "cookie-block/v1", 32))
	}
	cookies := securecookie.CodecsFromPairs(pairs...)
	for _, c := range cookies {
		c.(*securecookie.SecureCookie).MaxAge(int(sessionTTL / time.Second))
	}
	s := &Server{
		echo: echo.New(), cfg: cfg, db: d.DB, install: d.Install, receiver: d.Receiver, metrics: d.Metrics, wakeImporter: d.WakeImporter, clock: d.Clock, log: d.Log,
		pages: pages, cookies: cookies, secure: cfg.AppURL.Scheme == "https",
	}
	if cfg.MetricsToken != "" && d.Metrics != nil {
		s.serveMetrics = MetricsHandler(cfg.MetricsToken, d.Metrics)
	}
	s.echo.HideBanner, s.echo.HidePort = true, true
	s.echo.HTTPErrorHandler = s.handleError
	// Stride sets no per-IP rules yet; when it does, it must not trust a client's
	// X-Forwarded-For (Heroku's router appends the real address last).
	s.echo.IPExtractor = echo.ExtractIPDirect()
	s.routes()
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler is the whole HTTP interface, for tests.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve answers requests on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(netutil.LimitListener(l, maxConnections)); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops taking requests and waits for those in flight, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }
