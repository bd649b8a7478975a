package server_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// smallBuffers accepts connections whose kernel send buffer is small, so a slow reader is
// felt by the server at once rather than after megabytes of buffering.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

// serveReal serves h's Stride through server.Serve (the server's own timeouts and
// connection limits, not httptest's) and returns its base URL. A writeTimeout of 0 keeps
// the configured one.
func serveReal(h *testkit.Harness, writeTimeout time.Duration, logs io.Writer) string {
	h.T.Helper()
	cfg := *h.Cfg
	if writeTimeout > 0 {
		cfg.WriteTimeout = writeTimeout
	}
	srv, err := server.New(&cfg, server.Deps{DB: h.DB, Install: h.Install, Receiver: h.Receiver, Clock: h.Clock,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		h.T.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.T.Fatal(err)
	}
	go srv.Serve(smallBuffers{l})
	h.T.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + l.Addr().String()
}

// slowClient reads through a small kernel buffer, so the server waits on it.
func slowClient() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(128 << 10)
		}
		return c, err
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true}}
}

// An export that takes longer than the server's write timeout still arrives whole, while a
// client that stops reading ends it within about that timeout.
func TestExportOutlivesWriteTimeout(t *testing.T) {
	const rows, timeout = 40000, 500 * time.Millisecond
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		ck := sessionCookie(h, testkit.Browser())
		site, err := h.DB.SiteBySubdomain(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		err = h.DB.Gorm().Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO enrollments (site_id, id, learner_id, course_id, percent, seen_at) SELECT ?, i, i, 1, 50, ? FROM n`,
			rows, site.ID, h.Clock.Now().UTC()).Error
		if err != nil {
			t.Fatal(err)
		}
		var logs testkit.Logs
		url := serveReal(h, timeout, &logs) + "/export/enrollments.csv"
		export := func() *http.Response {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			resp, err := slowClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("export answered %d", resp.StatusCode)
			}
			return resp
		}

		// About 1.2 MB at about 1 MB/s: more than twice the write timeout.
		resp := export()
		start := time.Now()
		r := csv.NewReader(bufio.NewReaderSize(&paced{r: resp.Body, chunk: 8192, every: 8 * time.Millisecond}, 8192))
		got, err := r.ReadAll()
		resp.Body.Close()
		if err != nil || len(got) != rows+1 {
			t.Fatalf("read %d of %d rows in %v: %v\n%s", len(got)-1, rows, time.Since(start), err, logs.String())
		}
		if took := time.Since(start); took < 2*timeout {
			t.Fatalf("the export took %v: not slow enough to outlive the %v write timeout", took, timeout)
		}

		// A client that stops reading: the export ends, with a line in the log.
		resp = export()
		defer resp.Body.Close()
		resp.Body.Read(make([]byte, 1))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), "export ended early") {
			if time.Now().After(deadline) {
				t.Fatal("an export to a client that stopped reading did not end")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// paced reads at most chunk bytes per call, one call per interval.
type paced struct {
	r     io.Reader
	chunk int
	every time.Duration
}

func (p *paced) Read(b []byte) (int, error) {
	time.Sleep(p.every)
	return p.r.Read(b[:min(len(b), p.chunk)])
}
