package server_test

import (
	"context"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/store"
)

const learnersHeader = "enrollment_id,learner_id,learner_email,learner_name,course_id,course_name,percent_complete,status," +
	"enrolled_at,last_activity_at,days_idle,last_lesson_id,last_lesson_name,next_lesson_id,next_lesson_name"

// history is one generated enrollment as the test sent it, from which it computes every
// figure itself.
type history struct {
	learner, course int64
	name            string // course name
	enrolled        time.Time
	percent         float64
	started         bool        // Thinkific said started_at
	activity        []time.Time // lesson and progress events, and the import's updated_at
	lessons         []int64     // completed, in event order
	imported        bool
}

func (e *history) completed() bool { return e.percent >= 100 }

func (e *history) notStarted() bool { return e.percent == 0 && !e.started && len(e.lessons) == 0 }

func (e *history) lastActivity() *time.Time {
	if len(e.activity) == 0 {
		return nil
	}
	t := slices.MaxFunc(e.activity, time.Time.Compare)
	return &t
}

// idleFrom: the last activity, or enrolling when there was none (never for a not-started one).
func (e *history) idleFrom() time.Time {
	if last := e.lastActivity(); last != nil && !e.notStarted() {
		return *last
	}
	return e.enrolled
}

func (e *history) status(now time.Time, stalledDays int) string {
	switch {
	case e.completed():
		return "completed"
	case e.notStarted():
		return "not started"
	case e.daysIdle(now) >= int64(stalledDays):
		return "stalled"
	}
	return "in progress"
}

func (e *history) daysIdle(now time.Time) int64 {
	return int64(math.Floor(now.Sub(e.idleFrom()).Hours() / 24))
}

// next is the first lesson of the curriculum not completed, 0 when none or completed.
func (e *history) next(curriculum []int64) int64 {
	if e.completed() {
		return 0
	}
	for _, l := range curriculum {
		if !slices.Contains(e.lessons, l) {
			return l
		}
	}
	return 0
}

func (e *history) csvRow(now time.Time, stalledDays int, curriculum []int64) string {
	idle, last, lastName, next, nextName := "", "", "", "", ""
	if !e.completed() {
		idle = strconv.FormatInt(e.daysIdle(now), 10)
	}
	if n := len(e.lessons); n > 0 {
		last, lastName = itoa(e.lessons[n-1]), "Lesson "+itoa(e.lessons[n-1])
	}
	if n := e.next(curriculum); n > 0 {
		next, nextName = itoa(n), "Lesson "+itoa(n)
	}
	activity := ""
	if a := e.lastActivity(); a != nil {
		activity = a.UTC().Format(time.RFC3339)
	}
	return strings.Join([]string{itoa(e.learner*100 + e.course), itoa(e.learner), fmt.Sprintf("learner%d@example.com", e.learner),
		fmt.Sprintf("First%d Last%d", e.learner, e.learner), itoa(e.course), e.name, strconv.FormatFloat(e.percent, 'f', -1, 64),
		e.status(now, stalledDays), e.enrolled.UTC().Format(time.RFC3339), activity, idle, last, lastName, next, nextName}, ",")
}

func named(id, resource, action, gid string, at time.Time, learner int64, payload map[string]any) []byte {
	payload["user"] = map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner),
		"first_name": fmt.Sprintf("First%d", learner), "last_name": fmt.Sprintf("Last%d", learner)}
	return testkit.Event(id, resource, action, gid, at, payload)
}

// generate gives site two courses of six lessons and a random history to each of their
// learners, through webhooks and the import, and returns what it sent.
func generate(t *testing.T, h *testkit.Harness, siteID int64, gid, subdomain string, seed uint64) (map[int64][]int64, []*history) {
	t.Helper()
	now := h.Clock.Now().UTC().Truncate(time.Second)
	r := rand.New(rand.NewPCG(seed, 7))
	curricula := map[store.CatalogCourse][]store.CatalogChapter{}
	lessons := map[int64][]int64{}
	for _, c := range []store.CatalogCourse{{ID: 80, Name: "Alpha"}, {ID: 81, Name: "Beta"}} {
		var contents []store.CatalogContent
		for i := range int64(6) {
			id := c.ID*10 + i + 1
			lessons[c.ID] = append(lessons[c.ID], id)
			contents = append(contents, store.CatalogContent{ID: id, Name: "Lesson " + itoa(id), Position: int(i + 1), Type: "Lesson"})
		}
		curricula[c] = []store.CatalogChapter{{ID: c.ID, Name: "Part", Position: 1, Contents: contents}}
	}
	var all []*history
	var imported []progress.Imported
	var events [][]byte
	n := 0
	event := func(b []byte) { events = append(events, b); n++ }
	for _, course := range []int64{80, 81} {
		name := map[int64]string{80: "Alpha", 81: "Beta"}[course]
		for learner := int64(101); learner <= 124; learner++ { // apart from seedSite's learners
			e := &history{learner: learner, course: course, name: name,
				enrolled: now.Add(-time.Duration(r.IntN(80*24)+2) * time.Hour)}
			all = append(all, e)
			enrollment := learner*100 + course
			kind := r.IntN(10)
			if kind >= 7 { // from the import
				e.imported = true
				asOf := e.enrolled.Add(time.Duration(r.IntN(int(now.Sub(e.enrolled).Hours()))) * time.Hour)
				im := progress.Imported{ID: enrollment, LearnerID: learner, CourseID: course, CourseName: name,
					LearnerEmail: fmt.Sprintf("learner%d@example.com", learner), LearnerName: fmt.Sprintf("First%d Last%d", learner, learner),
					CreatedAt: &e.enrolled, UpdatedAt: asOf}
				switch kind {
				case 7: // at 0 %, stamped with updated_at: not started
				case 8: // part way, no lesson-level history
					e.percent = float64(10 * (1 + r.IntN(9)))
					e.started = true
					im.StartedAt = &e.enrolled
				case 9: // finished
					e.percent = 100
					im.Completed, im.CompletedAt = true, &asOf
				}
				im.Percent = &e.percent
				e.activity = append(e.activity, asOf)
				imported = append(imported, im)
				// Some at 0 % completed a lesson since, without a progress change.
				if kind == 7 && r.IntN(2) == 0 {
					at := asOf.Add(time.Duration(r.IntN(int(now.Sub(asOf).Hours())+1)) * time.Hour)
					l := lessons[course][0]
					event(named(fmt.Sprintf("%s-l%d", subdomain, n), "lesson", "completed", gid, at, learner, map[string]any{
						"chapter": map[string]any{"id": course, "name": "Part"}, "course": map[string]any{"id": course, "name": name},
						"enrollment": map[string]any{"id": enrollment},
						"lesson":     map[string]any{"id": l, "name": "Lesson " + itoa(l), "position": 0, "type": "Lesson"}}))
					e.lessons, e.activity = append(e.lessons, l), append(e.activity, at)
				}
				continue
			}
			event(named(fmt.Sprintf("%s-c%d", subdomain, n), "enrollment", "created", gid, e.enrolled, learner, map[string]any{
				"id": enrollment, "course": map[string]any{"id": course, "name": name}, "course_id": course, "percentage_completed": "0.0"}))
			// Lessons in curriculum order, one sometimes skipped, until the learner stops.
			at, done := e.enrolled, 0
			for _, l := range lessons[course] {
				at = at.Add(time.Duration(r.IntN(10*24)+1) * time.Hour)
				if at.After(now) || r.IntN(8) == 0 {
					break
				}
				if r.IntN(6) == 0 {
					continue
				}
				done++
				percent := math.Round(1000*float64(done)/6) / 10
				if done == 6 {
					percent = 100
				}
				event(named(fmt.Sprintf("%s-l%d", subdomain, n), "lesson", "completed", gid, at, learner, map[string]any{
					"chapter": map[string]any{"id": course, "name": "Part"}, "course": map[string]any{"id": course, "name": name},
					"enrollment": map[string]any{"id": enrollment},
					"lesson":     map[string]any{"id": l, "name": "Lesson " + itoa(l), "position": 0, "type": "Lesson"}}))
				event(named(fmt.Sprintf("%s-p%d", subdomain, n), "enrollment", "progress", gid, at, learner, map[string]any{
					"id": enrollment, "course": map[string]any{"id": course, "name": name}, "course_id": course,
					"percentage_completed": strconv.FormatFloat(percent, 'f', 1, 64)}))
				e.lessons, e.activity, e.percent = append(e.lessons, l), append(e.activity, at), percent
			}
		}
	}
	importCourses(t, h, siteID, curricula, imported)
	for _, b := range events {
		if code, body := h.Deliver(subdomain, b, testkit.ClientSecret); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	h.Drain()
	return lessons, all
}

var funnelLine = regexp.MustCompile(`(?s)<li( class="drop")?>\s*<span class="lesson">(.*?)</span>\s*<progress[^>]*>\s*</progress>\s*<span class="n">(\d+)</span>\s*(?:<a class="stuck"[^>]*>(\d+) stuck here</a>)?`)

func TestNeedsAttention(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		ctx := context.Background()
		admin := seedSite(t, h, "acme")
		acme := h.MustSite()
		lessons, histories := generate(t, h, acme.ID, acme.GID, "acme", 12)
		// beta: the same courses and learner ids, other histories and a 5-day threshold.
		beta := seedSite(t, h, "beta")
		betaSite, err := h.DB.SiteBySubdomain(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		_, betaHistories := generate(t, h, betaSite.ID, betaSite.GID, "beta", 99)
		betaSettings := store.DefaultSettings(betaSite.ID)
		betaSettings.StalledDays = 5
		if err := h.DB.View(betaSite.ID).SaveSettings(ctx, betaSettings); err != nil {
			t.Fatal(err)
		}
		now := h.Clock.Now()
		// seedSite's own learners of course 70 are in every list too: compare only ours.
		ours := func(rows [][]string) []string {
			var out []string
			for _, r := range rows {
				if r[4] == "80" || r[4] == "81" || r[0] == "enrollment_id" {
					out = append(out, strings.Join(r, ","))
				}
			}
			return out
		}
		want := func(hs []*history, stalledDays int, keep func(*history) bool) []string {
			out := []string{learnersHeader}
			slices.SortFunc(hs, func(a, b *history) int { return int(a.course-b.course)*1000 + int(a.learner-b.learner) })
			for _, e := range hs {
				if keep(e) {
					out = append(out, e.csvRow(now, stalledDays, lessons[e.course]))
				}
			}
			return out
		}
		check := func(t *testing.T, c *http.Client, query string, want []string) {
			t.Helper()
			if got := ours(readCSV(t, c, h.URL+"/export/learners.csv"+query)); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("learners.csv%s:\n%s\nwant:\n%s", query, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		statuses := map[string]int{}
		for _, e := range histories {
			statuses[e.status(now, 15)]++
		}
		t.Logf("acme's generated statuses: %v", statuses)
		for _, s := range store.Statuses {
			if statuses[s] == 0 {
				t.Fatalf("the generated histories have no %q enrollment: %v", s, statuses)
			}
		}

		for _, stalledDays := range []int{15, 30} {
			t.Run(fmt.Sprintf("threshold %d days", stalledDays), func(t *testing.T) {
				st := store.DefaultSettings(acme.ID)
				st.StalledDays = stalledDays
				if err := h.DB.View(acme.ID).SaveSettings(ctx, st); err != nil {
					t.Fatal(err)
				}
				cohort := histories[0].enrolled.UTC().Format("2006-01")
				attention := func(e *history) bool { return !e.completed() && e.daysIdle(now) >= int64(stalledDays) }
				cases := []struct {
					name, query string
					keep        func(*history) bool
				}{
					{"everything", "", func(*history) bool { return true }},
					{"one course", "?course_id=81", func(e *history) bool { return e.course == 81 }},
					{"stalled", "?status=stalled", func(e *history) bool { return e.status(now, stalledDays) == "stalled" }},
					{"not started", "?status=not+started", func(e *history) bool { return e.notStarted() }},
					{"in progress", "?status=in+progress", func(e *history) bool { return e.status(now, stalledDays) == "in progress" }},
					{"completed", "?status=completed", func(e *history) bool { return e.completed() }},
					{"idle 0 days: every unfinished", "?idle_days=0", func(e *history) bool { return !e.completed() }},
					{"idle 7 days", "?idle_days=7", func(e *history) bool { return !e.completed() && e.daysIdle(now) >= 7 }},
					{"needs attention", "?idle_days=" + itoa(int64(stalledDays)), attention},
					{"a cohort", "?cohort=" + cohort, func(e *history) bool { return e.enrolled.UTC().Format("2006-01") == cohort }},
					{"combined", "?course_id=80&idle_days=10&cohort=" + cohort + "&status=stalled", func(e *history) bool {
						return e.course == 80 && !e.completed() && e.daysIdle(now) >= 10 && e.enrolled.UTC().Format("2006-01") == cohort &&
							e.status(now, stalledDays) == "stalled"
					}},
				}
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) { check(t, admin, c.query, want(histories, stalledDays, c.keep)) })
				}

				t.Run("needs attention page and figure", func(t *testing.T) {
					var need []*history
					for _, e := range histories {
						if attention(e) {
							need = append(need, e)
						}
					}
					// seedSite's learner 8 (course 70) idle 20 days needs attention at 15.
					total := len(need) + map[bool]int{true: 1, false: 0}[stalledDays <= 20]
					_, page := testkit.Get(t, admin, h.URL+"/")
					testkit.MustContain(t, page, `id="fig-attention" href="/attention">`+strconv.Itoa(total)+`<`)
					for _, sort := range []string{"", "progress"} {
						_, page = testkit.Get(t, admin, h.URL+"/attention?course_id=80&sort="+sort)
						var rows []*history
						for _, e := range need {
							if e.course == 80 {
								rows = append(rows, e)
							}
						}
						slices.SortStableFunc(rows, func(a, b *history) int {
							if sort == "progress" {
								return -cmpFloat(a.percent, b.percent)
							}
							return -a.idleFrom().Compare(b.idleFrom()) // the most recently stalled first
						})
						if len(rows) == 0 {
							t.Fatal("no generated enrollment of course 80 needs attention: the comparison would prove nothing")
						}
						testkit.MustContain(t, page, `Needs attention <span class="muted">(`+strconv.Itoa(len(rows))+`)`,
							`href="/export/learners.csv?course_id=80&amp;idle_days=`+itoa(int64(stalledDays))+`"`)
						var wantRows, gotRows []string
						for _, e := range rows {
							last := "—"
							if len(e.lessons) > 0 {
								last = "Lesson " + itoa(e.lessons[len(e.lessons)-1])
							}
							wantRows = append(wantRows, fmt.Sprintf("learner%d@example.com %s %s %d", e.learner, last,
								"Lesson "+itoa(e.next(lessons[80])), e.daysIdle(now)))
						}
						for _, m := range attentionRow.FindAllStringSubmatch(page, -1) {
							gotRows = append(gotRows, strings.Join([]string{m[1], m[2], m[3], m[4]}, " "))
						}
						if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
							t.Fatalf("needs attention, sort %q:\n%s\nwant:\n%s", sort, strings.Join(gotRows, "\n"), strings.Join(wantRows, "\n"))
						}
					}
				})

				t.Run("stuck here and the biggest drop", func(t *testing.T) {
					for _, course := range []int64{80, 81} {
						stuck := map[int64]int{}
						count := map[int64]int{}
						for _, e := range histories {
							if e.course != course {
								continue
							}
							if e.status(now, stalledDays) == "stalled" {
								stuck[e.next(lessons[course])]++
							}
							for _, l := range lessons[course] {
								if slices.Contains(e.lessons, l) || e.imported && e.completed() {
									count[l]++
								}
							}
						}
						var wantLines []string
						// The largest share lost; on a tie, the most learners lost.
						biggest, share, lost := -1, 0.0, 0
						for i, l := range lessons[course] {
							if i == 0 {
								continue
							}
							before := count[lessons[course][i-1]]
							if d := before - count[l]; d > 0 {
								if s := float64(d) / float64(before); s > share || s == share && d > lost {
									biggest, share, lost = i, s, d
								}
							}
						}
						for i, l := range lessons[course] {
							wantLines = append(wantLines, fmt.Sprintf("Lesson %d = %d, stuck %d, biggest %v", l, count[l], stuck[l], i == biggest))
						}
						_, page := testkit.Get(t, admin, h.URL+"/courses/"+itoa(course))
						var gotLines []string
						for _, m := range funnelLine.FindAllStringSubmatch(page, -1) {
							text := strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(m[2], ""))), " ")
							text, _, _ = strings.Cut(strings.TrimPrefix(text, "Part · "), " biggest drop")
							n := m[4]
							if n == "" {
								n = "0"
							}
							gotLines = append(gotLines, fmt.Sprintf("%s = %s, stuck %s, biggest %v", text, m[3], n, m[1] != ""))
						}
						if strings.Join(gotLines, "\n") != strings.Join(wantLines, "\n") {
							t.Fatalf("course %d's funnel:\n%s\nwant:\n%s", course, strings.Join(gotLines, "\n"), strings.Join(wantLines, "\n"))
						}
					}
				})

				t.Run("course learners list", func(t *testing.T) {
					_, page := testkit.Get(t, admin, h.URL+"/courses/81?status=stalled&idle_days=20")
					n := 0
					for _, e := range histories {
						if e.course == 81 && e.status(now, stalledDays) == "stalled" && e.daysIdle(now) >= 20 {
							n++
						}
					}
					testkit.MustContain(t, page, `Learners <span class="muted">(`+strconv.Itoa(n)+`)`,
						`href="/export/learners.csv?course_id=81&amp;idle_days=20&amp;status=stalled"`, `data-copy-emails="learners-table"`,
						`<script src="/static/copy-emails.js"></script>`)
				})
			})
		}

		t.Run("two sites never mix", func(t *testing.T) {
			check(t, beta, "", want(betaHistories, 5, func(*history) bool { return true }))
			check(t, beta, "?idle_days=5", want(betaHistories, 5, func(e *history) bool { return !e.completed() && e.daysIdle(now) >= 5 }))
			rows := readCSV(t, admin, h.URL+"/export/learners.csv")
			if len(ours(rows)) != 1+len(histories) {
				t.Fatalf("acme's learners.csv has %d rows of courses 80 and 81, want %d", len(ours(rows))-1, len(histories))
			}
		})

		t.Run("bad filters", func(t *testing.T) {
			for _, q := range []string{"course_id=x", "course_id=0", "status=asleep", "idle_days=-1", "idle_days=1.5", "idle_days=x",
				"idle_days=99999999999", "cohort=2026-13", "cohort=2026-1", "cohort=nov"} {
				for _, path := range []string{"/export/learners.csv", "/attention", "/courses/80"} {
					if path == "/courses/80" && strings.HasPrefix(q, "course_id") {
						continue
					}
					resp, body := testkit.Get(t, admin, h.URL+path+"?"+q)
					if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, strings.SplitN(q, "=", 2)[0]+" must be") {
						t.Errorf("%s?%s: %d %.300s", path, q, resp.StatusCode, body)
					}
				}
			}
			if resp, _ := testkit.Get(t, testkit.Browser(), h.URL+"/export/learners.csv"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("learners.csv without a session: %d", resp.StatusCode)
			}
		})
	})
}

var attentionRow = regexp.MustCompile(`(?s)<tr>\s*<td data-email="([^"]*)">.*?</td>\s*<td[^>]*>.*?</td>\s*<td[^>]*>.*?</td>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>\s*<td class="num"[^>]*>(\d*)</td></tr>`)

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
