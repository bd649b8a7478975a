package digest_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/thinkificdouble"
)

const (
	course    = 90
	lessons   = 5 // 901..905, in curriculum order
	learnersN = 48
	slug      = "stride-progress"
)

// withMail points Stride at the test's SMTP server.
func withMail(smtpURL string) testkit.Option {
	return func(_ *thinkificdouble.Config, env map[string]string) {
		env["SMTP_URL"] = smtpURL
		env["MAIL_FROM"] = "Stride <digest@stride.test>"
		env["THINKIFIC_APP_SLUG"] = slug
	}
}

// history is a generated course history, kept to compute the digest's figures apart from
// Stride.
type history struct {
	learners []learnerHistory
}

type learnerHistory struct {
	id         int64
	first      string
	last       string
	enrolled   time.Time
	done       []int // lesson positions completed, 1-based, in the order completed
	times      []time.Time
	completed  *time.Time
	lastActive *time.Time
}

func lessonName(pos int) string { return fmt.Sprintf("Lesson %d <%c>", pos, 'a'+pos-1) }

// generate makes learnersN enrollments over the last 40 days: each completes a first run of
// lessons, sometimes one more beyond a gap, the whole course sometimes.
func generate(seed uint64, now time.Time) *history {
	r := rand.New(rand.NewPCG(seed, 12))
	h := &history{}
	for i := range learnersN {
		l := learnerHistory{id: int64(100 + i), first: fmt.Sprintf("Ada%d", i), last: fmt.Sprintf("O'Learner & %d", i)}
		l.enrolled = now.Add(-time.Duration(r.Int64N(int64(40 * 24 * time.Hour)))).Truncate(time.Second)
		k := r.IntN(lessons + 1)
		for p := 1; p <= k; p++ {
			l.done = append(l.done, p)
		}
		if k > 0 && k+2 <= lessons && r.IntN(3) == 0 {
			l.done = append(l.done, k+2) // skipped lesson k+1: still the next one
		}
		at := l.enrolled
		for range l.done {
			at = at.Add(time.Duration(r.Int64N(int64(now.Sub(at)/2) + 1))).Truncate(time.Millisecond)
			l.times = append(l.times, at)
		}
		if len(l.done) > 0 {
			last := l.times[len(l.times)-1]
			l.lastActive = &last
		}
		if len(l.done) == lessons {
			c := l.lastActive.Add(time.Second)
			l.completed, l.lastActive = &c, &c
		}
		h.learners = append(h.learners, l)
	}
	return h
}

func (l learnerHistory) user() map[string]any {
	return map[string]any{"id": l.id, "email": fmt.Sprintf("learner%d@example.com", l.id), "first_name": l.first, "last_name": l.last}
}

// events are the deliveries Thinkific would send for the history.
func (h *history) events(gid string) [][]byte {
	var out [][]byte
	for _, l := range h.learners {
		enrollment := l.id*100 + course
		c := map[string]any{"id": course, "name": "Course & <Co>"}
		out = append(out, testkit.Event(fmt.Sprint("c", l.id), "enrollment", "created", gid, l.enrolled, map[string]any{
			"id": enrollment, "course": c, "course_id": course, "user": l.user(), "percentage_completed": "0.0"}))
		for i, pos := range l.done {
			at := l.times[i]
			out = append(out, testkit.Event(fmt.Sprint("l", l.id, "-", pos), "lesson", "completed", gid, at, map[string]any{
				"chapter": map[string]any{"id": 9, "name": "Part"}, "course": c, "enrollment": map[string]any{"id": enrollment},
				"lesson": map[string]any{"id": 900 + pos, "name": lessonName(pos), "position": pos, "type": "Lesson"}, "user": l.user()}))
			out = append(out, testkit.Event(fmt.Sprint("p", l.id, "-", pos), "enrollment", "progress", gid, at, map[string]any{
				"id": enrollment, "course": c, "course_id": course, "user": l.user(),
				"percentage_completed": fmt.Sprintf("%.1f", float64(100*(i+1))/lessons)}))
		}
		if l.completed != nil {
			out = append(out, testkit.Event(fmt.Sprint("d", l.id), "enrollment", "completed", gid, *l.completed, map[string]any{
				"id": enrollment, "course": c, "course_id": course, "user": l.user(), "percentage_completed": "100.0",
				"completed_at": l.completed.UTC().Format(time.RFC3339)}))
		}
	}
	return out
}

// expected is what the digest must say, computed from the history alone.
type expected struct {
	enrollments, completions int
	stalled                  map[string]string // learner name → next lesson
	drop                     string            // "lesson: to of from"
}

func (h *history) expect(from, to time.Time, stalledAfter time.Duration) expected {
	e := expected{stalled: map[string]string{}}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	per := make([]int, lessons+1)
	for _, l := range h.learners {
		if in(l.enrolled) {
			e.enrollments++
		}
		if l.completed != nil && in(*l.completed) {
			e.completions++
		}
		for _, p := range l.done {
			per[p]++
		}
		if l.completed == nil && l.lastActive != nil && in(l.lastActive.Add(stalledAfter)) {
			next := 1
			for slices.Contains(l.done, next) {
				next++
			}
			e.stalled[l.first+" "+l.last] = lessonName(next)
		}
	}
	var bestLost, bestFrom int
	for p := 2; p <= lessons; p++ {
		from, cur := per[p-1], per[p]
		if from == 0 || cur >= from {
			continue
		}
		lost := from - cur
		if bestFrom == 0 || lost*bestFrom > bestLost*from || (lost*bestFrom == bestLost*from && lost > bestLost) {
			bestLost, bestFrom = lost, from
			e.drop = fmt.Sprintf("%s: %d of %d", lessonName(p), cur, from)
		}
	}
	return e
}

type site struct {
	h       *testkit.Harness
	id      int64
	history *history
}

// seed installs acme, gives it the course's curriculum and delivers the history.
func seed(t *testing.T, h *testkit.Harness, settings func(*store.Settings)) *site {
	t.Helper()
	ctx := context.Background()
	h.InstallVia(testkit.Browser(), "acme") // ends in the Thinkific admin (THINKIFIC_APP_SLUG), which the double lacks
	s := h.MustSite()
	var contents []store.CatalogContent
	for p := 1; p <= lessons; p++ {
		contents = append(contents, store.CatalogContent{ID: int64(900 + p), Name: lessonName(p), Position: p, Type: "Lesson"})
	}
	c := store.CatalogCourse{ID: course, Name: "Course & <Co>"}
	if err := h.DB.SaveCourses(ctx, s.ID, []store.CatalogCourse{c}, h.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.SaveCurriculum(ctx, s.ID, c, []store.CatalogChapter{{ID: 9, Name: "Part", Position: 1, Contents: contents}}, h.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	hist := generate(7, h.Clock.Now())
	for _, e := range hist.events(s.GID) {
		if code, body := h.Deliver("acme", e, testkit.ClientSecret); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	h.Drain()
	st := store.DefaultSettings(s.ID)
	settings(&st)
	if err := h.DB.View(s.ID).SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	return &site{h: h, id: s.ID, history: hist}
}

// dueNow is settings whose digest slot is this hour of this day in zone.
func dueNow(now time.Time, zone string, recipients ...string) func(*store.Settings) {
	return func(s *store.Settings) {
		loc, _ := time.LoadLocation(zone)
		local := now.In(loc)
		s.StalledDays, s.TimeZone, s.DigestEnabled = 10, zone, true
		s.DigestRecipients = strings.Join(recipients, "\n")
		s.DigestWeekday, s.DigestHour = int(local.Weekday()), local.Hour()
	}
}

func TestDigest(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		mb := newMailbox(t)
		h := testkit.New(t, dbURL, withMail("smtp://"+mb.addr))
		now := h.Clock.Now()
		s := seed(t, h, dueNow(now, "America/New_York", "owner@school.test", "Team Lead <lead@school.test>"))
		// A second Stride process on the same database, with its own connection pool.
		p := h.StartProcess(map[string]string{"SMTP_URL": "smtp://" + mb.addr, "MAIL_FROM": "Stride <digest@stride.test>", "THINKIFIC_APP_SLUG": slug})
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		runners := []*digest.Runner{digest.New(h.DB, h.Cfg, h.Clock, log), digest.New(p.DB, h.Cfg, h.Clock, log)}

		// Both processes look for due digests at once, several times: one sends.
		var wg sync.WaitGroup
		sent := make([]int, 2*len(runners))
		for i := range sent {
			wg.Go(func() {
				n, err := runners[i%2].Due(ctx)
				if err != nil {
					t.Error(err)
				}
				sent[i] = n
			})
		}
		wg.Wait()
		if total := sent[0] + sent[1] + sent[2] + sent[3]; total != 1 {
			t.Fatalf("digests sent %v, want exactly one in all", sent)
		}
		msgs := mb.messages()
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want one per recipient (2)", len(msgs))
		}
		sendAt := h.Clock.Now() // the figures are of the 7 days before sending; the clock stood still
		want := s.history.expect(sendAt.Add(-digest.Period), sendAt, 10*24*time.Hour)
		if want.enrollments == 0 || want.completions == 0 || len(want.stalled) == 0 || want.drop == "" {
			t.Fatalf("the generated history does not exercise every figure: %+v", want)
		}
		var unsubscribe string
		for _, m := range msgs {
			if m.From != "digest@stride.test" || len(m.To) != 1 {
				t.Fatalf("envelope from %q to %v", m.From, m.To)
			}
			msg := parse(t, m.Raw)
			to := m.To[0]
			if got := msg.Header.Get("To"); !strings.Contains(got, to) {
				t.Errorf("To %q, envelope %q", got, to)
			}
			if got := msg.Header.Get("From"); !strings.Contains(got, "digest@stride.test") {
				t.Errorf("From %q", got)
			}
			subject := fmt.Sprintf("Stride weekly digest for acme: %d new enrollments, %d completions, %d stalled",
				want.enrollments, want.completions, len(want.stalled))
			if got, _ := new(mimeDecoder).DecodeHeader(msg.Header.Get("Subject")); got != subject {
				t.Errorf("Subject %q, want %q", got, subject)
			}
			checkContent(t, msg, want, h.Cfg.SiteBaseURL("acme")+"/manage/apps/"+slug)
			lu := msg.Header.Get("List-Unsubscribe")
			if !strings.HasPrefix(lu, "<"+h.URL+"/digest/unsubscribe?token=") || !strings.HasSuffix(lu, ">") {
				t.Fatalf("List-Unsubscribe %q", lu)
			}
			if got := msg.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
				t.Errorf("List-Unsubscribe-Post %q", got)
			}
			if !strings.Contains(msg.Text, strings.Trim(lu, "<>")) || !strings.Contains(msg.HTML, html.EscapeString(strings.Trim(lu, "<>"))) {
				t.Errorf("the unsubscribe link is not in both parts")
			}
			if to == "lead@school.test" {
				unsubscribe = strings.Trim(lu, "<>")
			}
		}

		// No process sends the week's digest again.
		for _, r := range runners {
			if n, err := r.Due(ctx); err != nil || n != 0 {
				t.Fatalf("again in the same week: %d %v", n, err)
			}
		}

		// A tampered token is refused; the real one unsubscribes in one click, without a
		// session or a form token, as a mail provider does it (RFC 8058).
		u, _ := url.Parse(unsubscribe)
		token := u.Query().Get("token")
		tampered := token[:len(token)-2] + map[bool]string{true: "AA", false: "AB"}[!strings.HasSuffix(token, "AA")]
		if code := oneClick(t, h.URL+"/digest/unsubscribe?token="+url.QueryEscape(tampered)); code != http.StatusBadRequest {
			t.Fatalf("tampered token: %d, want 400", code)
		}
		other := digest.Token(h.Cfg.SecretKey, s.id, "owner@school.test")
		if _, addr, err := digest.ParseToken(h.Cfg.SecretKeys(), other); err != nil || addr != "owner@school.test" {
			t.Fatalf("a token names its address: %q %v", addr, err)
		}
		// Opening the link (as a mail scanner does) asks first and changes nothing.
		resp, page := testkit.Get(t, testkit.Browser(), unsubscribe)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Unsubscribe lead@school.test</button>") {
			t.Fatalf("GET unsubscribe: %d\n%s", resp.StatusCode, page)
		}
		if st, _ := h.DB.View(s.id).Settings(ctx); len(st.Recipients()) != 2 {
			t.Fatalf("GET changed the recipients: %v", st.Recipients())
		}
		if code := oneClick(t, unsubscribe); code < 200 || code > 299 {
			t.Fatalf("one-click unsubscribe: %d", code)
		}
		st, err := h.DB.View(s.id).Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Recipients(); !slices.Equal(got, []string{"owner@school.test"}) {
			t.Fatalf("recipients after unsubscribing %v", got)
		}

		// Next week's digest goes to the address left only.
		h.Clock.Advance(7 * 24 * time.Hour)
		if n, err := runners[1].Due(ctx); err != nil || n != 1 {
			t.Fatalf("next week: %d %v", n, err)
		}
		msgs = mb.messages()[2:]
		if len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"owner@school.test"}) {
			t.Fatalf("next week's mail went to %v", msgs)
		}
	})
}

// checkContent compares both parts of a digest with the figures computed from the history.
func checkContent(t *testing.T, msg parsed, want expected, adminURL string) {
	t.Helper()
	text, page := msg.Text, html.UnescapeString(msg.HTML)
	for _, part := range []struct{ name, body string }{{"text", text}, {"html", page}} {
		for _, s := range []string{
			fmt.Sprintf("New enrollments: %d", want.enrollments), fmt.Sprintf("Courses completed: %d", want.completions),
			fmt.Sprintf("Learners who stalled: %d", len(want.stalled)),
		} {
			got := s
			if part.name == "html" {
				name, n, _ := strings.Cut(s, ": ")
				got = name + `</td><td style="font-weight: bold;" id="` + map[string]string{"New enrollments": "enrollments",
					"Courses completed": "completions", "Learners who stalled": "stalled"}[name] + `">` + n
			}
			if !strings.Contains(part.body, got) {
				t.Errorf("%s part lacks %q:\n%s", part.name, got, part.body)
			}
		}
		for name, next := range want.stalled {
			if !strings.Contains(part.body, name) || !strings.Contains(part.body, next) {
				t.Errorf("%s part lacks stalled %s before %s", part.name, name, next)
			}
		}
		lesson, counts, _ := strings.Cut(want.drop, ": ")
		to, from, _ := strings.Cut(counts, " of ")
		if !strings.Contains(part.body, lesson) || !strings.Contains(part.body, to+" of the "+from+" learners") {
			t.Errorf("%s part lacks the biggest drop %s", part.name, want.drop)
		}
		if !strings.Contains(part.body, adminURL) {
			t.Errorf("%s part lacks the admin link %s", part.name, adminURL)
		}
		for _, bad := range []string{"hmac=", "Bearer", "access_token", "/?subdomain", "timestamp="} {
			if strings.Contains(part.body, bad) {
				t.Errorf("%s part has a launch or bearer link (%s)", part.name, bad)
			}
		}
	}
	// Names are escaped in HTML.
	if strings.Contains(msg.HTML, "O'Learner & ") || strings.Contains(msg.HTML, "<Co>") {
		t.Errorf("HTML part does not escape names")
	}
}

// oneClick is a mail provider's RFC 8058 POST: no cookies, no Origin.
func oneClick(t *testing.T, target string) int {
	t.Helper()
	resp, err := http.Post(target, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
