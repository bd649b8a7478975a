package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
)

// seedSite installs subdomain through the real flow and delivers a small known history.
// Learner 7 completes lessons 700 and 701 of course 70 (10 → 20 → 100 %); learner 8
// enrolls and completes lesson 700 only, 20 days ago; learner 9's email starts with '='.
func seedSite(t *testing.T, h *testkit.Harness, subdomain string) (admin *http.Client) {
	admin = testkit.Browser()
	if subdomain != "acme" {
		h.Double.AddSite(subdomain)
	}
	if resp, _ := h.InstallVia(admin, subdomain); resp.StatusCode != 200 {
		t.Fatalf("install %s: %d", subdomain, resp.StatusCode)
	}
	gid := h.Double.Site(subdomain).GID()
	now := h.Clock.Now().UTC().Truncate(time.Second)
	t0 := now.Add(-2 * time.Hour)
	old := now.Add(-20 * 24 * time.Hour)
	events := [][]byte{
		testkit.EnrollEvent("c7", gid, t0.Add(-time.Hour), 7, 70, "learner7@example.com"),
		testkit.LessonEventFor("l7a", gid, t0, 7, 70, 700),
		testkit.ProgressEvent("p7a", gid, t0.Add(5*time.Millisecond), 7, 70, "50.0"),
		testkit.LessonEventFor("l7b", gid, t0.Add(time.Minute), 7, 70, 701),
		testkit.ProgressEvent("p7b", gid, t0.Add(time.Minute), 7, 70, "100.0"),
		testkit.CompletedEvent("d7", gid, t0.Add(time.Minute+time.Second), 7, 70),
		testkit.EnrollEvent("c8", gid, old.Add(-time.Hour), 8, 70, "learner8@example.com"),
		testkit.LessonEventFor("l8a", gid, old, 8, 70, 700),
		testkit.ProgressEvent("p8a", gid, old, 8, 70, "50.0"),
		testkit.EnrollEvent("c9", gid, t0, 9, 70, "=cmd|' /C calc'!A0"),
	}
	for _, e := range events {
		if code, body := h.Deliver(subdomain, e, testkit.ClientSecret); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	h.Drain()
	return admin
}

func TestPages(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")

		_, page := testkit.Get(t, admin, h.URL+"/")
		testkit.MustContain(t, page, `id="fig-learners">3<`, `id="fig-active">1<`, `id="fig-completions">1<`,
			`id="fig-rate">33.3%<`, `id="fig-median">50%<`, `href="/courses/70"`)

		_, page = testkit.Get(t, admin, h.URL+"/courses/70")
		testkit.MustContain(t, page, "Lesson 700", "Lesson 701", "biggest drop: −1", "learner7@example.com", "stalled", "completed", "not started")
		_, page = testkit.Get(t, admin, h.URL+"/courses/70?status=stalled")
		testkit.MustContain(t, page, "learner8@example.com")
		if strings.Contains(page, "learner7@example.com") {
			t.Fatal("the stalled filter shows a completed learner")
		}
		if resp, _ := testkit.Get(t, admin, h.URL+"/courses/70?status=bogus"); resp.StatusCode != 400 {
			t.Fatalf("bad status filter: %d", resp.StatusCode)
		}

		_, page = testkit.Get(t, admin, h.URL+"/learners/7")
		testkit.MustContain(t, page, "completed <strong>Lesson 701</strong> in One", "50% → 100%", "completed <strong>Lesson 700</strong> in One", "0% → 50%")
		if strings.Index(page, "Lesson 701") > strings.Index(page, "Lesson 700</strong>") {
			t.Fatal("timeline is not newest first")
		}
	})
}

func readCSV(t *testing.T, c *http.Client, url string) [][]string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExports(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")
		steps := readCSV(t, admin, h.URL+"/export/steps.csv")
		if got := strings.Join(steps[0], ","); got != "occurred_at,learner_id,learner_email,course_id,course_name,chapter_id,chapter_name,lesson_id,lesson_name,percent_before,percent_after" {
			t.Fatalf("steps header %s", got)
		}
		var lines []string
		for _, r := range steps[1:] {
			if _, err := time.Parse(time.RFC3339, r[0]); err != nil || !strings.HasSuffix(r[0], "Z") {
				t.Fatalf("occurred_at %q", r[0])
			}
			lines = append(lines, strings.Join(r[1:], ","))
		}
		want := []string{
			"8,learner8@example.com,70,Course,1,One,700,Lesson 700,0,50",
			"7,learner7@example.com,70,Course,1,One,700,Lesson 700,0,50",
			"7,learner7@example.com,70,Course,1,One,701,Lesson 701,50,100",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}

		enr := readCSV(t, admin, h.URL+"/export/enrollments.csv?course_id=70")
		if got := strings.Join(enr[0], ","); got != "enrollment_id,learner_id,learner_email,course_id,course_name,percent_complete,status,started_at,completed_at,last_activity_at" {
			t.Fatalf("enrollments header %s", got)
		}
		byID := map[string][]string{}
		for _, r := range enr[1:] {
			byID[r[0]] = r
		}
		if len(byID) != 3 || byID["770"][6] != "completed" || byID["870"][6] != "stalled" || byID["970"][6] != "not started" ||
			byID["770"][5] != "100" || byID["770"][8] == "" {
			t.Fatalf("enrollments %v", enr)
		}
		if email := byID["970"][2]; !strings.HasPrefix(email, "'=") {
			t.Fatalf("a formula went out unescaped: %q", email)
		}
		if rows := readCSV(t, admin, h.URL+"/export/steps.csv?course_id=999"); len(rows) != 1 {
			t.Fatalf("another course's filter: %d rows", len(rows))
		}
		if resp, _ := testkit.Get(t, admin, h.URL+"/export/steps.csv?course_id=x"); resp.StatusCode != 400 {
			t.Fatalf("bad course_id: %d", resp.StatusCode)
		}
	})
}

// Site B's session reaches nothing of site A: pages 404, exports empty, no session 401.
func TestSitesAreIsolated(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		seedSite(t, h, "acme")
		beta := testkit.Browser()
		h.Double.AddSite("beta")
		h.InstallVia(beta, "beta")
		for _, path := range []string{"/courses/70", "/learners/7", "/learners/8"} {
			resp, page := testkit.Get(t, beta, h.URL+path)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(page, "example.com") {
				t.Errorf("%s with beta's session: %d", path, resp.StatusCode)
			}
		}
		for _, path := range []string{"/export/steps.csv", "/export/enrollments.csv", "/export/steps.csv?course_id=70", "/export/enrollments.csv?course_id=70"} {
			if rows := readCSV(t, beta, h.URL+path); len(rows) != 1 {
				t.Errorf("%s with beta's session: %d rows", path, len(rows))
			}
		}
		_, page := testkit.Get(t, beta, h.URL+"/")
		testkit.MustContain(t, page, `id="fig-learners">0<`)
		for _, path := range []string{"/", "/courses/70", "/learners/7", "/connection", "/export/steps.csv", "/export/enrollments.csv"} {
			resp, page := testkit.Get(t, testkit.Browser(), h.URL+path)
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(page, "example.com") {
				t.Errorf("%s without a session: %d", path, resp.StatusCode)
			}
		}
		if _, err := h.DB.View(1).Learner(context.Background(), 7); err != nil {
			t.Fatalf("acme's learner is not there at all: %v", err)
		}
		_ = fmt.Sprint
	})
}
