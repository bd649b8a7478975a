package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
)

// stalledUpload starts a webhook delivery that announces size bytes, sends sent of them and
// then stops, holding the connection open until the returned function is called.
func stalledUpload(t *testing.T, addr string, size, sent int, junk []byte) (*net.TCPConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "POST /webhooks/thinkific HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"X-Thinkific-Subdomain: acme\r\nX-Thinkific-Hmac-Sha256: %064x\r\nContent-Length: %d\r\n\r\n", addr, 0, size)
	if _, err := c.Write(junk[:sent]); err != nil {
		c.Close()
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// status reads the status code of the answer on c, or 0.
func status(c net.Conn, within time.Duration) (int, http.Header) {
	c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// stalledBodyTimeout is the server's wait for a body in the stall test: long enough that
// 64 stalled uploads are all open before the first times out, on a busy machine too.
const stalledBodyTimeout = 12 * time.Second

var loggedStatus = regexp.MustCompile(`path=/webhooks/thinkific status=(\d+)`)

func statuses(logs string) map[string]int {
	n := map[string]int{}
	for _, m := range loggedStatus.FindAllStringSubmatch(logs, -1) {
		n[m[1]]++
	}
	return n
}

// A client that stops sending its body is answered 408 and one that hangs up is a 400, both
// logged as the client's fault; when every body slot is taken, the next delivery is told at
// once to come back (503, Retry-After) rather than queued.
func TestStalledWebhookBodies(t *testing.T) {
	h := testkit.New(t, "")
	h.Cfg.DeliveryBodyTimeout = stalledBodyTimeout
	var logs testkit.Logs
	addr := strings.TrimPrefix(serveReal(h, 0, &logs), "http://")
	junk := bytes.Repeat([]byte("x"), 1000)

	hangUp, err := stalledUpload(t, addr, 1000, 10, junk)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	hangUp.Close()

	var stalled []*net.TCPConn
	for range 64 {
		c, err := stalledUpload(t, addr, 1000, 10, junk)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	var code int
	var header http.Header
	for deadline := time.Now().Add(10 * time.Second); code != http.StatusServiceUnavailable && time.Now().Before(deadline); {
		c, err := stalledUpload(t, addr, 1000, 10, junk)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		code, header = status(c, time.Second)
		if code == http.StatusServiceUnavailable && time.Since(start) > stalledBodyTimeout/2 {
			t.Fatalf("the 503 took %v", time.Since(start))
		}
		c.Close()
	}
	if code != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Fatalf("with every slot taken: %d, Retry-After %q", code, header.Get("Retry-After"))
	}
	if code, _ := status(stalled[0], stalledBodyTimeout+5*time.Second); code != http.StatusRequestTimeout {
		t.Fatalf("a stalled body answered %d, want 408", code)
	}
	time.Sleep(200 * time.Millisecond)
	got := statuses(logs.String())
	if got["400"] < 1 || got["408"] < 1 {
		t.Fatalf("logged statuses %v, want a 400 for the hang-up and 408s for the stalls", got)
	}
	for s := range got {
		if s >= "500" && s != "503" {
			t.Fatalf("a client's stall or hang-up was logged as %s: %v", s, got)
		}
	}
}

// Memory stays bounded under 800 stalled uploads of junk: before the bounds, each held up to
// its whole body (256 KiB) and the heap grew by hundreds of MiB. Set STRIDE_MEMORY_REPORT=1 to
// print the figures.
func TestStalledUploadsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 800 connections")
	}
	const uploads, size, sent = 800, 250_000, 240_000
	h := testkit.New(t, "")
	var logs testkit.Logs
	addr := strings.TrimPrefix(serveReal(h, 0, &logs), "http://")
	junk := bytes.Repeat([]byte("x"), size)

	before := heap()
	var mu sync.Mutex
	var conns []*net.TCPConn
	var wg sync.WaitGroup
	for range uploads {
		wg.Go(func() {
			c, err := stalledUpload(t, addr, size, sent, junk)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	// The peak over three seconds, while the server reads what it will of them.
	var during, rssDuring uint64
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		during, rssDuring = max(during, m.HeapInuse), max(rssDuring, rss())
	}
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(time.Second)
	after, rssAfter := heap(), rss()
	if os.Getenv("STRIDE_MEMORY_REPORT") != "" {
		fmt.Printf("%d stalled uploads of %d of %d bytes: heap in use %.1f → peak %.1f MiB while stalled, %.1f MiB after; RSS peak %.1f MiB while stalled, %.1f MiB after; answers %v\n",
			len(conns), sent, size, mib(before), mib(during), mib(after), mib(rssDuring), mib(rssAfter), statuses(logs.String()))
	}
	if grown := during - before; grown > 48<<20 {
		t.Fatalf("heap grew by %.1f MiB under %d stalled uploads", mib(grown), uploads)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// rss is this process's resident set size, from /proc (0 where there is none).
func rss() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		var kb uint64
		if _, err := fmt.Sscanf(l, "VmRSS: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}
