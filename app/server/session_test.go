package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
)

func TestDashboardNeedsSession(t *testing.T) {
	h := testkit.New(t, "")
	resp, page := testkit.Get(t, testkit.Browser(), h.URL+"/")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("answered %d", resp.StatusCode)
	}
	testkit.MustContain(t, page, "Open Stride from the Apps page of your Thinkific admin")
	if strings.Contains(page, "acme") {
		t.Fatal("page names a site")
	}
}
