package thinkificdouble

import (
	"net/http"
	"testing"
	"time"
)

// The limit slides over any 60 s and counts both APIs together: a limiter of fixed
// minutes from the first request would start afresh at 60 s and let 120 more through.
func TestSlidingRateLimitAcrossAPIs(t *testing.T) {
	f := newFixture(t, Config{})
	site := f.d.AddSite("acme")
	f.d.AddSite("other")
	access, _ := f.install(t, "acme")
	otherAccess, _ := f.install(t, "other")
	paths := []string{"/api/v2/webhooks", "/api/public/v1/courses"}
	get := func(token string, i int) (int, http.Header) {
		status, header, _ := f.api(t, "GET", paths[i%2], token, nil)
		return status, header
	}

	if status, _ := get(access, 0); status != 200 {
		t.Fatalf("first request: %d", status)
	}
	f.clock.Advance(50 * time.Second)
	for i := range 119 {
		if status, _ := get(access, i); status != 200 {
			t.Fatalf("request %d at 50 s: %d", i+2, status)
		}
	}
	if status, _ := get(otherAccess, 0); status != 200 {
		t.Errorf("another site has its own limit: %d", status)
	}

	// At 61 s the request of 0 s has left the window, the 119 of 50 s have not: one more
	// fits, and the next must wait until those leave at 110 s.
	f.clock.Advance(11 * time.Second)
	if status, _ := get(access, 1); status != 200 {
		t.Fatalf("at 61 s: %d", status)
	}
	status, header := get(access, 0)
	if status != 429 || header.Get("RateLimit-Reset") != "49" {
		t.Fatalf("at 61 s, again: %d reset %q", status, header.Get("RateLimit-Reset"))
	}
	f.clock.Advance(49 * time.Second)
	if status, _ := get(access, 1); status != 200 {
		t.Fatalf("at 110 s: %d", status)
	}

	if got := len(site.APIRequestTimes()); got != 123 {
		t.Errorf("%d requests recorded, want 123", got)
	}
	if got := site.MaxInAnyWindow(time.Minute); got != 121 {
		t.Errorf("MaxInAnyWindow = %d, want 121 (120 answered and 1 refused within 50–61 s)", got)
	}
}

// Refused requests count: a client that keeps knocking stays out longer.
func TestRateLimitCountsRefusals(t *testing.T) {
	f := newFixture(t, Config{RateLimitPerMinute: 3})
	f.d.AddSite("acme")
	access, _ := f.install(t, "acme")
	steps := []struct {
		name    string
		advance time.Duration
		status  int
		reset   string
	}{
		{"1st at 0 s", 0, 200, ""},
		{"2nd at 0 s", 0, 200, ""},
		{"3rd at 30 s", 30 * time.Second, 200, ""},
		{"4th at 30 s", 0, 429, "30"},
		{"at 61 s the two of 0 s have gone", 31 * time.Second, 200, ""},
		{"the refusal of 30 s still counts", 0, 429, "29"},
	}
	for _, s := range steps {
		f.clock.Advance(s.advance)
		status, header, raw := f.api(t, "GET", "/api/public/v1/users", access, nil)
		if status != s.status || header.Get("RateLimit-Reset") != s.reset {
			t.Errorf("%s: %d reset %q %s", s.name, status, header.Get("RateLimit-Reset"), raw)
		}
	}
}

func TestMaxInAnyWindow(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		out := make([]time.Time, len(secs))
		for i, s := range secs {
			out[i] = t0.Add(time.Duration(s * float64(time.Second)))
		}
		return out
	}
	cases := []struct {
		name  string
		times []time.Time
		want  int
	}{
		{"none", nil, 0},
		{"one", at(5), 1},
		{"exactly 60 s apart are in different windows", at(0, 60), 1},
		{"just under 60 s apart share one", at(0, 59.999), 2},
		{"a window across calendar minutes", at(0, 40, 70, 80, 95, 130), 4},
		{"out of order", at(80, 0, 95, 40, 70), 4},
	}
	for _, tc := range cases {
		d := New(Config{})
		s := d.AddSite("acme")
		s.apiTimes = tc.times
		if got := s.MaxInAnyWindow(time.Minute); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
