package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
)

// sessionCookie is the session a launch in c started on h.
func sessionCookie(h *testkit.Harness, c *http.Client) *http.Cookie {
	h.T.Helper()
	testkit.Get(h.T, c, server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now()))
	req, _ := http.NewRequest(http.MethodGet, h.URL, nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == "stride_session" {
			return ck
		}
	}
	h.T.Fatal("the launch set no session cookie")
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
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.InstallVia(testkit.Browser(), "acme")
		site, err := h.DB.SiteBySubdomain(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		old := sessionCookie(h, testkit.Browser())

		rotated := h.StartProcess(map[string]string{"SECRET_KEY": newKey, "SECRET_KEY_PREVIOUS": testkit.SecretKey})
		if got := withCookie(t, rotated.URL+"/", old); got != http.StatusOK {
			t.Fatalf("a session from before the rotation answered %d", got)
		}
		if _, err := rotated.DB.Tokens(ctx, site.ID); err != nil {
			t.Fatalf("tokens sealed under the previous key: %v", err)
		}
		if n := rotated.Worker.ResealTokens(ctx); n != 1 {
			t.Fatalf("re-sealed %d sites, want 1", n)
		}
		if n := rotated.Worker.ResealTokens(ctx); n != 0 {
			t.Fatalf("a second pass re-sealed %d sites, want 0", n)
		}

		// The old key dropped: tokens open with the new key alone; old sessions end.
		dropped := h.StartProcess(map[string]string{"SECRET_KEY": newKey})
		if _, err := dropped.DB.Tokens(ctx, site.ID); err != nil {
			t.Fatalf("tokens after the re-seal, old key dropped: %v", err)
		}
		if got := withCookie(t, dropped.URL+"/", old); got != http.StatusUnauthorized {
			t.Fatalf("a session under a dropped key answered %d", got)
		}
	})
}
