package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
)

func TestHealthz(t *testing.T) {
	h := testkit.New(t, "")
	resp, body := testkit.Get(t, testkit.Browser(), h.URL+"/healthz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	h.DB.Close()
	if resp, _ := testkit.Get(t, testkit.Browser(), h.URL+"/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the database closed: %d", resp.StatusCode)
	}
}
