package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
)

func TestWebhookBodyCap(t *testing.T) {
	h := testkit.New(t, "")
	h.School()
	big := bytes.Repeat([]byte("x"), 300<<10)
	if status, _ := h.Deliver("school", big, testkit.ClientSecret); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Content-Length over the cap: %d", status)
	}
	// Chunked: no Content-Length, the cap must still hold.
	pr, pw := io.Pipe()
	go func() { pw.Write(big); pw.Close() }()
	req, _ := http.NewRequest("POST", h.URL+"/webhooks/thinkific", pr)
	req.Header.Set("X-Thinkific-Hmac-Sha256", testkit.Sign(testkit.ClientSecret, big))
	req.Header.Set("X-Thinkific-Subdomain", "school")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked over the cap: %d", resp.StatusCode)
	}
}
