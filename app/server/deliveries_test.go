package server_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
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

// A delivery Stride takes writes no log line at info (the bulk of all requests, logged by
// Heroku's router and kept in the delivery log); a refused one still does.
func TestTakenDeliveriesAreNotLogged(t *testing.T) {
	h := testkit.New(t, "")
	h.School()
	var logs testkit.Logs
	url := serveReal(h, 0, &logs) + "/webhooks/thinkific"
	post := func(body []byte, signature string) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Thinkific-Subdomain", "school")
		req.Header.Set("X-Thinkific-Hmac-Sha256", signature)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := testkit.LessonEvent("quiet", testkit.PublishedGID, h.Clock.Now())
	for _, sig := range []string{testkit.Sign(testkit.ClientSecret, body), testkit.Sign(testkit.ClientSecret, body)} {
		if code := post(body, sig); code != http.StatusOK {
			t.Fatalf("delivery answered %d", code)
		}
	}
	if strings.Contains(logs.String(), "path=/webhooks/thinkific") {
		t.Fatalf("a taken delivery was logged:\n%s", logs.String())
	}
	if code := post(body, testkit.Sign("not-the-secret", body)); code != http.StatusUnauthorized {
		t.Fatalf("a bad signature answered %d", code)
	}
	if !strings.Contains(logs.String(), "path=/webhooks/thinkific status=401") {
		t.Fatalf("a refused delivery was not logged:\n%s", logs.String())
	}
}
