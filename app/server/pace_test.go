package server_test

import (
	"context"
	"fmt"
	"html"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
)

// paceHistory is what TestPaceAndCohorts delivered to course 80, and what each figure
// should be, computed here from it without Stride's code.
type paceHistory struct {
	now      time.Time
	enrolled map[int64]time.Time     // learner → enrolled_at
	started  map[int64]time.Time     // learner → started_at, imported ones only
	done     map[int64]time.Time     // learner → completed_at
	percent  map[int64]float64       // learner → percentage now
	steps    map[int64][]paceStep    // learner → lesson completions and progress, in time order
	imported map[int64]importedState // learner → what the import said, no steps
}

type paceStep struct {
	at      time.Time
	lesson  int64 // 0: progress only
	percent float64
}

type importedState struct {
	percent float64
	asOf    time.Time
}

const paceCourse = 80

// deliverPaceHistory gives course 80 of acme 40 learners who enrolled over the last 200
// days and complete lessons 801–806 in order, some all of them, at random gaps, each lesson
// with its progress change, and 6 enrollments read by an import, without steps.
func deliverPaceHistory(t *testing.T, h *testkit.Harness, seed uint64) *paceHistory {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 12))
	now := h.Clock.Now().UTC().Truncate(time.Second)
	ph := &paceHistory{now: now, enrolled: map[int64]time.Time{}, started: map[int64]time.Time{}, done: map[int64]time.Time{},
		percent: map[int64]float64{}, steps: map[int64][]paceStep{}, imported: map[int64]importedState{}}
	gid := h.Double.Site("acme").GID()
	var events [][]byte
	for learner := int64(200); learner < 240; learner++ {
		enrolled := now.Add(-time.Duration(rng.IntN(200*24*60)+60) * time.Minute)
		ph.enrolled[learner] = enrolled
		events = append(events, testkit.EnrollEvent(fmt.Sprint("pe", learner), gid, enrolled, learner, paceCourse,
			fmt.Sprintf("learner%d@example.com", learner)))
		at := enrolled
		lessons := rng.IntN(7)
		for i := 1; i <= lessons; i++ {
			// Gaps of a minute to 12 days, most under a day.
			gap := time.Duration(rng.IntN(24*60)+1) * time.Minute
			if rng.IntN(4) == 0 {
				gap = time.Duration(rng.IntN(12*24*60)+1) * time.Minute
			}
			if at.Add(gap).After(now.Add(-time.Hour)) {
				break
			}
			at = at.Add(gap)
			lesson := int64(800 + i)
			pct := math.Round(1000*float64(i)/6) / 10
			id := fmt.Sprint(learner, "-", i)
			events = append(events, testkit.LessonEventFor("pl"+id, gid, at, learner, paceCourse, lesson),
				testkit.ProgressEvent("pp"+id, gid, at, learner, paceCourse, strconv.FormatFloat(pct, 'f', 1, 64)))
			ph.steps[learner] = append(ph.steps[learner], paceStep{at: at, lesson: lesson, percent: pct})
			ph.percent[learner] = pct
			if i == 6 {
				done := at.Add(time.Second)
				ph.done[learner] = done
				events = append(events, testkit.CompletedEvent("pd"+id, gid, done, learner, paceCourse))
			}
		}
	}
	for _, e := range events {
		if code, body := h.Deliver("acme", e, testkit.ClientSecret); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	h.Drain()
	var page []progress.Imported
	for learner := int64(300); learner < 306; learner++ {
		enrolled := now.Add(-time.Duration(rng.IntN(150*24)+24) * time.Hour)
		asOf := enrolled.Add(time.Duration(rng.IntN(int(now.Sub(enrolled).Hours()))) * time.Hour)
		pct := float64(rng.IntN(101))
		if learner%3 == 0 {
			pct = 100
		}
		started := enrolled.Add(time.Duration(rng.IntN(72)) * time.Hour)
		e := progress.Imported{ID: learner*100 + paceCourse, LearnerID: learner, CourseID: paceCourse, CourseName: "Course",
			LearnerEmail: fmt.Sprintf("learner%d@example.com", learner), Percent: &pct, Completed: pct == 100,
			CreatedAt: &enrolled, StartedAt: &started, UpdatedAt: asOf}
		ph.enrolled[learner], ph.started[learner], ph.percent[learner] = enrolled, started, pct
		ph.imported[learner] = importedState{percent: pct, asOf: asOf}
		if pct == 100 {
			e.CompletedAt = &asOf
			ph.done[learner] = asOf
		}
		page = append(page, e)
	}
	if err := h.Worker.ApplyImported(context.Background(), h.MustSite().ID, page); err != nil {
		t.Fatal(err)
	}
	return ph
}

// percentileCont is PostgreSQL's percentile_cont over values, -1 for none.
func percentileCont(values []float64, f float64) float64 {
	if len(values) == 0 {
		return -1
	}
	v := slices.Sorted(slices.Values(values))
	rank := f * float64(len(v)-1)
	below := math.Floor(rank)
	above := math.Ceil(rank)
	return v[int(below)] + (rank-below)*(v[int(above)]-v[int(below)])
}

// daysToFinish: whole days from the start (started_at, else enrolled_at) to completion.
func (ph *paceHistory) daysToFinish() []float64 {
	var out []float64
	for learner, done := range ph.done {
		start, ok := ph.started[learner]
		if !ok {
			start = ph.enrolled[learner]
		}
		if !done.Before(start) { // a start after the completion is not counted
			out = append(out, math.Floor(done.Sub(start).Hours()/24))
		}
	}
	return out
}

// lessonGaps: per lesson, the times from the learner's previous lesson completion.
func (ph *paceHistory) lessonGaps() map[int64][]float64 {
	out := map[int64][]float64{}
	for _, steps := range ph.steps {
		for i := 1; i < len(steps); i++ {
			out[steps[i].lesson] = append(out[steps[i].lesson], steps[i].at.Sub(steps[i-1].at).Seconds())
		}
	}
	return out
}

// cohortRow is a cohort's row as the page should show it.
func (ph *paceHistory) cohortRows() map[string][]string {
	type month struct {
		n, done int
		at      [3][]float64
		unknown [3]int
	}
	months := map[string]*month{}
	for learner, enrolled := range ph.enrolled {
		key := enrolled.Format("2006-01")
		m := months[key]
		if m == nil {
			m = &month{}
			months[key] = m
		}
		m.n++
		if _, ok := ph.done[learner]; ok {
			m.done++
		}
		for i, n := range []int{7, 30, 90} {
			cut := enrolled.AddDate(0, 0, n)
			if imp, ok := ph.imported[learner]; ok {
				if imp.asOf.After(cut) {
					m.unknown[i]++
				} else {
					m.at[i] = append(m.at[i], imp.percent)
				}
				continue
			}
			p := 0.0
			for _, s := range ph.steps[learner] {
				if !s.at.After(cut) {
					p = s.percent
				}
			}
			m.at[i] = append(m.at[i], p)
		}
	}
	out := map[string][]string{}
	for key, m := range months {
		first, _ := time.Parse("2006-01", key)
		row := []string{key, strconv.Itoa(m.n), fmt.Sprintf("%.1f%% (%d)", 100*float64(m.done)/float64(m.n), m.done)}
		for i, n := range []int{7, 30, 90} {
			cell := "—"
			if !first.AddDate(0, 1, n).After(ph.now) && len(m.at[i]) > 0 {
				cell = strconv.FormatFloat(math.Round(percentileCont(m.at[i], 0.5)*10)/10, 'f', -1, 64) + "%"
				if m.unknown[i] > 0 {
					cell += fmt.Sprintf(" (%d unknown)", m.unknown[i])
				}
			}
			row = append(row, cell)
		}
		out[key] = append(row, "list · CSV")
	}
	return out
}

var (
	cellRE     = regexp.MustCompile(`(?s)<t[dh]([^>]*)>(.*?)</t[dh]>`)
	cohortRE   = regexp.MustCompile(`(?s)<tr data-cohort="([^"]+)">(.*?)</tr>`)
	lessonPace = regexp.MustCompile(`(?s)<table id="lesson-pace".*?<tbody>(.*?)</tbody>`)
	rowRE      = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	secondsRE  = regexp.MustCompile(`data-seconds="([^"]+)"`)
)

func cellsOf(row string) (texts, attrs []string) {
	for _, c := range cellRE.FindAllStringSubmatch(row, -1) {
		texts = append(texts, strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(c[2], ""))), " "))
		attrs = append(attrs, c[1])
	}
	return texts, attrs
}

func figure(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no #%s on the page", id)
	}
	return html.UnescapeString(m[1])
}

func daysText(d float64) string {
	if d < 0 {
		return "—"
	}
	s := strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64)
	if s == "1" {
		return "1 day"
	}
	return s + " days"
}

// checkPace compares the course page's pace and cohorts with what ph says they are.
func checkPace(t *testing.T, ph *paceHistory, page string) {
	t.Helper()
	days := ph.daysToFinish()
	if got, want := figure(t, page, "pace-finished"), strconv.Itoa(len(days)); got != want {
		t.Errorf("finished enrollments counted: %s, want %s", got, want)
	}
	if got, want := figure(t, page, "pace-median"), daysText(percentileCont(days, 0.5)); got != want {
		t.Errorf("median days to finish: %s, want %s (of %v)", got, want, days)
	}
	if got, want := figure(t, page, "pace-p75"), daysText(percentileCont(days, 0.75)); got != want {
		t.Errorf("p75 days to finish: %s, want %s (of %v)", got, want, days)
	}

	gaps := ph.lessonGaps()
	m := lessonPace.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no lesson pace table")
	}
	rows := rowRE.FindAllStringSubmatch(m[1], -1)
	if len(rows) != len(gaps) {
		t.Errorf("lesson pace rows: %d, want %d", len(rows), len(gaps))
	}
	var medians []float64
	for _, g := range gaps {
		medians = append(medians, percentileCont(g, 0.5))
	}
	slices.Sort(medians)
	marked := min(3, max(1, (len(medians)+4)/5)) // a fifth of the lessons, one to three
	third := medians[len(medians)-marked]
	lessons := slices.Sorted(maps.Keys(gaps)) // curriculum unknown: lessons in id order
	for i, r := range rows {
		texts, attrs := cellsOf(r[1])
		lesson := lessons[min(i, len(lessons)-1)]
		if !strings.Contains(texts[0], fmt.Sprint("Lesson ", lesson)) {
			t.Errorf("row %d is %q, want lesson %d", i, texts[0], lesson)
			continue
		}
		want := percentileCont(gaps[lesson], 0.5)
		sec := secondsRE.FindStringSubmatch(attrs[1])
		if sec == nil {
			t.Fatalf("no data-seconds in %q", attrs[1])
		}
		got, _ := strconv.ParseFloat(sec[1], 64)
		if math.Abs(got-want) > 0.001 || texts[2] != strconv.Itoa(len(gaps[lesson])) {
			t.Errorf("lesson %d: median %v s of %s, want %v s of %d", lesson, got, texts[2], want, len(gaps[lesson]))
		}
		if slow := strings.Contains(texts[0], "holds learners long"); slow != (want >= third) {
			t.Errorf("lesson %d (median %v s, shortest marked %v s) marked slow: %v", lesson, want, third, slow)
		}
	}

	want := ph.cohortRows()
	got := map[string][]string{}
	for _, r := range cohortRE.FindAllStringSubmatch(page, -1) {
		got[r[1]], _ = cellsOf(r[2])
	}
	if len(got) != len(want) {
		t.Errorf("cohorts: %d, want %d", len(got), len(want))
	}
	for month, w := range want {
		if g := got[month]; !slices.Equal(g, w) {
			t.Errorf("cohort %s:\n got %q\nwant %q", month, g, w)
		}
	}
}

func TestPaceAndCohorts(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := testkit.Browser()
		if resp, _ := h.InstallVia(admin, "acme"); resp.StatusCode != 200 {
			t.Fatalf("install: %d", resp.StatusCode)
		}
		ph := deliverPaceHistory(t, h, 1)
		_, page := testkit.Get(t, admin, h.URL+"/courses/80")
		checkPace(t, ph, page)
		if t.Failed() {
			return
		}
		month := ph.enrolled[200].Format("2006-01")
		for _, link := range []string{`href="/courses/80?cohort=` + month + `#learners-title"`,
			`href="/export/learners.csv?course_id=80&amp;cohort=` + month + `"`,
			`<script type="application/json" id="cohort-data">`, `<script src="/static/cohorts.js">`} {
			testkit.MustContain(t, page, link)
		}

		// The learner page: their days beside the course's median.
		median := daysText(percentileCont(ph.daysToFinish(), 0.5))
		for learner, done := range ph.done {
			if _, ok := ph.imported[learner]; ok {
				continue
			}
			_, lp := testkit.Get(t, admin, fmt.Sprintf("%s/learners/%d", h.URL, learner))
			testkit.MustContain(t, lp, "finished in "+daysText(math.Floor(done.Sub(ph.enrolled[learner]).Hours()/24))+"</td>",
				fmt.Sprintf("median %s (of %d finished)", median, len(ph.done)))
			break
		}
		for learner, steps := range ph.steps {
			if _, ok := ph.done[learner]; ok || len(steps) == 0 {
				continue
			}
			_, lp := testkit.Get(t, admin, fmt.Sprintf("%s/learners/%d", h.URL, learner))
			now := h.Clock.Now()
			testkit.MustContain(t, lp, fmt.Sprintf("%s so far, at %s%%", daysText(math.Floor(now.Sub(ph.enrolled[learner]).Hours()/24)),
				strconv.FormatFloat(ph.percent[learner], 'f', -1, 64)))
			break
		}

		// A new learner completes two lessons: the worker's RefreshPace counts them.
		gid := h.Double.Site("acme").GID()
		at := ph.now.Add(-30 * time.Minute)
		ph.enrolled[250] = at
		ph.steps[250] = []paceStep{{at.Add(time.Minute), 801, 16.7}, {at.Add(11 * time.Minute), 802, 33.3}}
		ph.percent[250] = 33.3
		for _, e := range [][]byte{
			testkit.EnrollEvent("pe250", gid, at, 250, paceCourse, "learner250@example.com"),
			testkit.LessonEventFor("pl250-1", gid, at.Add(time.Minute), 250, paceCourse, 801),
			testkit.ProgressEvent("pp250-1", gid, at.Add(time.Minute), 250, paceCourse, "16.7"),
			testkit.LessonEventFor("pl250-2", gid, at.Add(11*time.Minute), 250, paceCourse, 802),
			testkit.ProgressEvent("pp250-2", gid, at.Add(11*time.Minute), 250, paceCourse, "33.3"),
		} {
			if code, body := h.Deliver("acme", e, testkit.ClientSecret); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
		}
		h.Drain()
		if err := h.DB.RefreshPace(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, page = testkit.Get(t, admin, h.URL+"/courses/80")
		checkPace(t, ph, page)

		// Without the worker, the page counts again itself once its figures are
		// paceFreshFor (10 minutes) old.
		h.Clock.Advance(11 * time.Minute)
		ph.now = ph.now.Add(11 * time.Minute)
		ph.steps[250] = append(ph.steps[250], paceStep{at.Add(20 * time.Minute), 803, 50})
		ph.percent[250] = 50
		for _, e := range [][]byte{
			testkit.LessonEventFor("pl250-3", gid, at.Add(20*time.Minute), 250, paceCourse, 803),
			testkit.ProgressEvent("pp250-3", gid, at.Add(20*time.Minute), 250, paceCourse, "50.0"),
		} {
			if code, body := h.Deliver("acme", e, testkit.ClientSecret); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
		}
		h.Drain()
		_, page = testkit.Get(t, admin, h.URL+"/courses/80")
		checkPace(t, ph, page)

		// A lesson.completed that arrives late, between two of a learner's earlier lessons,
		// splits the time between them.
		for learner, steps := range ph.steps {
			if len(steps) < 2 {
				continue
			}
			late := paceStep{steps[0].at.Add(steps[1].at.Sub(steps[0].at) / 2).Truncate(time.Second), 807, steps[0].percent}
			ph.steps[learner] = slices.Insert(steps, 1, late)
			if code, body := h.Deliver("acme", testkit.LessonEventFor(fmt.Sprint("late", learner), gid, late.at, learner, paceCourse, 807),
				testkit.ClientSecret); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			break
		}
		h.Drain()
		if err := h.DB.RefreshPace(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, page = testkit.Get(t, admin, h.URL+"/courses/80")
		checkPace(t, ph, page)
	})
}
