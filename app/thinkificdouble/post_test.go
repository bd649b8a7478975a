package thinkificdouble

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStamp(t *testing.T) {
	at := time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.FixedZone("x", 2*3600))
	if got := Stamp(at); got != "2024-03-05T05:08:09.123Z" {
		t.Fatalf("Stamp = %q", got)
	}
	if got := Stamp(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); got != "2024-01-01T00:00:00.000Z" {
		t.Fatalf("Stamp keeps milliseconds: %q", got)
	}
}

func TestNewEvent(t *testing.T) {
	at := time.Date(2024, 3, 5, 7, 8, 9, 5e6, time.UTC)
	body, err := NewEvent("20240305070809005000000", "enrollment.progress", "1001", "gid-1", at, map[string]int{"id": 7})
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "20240305070809005000000", "resource": "enrollment", "action": "progress",
		"tenant_id": "1001", "tenant_global_id": "gid-1", "created_at": "2024-03-05T07:08:09.005Z"}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	if p, _ := ev["payload"].(map[string]any); p["id"] != 7.0 {
		t.Errorf("payload %v", ev["payload"])
	}

	// Empty tenant fields are left out; an encoded payload goes in as it is.
	body, err = NewEvent("1", "app.uninstalled", "", "", at, json.RawMessage(`{"a":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte("tenant_")) || !bytes.Contains(body, []byte(`"payload":{"a":[1,2]}`)) {
		t.Fatalf("body %s", body)
	}

	if _, err := NewEvent("1", "lesson.completed", "", "", at, make(chan int)); err == nil || !strings.Contains(err.Error(), "lesson.completed") {
		t.Fatalf("unencodable payload: %v", err)
	}
}

func TestNewRequest(t *testing.T) {
	body := []byte(`{"id":"1"}`)
	req, err := NewRequest(context.Background(), "https://stride.example.com/webhooks/thinkific", "lesson.completed", "acme", "sig", body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(req.Body)
	if req.Method != http.MethodPost || req.URL.Host != "stride.example.com" || !bytes.Equal(got, body) {
		t.Fatalf("%s %s %s", req.Method, req.URL, got)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Thinkific-Topic": "lesson.completed",
		"X-Thinkific-Subdomain": "acme", "X-Thinkific-Hmac-Sha256": "sig"} {
		if req.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, req.Header.Get(k), v)
		}
	}
	if !strings.HasPrefix(req.Header.Get("User-Agent"), "Thinkific-Webhooks") {
		t.Errorf("User-Agent %q", req.Header.Get("User-Agent"))
	}
	if _, err := NewRequest(context.Background(), "http://bad host/", "lesson.completed", "acme", "sig", body); err == nil {
		t.Fatal("a bad URL made a request")
	}
}

// Post sends what Thinkific sends, signed over the raw body as Sign signs it, and returns
// any answer whatever its status.
func TestPost(t *testing.T) {
	const key = "client-secret"
	body, err := NewEvent("42", "lesson.completed", "", "gid-9", time.Now(), map[string]any{"lesson": map[string]any{"id": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		method, path, topic, subdomain, sig string
		body                                []byte
	}
	status := http.StatusOK
	answer := `{"status":"accepted"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path = r.Method, r.URL.Path
		got.topic, got.subdomain = r.Header.Get("X-Thinkific-Topic"), r.Header.Get("X-Thinkific-Subdomain")
		got.sig = r.Header.Get("X-Thinkific-Hmac-Sha256")
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	ctx := context.Background()

	code, ans, err := Post(ctx, srv.Client(), srv.URL+"/webhooks/thinkific", "lesson.completed", "acme", Sign(key, body), body)
	if err != nil || code != 200 || string(ans) != answer {
		t.Fatalf("Post: %d %q %v", code, ans, err)
	}
	if got.method != http.MethodPost || got.path != "/webhooks/thinkific" || got.topic != "lesson.completed" || got.subdomain != "acme" {
		t.Fatalf("received %+v", got)
	}
	if !bytes.Equal(got.body, body) || !validMAC(key, got.body, got.sig) {
		t.Fatalf("body or signature differ: %s %s", got.body, got.sig)
	}
	if validMAC("another-secret", got.body, got.sig) || Sign("another-secret", body) == Sign(key, body) {
		t.Fatal("the signature does not depend on the key")
	}
	if Sign(key, append(body, ' ')) == Sign(key, body) {
		t.Fatal("the signature does not cover the whole body")
	}

	// A refusal is an answer: its status and body come back without an error.
	status, answer = http.StatusUnauthorized, `{"error":"Unauthorized"}`
	code, ans, err = Post(ctx, srv.Client(), srv.URL, "lesson.completed", "acme", "bad", body)
	if err != nil || code != 401 || string(ans) != answer {
		t.Fatalf("refused: %d %q %v", code, ans, err)
	}

	// A long answer is cut at 64 KB.
	status, answer = http.StatusOK, strings.Repeat("x", maxAnswer+1000)
	code, ans, err = Post(ctx, srv.Client(), srv.URL, "lesson.completed", "acme", "sig", body)
	if err != nil || code != 200 || len(ans) != maxAnswer {
		t.Fatalf("long answer: %d, %d bytes, %v", code, len(ans), err)
	}

	// No answer is an error with status 0.
	if code, _, err := Post(ctx, srv.Client(), "http://bad host/", "lesson.completed", "acme", "sig", body); err == nil || code != 0 {
		t.Fatalf("bad URL: %d %v", code, err)
	}
	srv.Close()
	if code, _, err := Post(ctx, http.DefaultClient, srv.URL, "lesson.completed", "acme", "sig", body); err == nil || code != 0 {
		t.Fatalf("closed server: %d %v", code, err)
	}
}
