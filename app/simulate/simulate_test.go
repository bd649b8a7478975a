package simulate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/events"
)

const secret = "client-secret"

// receiver answers as Stride's POST /webhooks/thinkific does: held for a site it does
// not serve, 401 for a bad signature (compared in constant time), then accepted once per
// event id and duplicate after.
type receiver struct {
	dedupe bool
	mu     sync.Mutex
	seen   map[string]bool
	got    []received
}

type received struct {
	Topic, Subdomain, Outcome string
	Code                      int
	Body                      []byte
	Event                     *events.Envelope
}

func newReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{dedupe: true, seen: map[string]bool{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/webhooks/thinkific" {
		http.NotFound(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	rec := received{Topic: req.Header.Get("X-Thinkific-Topic"), Subdomain: req.Header.Get("X-Thinkific-Subdomain"), Body: body}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	sig, _ := hex.DecodeString(req.Header.Get("X-Thinkific-Hmac-Sha256"))
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev, err := events.ParseEnvelope(body); {
	case rec.Subdomain != "acme":
		rec.Code, rec.Outcome = 200, "held"
	case !hmac.Equal(sig, m.Sum(nil)):
		rec.Code = 401
	case err != nil:
		rec.Code, rec.Outcome = 200, "quarantined"
	case r.dedupe && r.seen[ev.ID]:
		rec.Code, rec.Outcome, rec.Event = 200, "duplicate", ev
	default:
		r.seen[ev.ID] = true
		rec.Code, rec.Outcome, rec.Event = 200, "accepted", ev
	}
	r.got = append(r.got, rec)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.Code)
	if rec.Code == 200 {
		json.NewEncoder(w).Encode(map[string]string{"status": rec.Outcome})
	} else {
		w.Write([]byte(`{"error":"Unauthorized"}`))
	}
}

func (r *receiver) outcomes() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[string]int{}
	for _, g := range r.got {
		if g.Outcome == "" {
			n["http-401"]++
		} else {
			n[g.Outcome]++
		}
	}
	return n
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "THINKIFIC_CLIENT_SECRET" {
			return secret
		}
		return ""
	}
	err := Run(context.Background(), args, getenv, &out)
	return out.String(), err
}

func TestModes(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    map[string]int
		summary string
	}{
		{"one", []string{"--mode", "one"}, map[string]int{"accepted": 1}, "summary: 1 deliveries: accepted=1"},
		{"one uninstall", []string{"--mode", "one", "--topic", "app.uninstalled"}, map[string]int{"accepted": 1}, "accepted=1"},
		{"duplicates", []string{"--mode", "duplicates", "--count", "12"}, map[string]int{"accepted": 1, "duplicate": 11},
			"summary: 12 deliveries: accepted=1 duplicate=11"},
		{"bad signature", []string{"--mode", "bad-signature"}, map[string]int{"http-401": 1}, "summary: 1 deliveries: http-401=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, url := newReceiver(t)
			out, err := run(t, append([]string{"--target", url, "--subdomain", "acme", "--gid", "g-1"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Log("\n" + out)
			if got := r.outcomes(); !equal(got, tc.want) {
				t.Fatalf("receiver saw %v, want %v", got, tc.want)
			}
			if !strings.Contains(out, tc.summary) {
				t.Fatalf("no %q in\n%s", tc.summary, out)
			}
			if lines := strings.Count(out, "\n"); lines != sumOf(tc.want)+1 {
				t.Fatalf("%d lines, want one per delivery and a summary:\n%s", lines, out)
			}
		})
	}
}

// The command fails when Stride answers other than it must, and says why.
func TestUnexpectedOutcomes(t *testing.T) {
	cases := []struct {
		name, want string
		args       []string
		noDedupe   bool
	}{
		{"unknown site", "no installed site has subdomain", []string{"--subdomain", "other"}, false},
		{"wrong secret", "signature was refused", []string{"--secret", "nope"}, false},
		{"no dedupe", "5 accepted and 0 duplicate", []string{"--mode", "duplicates"}, true},
		{"signature not checked", "want 401", []string{"--mode", "bad-signature", "--subdomain", "other"}, false},
		{"journey on unknown site", "0 of 12 deliveries accepted", []string{"--mode", "journey", "--subdomain", "other"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, url := newReceiver(t)
			r.dedupe = !tc.noDedupe
			out, err := run(t, append([]string{"--target", url, "--subdomain", "acme"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q\n%s", err, tc.want, out)
			}
		})
	}
}

func TestJourney(t *testing.T) {
	r, url := newReceiver(t)
	out, err := run(t, "--target", url, "--subdomain", "acme", "--mode", "journey", "--lessons", "7", "--seed", "3", "--learner", "42")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := r.got
	if len(got) != 2+2*7 {
		t.Fatalf("%d deliveries", len(got))
	}
	if got[0].Topic != "enrollment.created" || got[len(got)-1].Topic != "enrollment.completed" {
		t.Fatalf("first %s, last %s", got[0].Topic, got[len(got)-1].Topic)
	}
	last, lastAt := 0.0, got[0].Event.CreatedAt
	for i := 1; i < len(got)-1; i += 2 {
		pair := map[string]received{got[i].Topic: got[i], got[i+1].Topic: got[i+1]}
		lesson, progress := pair["lesson.completed"], pair["enrollment.progress"]
		if lesson.Event == nil || progress.Event == nil {
			t.Fatalf("step %d: %s and %s", i/2, got[i].Topic, got[i+1].Topic)
		}
		// Stride orders by created_at: every step after the one before.
		first := lesson.Event.CreatedAt
		if progress.Event.CreatedAt.Before(first) {
			first = progress.Event.CreatedAt
		}
		if !first.After(lastAt) {
			t.Fatalf("step %d at %v, not after %v", i/2, first, lastAt)
		}
		lastAt = later(lesson.Event.CreatedAt, progress.Event.CreatedAt)
		if d := lesson.Event.CreatedAt.Sub(progress.Event.CreatedAt).Abs(); d > 10*time.Millisecond {
			t.Fatalf("step %d: lesson and progress %v apart", i/2, d)
		}
		l, err := events.ParseLessonCompleted(lesson.Event.Payload)
		if err != nil || l.User.ID != 42 || int(l.Lesson.Position) != i/2 {
			t.Fatalf("step %d: lesson %+v %v", i/2, l, err)
		}
		e, err := events.ParseEnrollment(progress.Event.Payload)
		if err != nil || e.User.ID != 42 || e.ID != l.Enrollment.ID || e.Percentage.Value <= last {
			t.Fatalf("step %d: progress %+v %v after %v", i/2, e, err, last)
		}
		last = e.Percentage.Value
	}
	if last != 100 {
		t.Fatalf("progress ends at %v", last)
	}
	if end := got[len(got)-1].Event.CreatedAt; !end.After(lastAt) {
		t.Fatalf("completed at %v, not after %v", end, lastAt)
	}
	for _, g := range got {
		if g.Outcome != "accepted" {
			t.Fatalf("%s %s", g.Topic, g.Outcome)
		}
	}

	// The same seed repeats the ids: a second run is all duplicates, and says so.
	t.Log("\n" + out)
	out, err = run(t, "--target", url, "--subdomain", "acme", "--mode", "journey", "--lessons", "7", "--seed", "3", "--learner", "42")
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "repeated --seed") || !strings.Contains(out, "duplicate=16") {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
}

func TestReplay(t *testing.T) {
	published, err := os.ReadFile("../events/testdata/lesson.completed.json")
	if err != nil {
		t.Fatal(err)
	}
	published = bytes.TrimSpace(published)
	progress, _ := os.ReadFile("../events/testdata/enrollment.progress.json")
	progress = bytes.TrimSpace(progress)
	asString, _ := json.Marshal(string(progress))
	file := filepath.Join(t.TempDir(), "deliveries.jsonl")
	lines := []string{
		string(published),
		"",
		`{"topic":"enrollment.progress","subdomain":"acme","body":` + string(progress) + `}`,
		`{"subdomain":"other","body":` + string(asString) + `}`,
		string(published), // a replayed capture: duplicate
	}
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	r, url := newReceiver(t)
	out, err := run(t, "--target", url, "--subdomain", "acme", "--mode", "replay", "--file", file)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []struct {
		topic, subdomain, outcome string
		body                      []byte
	}{
		{"lesson.completed", "acme", "accepted", published},
		{"enrollment.progress", "acme", "accepted", progress},
		{"enrollment.progress", "other", "held", progress},
		{"lesson.completed", "acme", "duplicate", published},
	}
	if len(r.got) != len(want) {
		t.Fatalf("%d deliveries\n%s", len(r.got), out)
	}
	for i, w := range want {
		g := r.got[i]
		if g.Topic != w.topic || g.Subdomain != w.subdomain || g.Outcome != w.outcome || !bytes.Equal(g.Body, w.body) {
			t.Fatalf("delivery %d: %s %s %s %s", i, g.Topic, g.Subdomain, g.Outcome, g.Body)
		}
	}
	if !strings.Contains(out, "20191029145629636106318") {
		t.Fatalf("event id not printed:\n%s", out)
	}
}

func TestTargets(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // in the error; "" for none
		url  string
	}{
		{"default", nil, "", "http://127.0.0.1:8080/webhooks/thinkific"},
		{"localhost", []string{"--target", "http://localhost:9000/"}, "", "http://localhost:9000/webhooks/thinkific"},
		{"loopback range", []string{"--target", "http://127.8.9.10:80"}, "", "http://127.8.9.10:80/webhooks/thinkific"},
		{"ipv6 loopback", []string{"--target", "http://[::1]:8080/webhooks/thinkific"}, "", "http://[::1]:8080/webhooks/thinkific"},
		{"remote refused", []string{"--target", "https://stride.example.com"}, "real sites' data", ""},
		{"lan refused", []string{"--target", "http://192.168.1.5:8080"}, "--allow-remote", ""},
		{"remote http refused", []string{"--target", "http://stride.example.com", "--allow-remote"}, "use https", ""},
		{"remote https", []string{"--target", "https://stride.example.com/base", "--allow-remote"}, "", "https://stride.example.com/base/webhooks/thinkific"},
		{"remote insecure", []string{"--target", "http://10.0.0.2:8080", "--allow-remote", "--insecure"}, "", "http://10.0.0.2:8080/webhooks/thinkific"},
		{"not a url", []string{"--target", "ftp://x"}, "not an http(s) URL", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(append([]string{"--subdomain", "acme", "--secret", "s"}, tc.args...), func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.endpoint()
			if tc.want == "" && (err != nil || got != tc.url) {
				t.Fatalf("%q %v, want %q", got, err, tc.url)
			}
			if tc.want != "" && (err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want))) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// Through Run too: nothing is sent.
	if _, err := run(t, "--target", "https://stride.example.com", "--subdomain", "acme"); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("remote target: %v", err)
	}
}

func TestFlagProblems(t *testing.T) {
	cases := map[string][]string{
		"no subdomain":  {"--mode", "one"},
		"unknown mode":  {"--subdomain", "acme", "--mode", "storm"},
		"unknown topic": {"--subdomain", "acme", "--topic", "lesson.started"},
		"replay file":   {"--subdomain", "acme", "--mode", "replay"},
		"seed":          {"--subdomain", "acme", "--seed", "x"},
		"count":         {"--subdomain", "acme", "--count", "1"},
		"no secret":     {"--subdomain", "acme", "--secret", ""},
		"no lessons":    {"--subdomain", "acme", "--mode", "journey", "--lessons", "0"},
		"negative id":   {"--subdomain", "acme", "--learner", "-3"},
		"extra args":    {"--subdomain", "acme", "one"},
		"unknown flag":  {"--subdomain", "acme", "--speed", "9"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := run(t, args...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestHelp(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "journey", "duplicates", "bad-signature", "replay", "--mode duplicates", "--mode replay --file",
		"-allow-remote", "-insecure", "-seed", "-gid", "-tenant-id", "-learner", "-course", "-lessons", "-count", "-topic", "-secret", "-target"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in help:\n%s", want, out)
		}
	}
}

// Every event the fixtures build reads as Stride reads it.
func TestFixturesParse(t *testing.T) {
	topics := []string{"enrollment.created", "enrollment.progress", "enrollment.completed", "enrollment.trial",
		"lesson.completed", "quiz.attempted", "course.created", "course.updated", "course.deleted",
		"user.signup", "user.signin", "user.updated", "order.created", "lead.created",
		"product.created", "product.updated", "product.deleted", "plan.updated", "app.uninstalled",
		"order_transaction.succeeded", "subscription.cancelled"}
	for _, gid := range []string{"", "feb8d00d-8040-4382-afee-491a6c8013af"} {
		f := newFixture(1, true, time.Now, "1001", gid, 0, 0)
		ids := map[string]bool{}
		for _, topic := range topics {
			ev, err := f.sample(topic)
			if err != nil {
				t.Fatal(err)
			}
			env, err := events.ParseEnvelope(ev.Body)
			if err != nil || env.Topic() != topic || env.ID != ev.ID || env.TenantGlobalID != gid || env.TenantID != "1001" {
				t.Fatalf("%s: %+v %v", topic, env, err)
			}
			if ids[env.ID] || len(env.ID) != 23 {
				t.Fatalf("%s: id %q", topic, env.ID)
			}
			ids[env.ID] = true
			if gid == "" && bytes.Contains(ev.Body, []byte("tenant_global_id")) {
				t.Fatalf("%s: empty gid sent: %s", topic, ev.Body)
			}
			switch env.Resource {
			case "enrollment":
				e, err := events.ParseEnrollment(env.Payload)
				if err != nil || !e.Percentage.Set {
					t.Fatalf("%s: %+v %v", topic, e, err)
				}
			case "lesson":
				if _, err := events.ParseLessonCompleted(env.Payload); err != nil {
					t.Fatalf("%s: %v", topic, err)
				}
			case "app":
				if string(env.Payload) != "{}" {
					t.Fatalf("%s payload %s", topic, env.Payload)
				}
			}
		}
	}
	// The same seed builds the same ids and names.
	a, _ := newFixture(9, true, time.Now, "", "", 0, 0).sample("lesson.completed")
	b, _ := newFixture(9, true, time.Now, "", "", 0, 0).sample("lesson.completed")
	ea, _ := events.ParseEnvelope(a.Body)
	eb, _ := events.ParseEnvelope(b.Body)
	la, _ := events.ParseLessonCompleted(ea.Payload)
	lb, _ := events.ParseLessonCompleted(eb.Payload)
	if a.ID != b.ID || *la != *lb {
		t.Fatalf("seeded fixtures differ:\n%s\n%s", a.Body, b.Body)
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Answers that are not Stride's own say what is wrong with the setup: no answer at all, or a
// refusal whose text is shown, cut short.
func TestOtherAnswers(t *testing.T) {
	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		out, err := run(t, "--target", url, "--subdomain", "acme")
		if err == nil || !strings.Contains(err.Error(), "is Stride running") || !strings.Contains(out, "summary: 1 deliveries: error=1") {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("other site", func(t *testing.T) {
		long := strings.Repeat("forbidden ", 40)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, long)
		}))
		defer srv.Close()
		out, err := run(t, "--target", srv.URL, "--subdomain", "acme", "--gid", "wrong")
		if err == nil || !strings.Contains(err.Error(), "--gid must be the site's Thinkific global id") {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, " 403 ") || !strings.Contains(out, "forbidden forbidden") || !strings.Contains(out, "…") ||
			strings.Contains(out, strings.TrimSpace(long)) || !strings.Contains(out, "http-403=1") {
			t.Fatalf("the refusal is not shown cut short:\n%s", out)
		}
	})
}

// A replay file that cannot be sent as it is is refused before anything is sent.
func TestReplayFileProblems(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, subdomain, want string
	}{
		{"not json", "{\"topic\":\"lesson.completed\"}\nnot json\n", "acme", "line 2: not a JSON object"},
		{"no topic", `{"subdomain":"acme","body":{"hello":1}}`, "acme", "line 1: no topic"},
		{"no subdomain", `{"topic":"lesson.completed","body":{}}`, "", "line 1: no subdomain"},
		{"empty", "\n\n", "acme", "has no deliveries"},
		{"too long a line", `{"topic":"` + strings.Repeat("x", 5<<20) + `"}`, "acme", "token too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".jsonl")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := readReplay(file, tc.subdomain, secret); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := readReplay(filepath.Join(dir, "missing.jsonl"), "acme", secret); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Fatalf("missing file: %v", err)
	}
	// Through Run: the receiver sees nothing.
	r, url := newReceiver(t)
	if _, err := run(t, "--target", url, "--subdomain", "acme", "--mode", "replay", "--file", filepath.Join(dir, "no-topic.jsonl")); err == nil {
		t.Fatal("a bad replay file ran")
	}
	if len(r.got) != 0 {
		t.Fatalf("%d deliveries sent from a bad file", len(r.got))
	}
}
