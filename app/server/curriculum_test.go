package server_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/progress"
	"github.com/strideapp/stride/app/store"
)

// lessonDone is a lesson.completed naming the course, chapter and lesson as Thinkific's
// curriculum does; the enrollment id is learner*100+course, as testkit's events have it.
func lessonDone(id, gid string, at time.Time, learner, course int64, courseName string, chapter int64, chapterName string,
	lesson int64, lessonName string) []byte {
	return testkit.Event(id, "lesson", "completed", gid, at, map[string]any{
		"chapter": map[string]any{"id": chapter, "name": chapterName}, "course": map[string]any{"id": course, "name": courseName},
		"enrollment": map[string]any{"id": learner*100 + course},
		"lesson":     map[string]any{"id": lesson, "name": lessonName, "position": 0, "type": "Video"},
		"user":       map[string]any{"id": learner, "email": "learner" + itoa(learner) + "@example.com"}})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// importCourses stores what an import of a site read from Thinkific's REST API: the courses
// listed, their curricula, and enrollments.
func importCourses(t *testing.T, h *testkit.Harness, siteID int64, curricula map[store.CatalogCourse][]store.CatalogChapter,
	enrollments []progress.Imported) {
	t.Helper()
	ctx := context.Background()
	var courses []store.CatalogCourse
	for c := range curricula {
		courses = append(courses, c)
	}
	if err := h.DB.SaveCourses(ctx, siteID, courses, h.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	for c, chapters := range curricula {
		if _, err := h.DB.SaveCurriculum(ctx, siteID, c, chapters, h.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Worker.ApplyImported(ctx, siteID, enrollments); err != nil {
		t.Fatal(err)
	}
}

func finished(id, learner, course int64, name string, asOf time.Time) progress.Imported {
	full := 100.0
	return progress.Imported{ID: id, LearnerID: learner, CourseID: course, CourseName: name, LearnerEmail: "learner" + itoa(learner) + "@example.com",
		Percent: &full, Completed: true, CreatedAt: &asOf, CompletedAt: &asOf, UpdatedAt: asOf}
}

// seedCurricula gives acme (seeded by seedSite) what an import reads, and events since:
//
//	course 70 "Course": Intro (702 Welcome), One (700 Lesson 700, 703 a quiz, 701 Lesson 701);
//	  learners 10 and 11 had finished it when imported, 12 was at 40 %; since the install 11
//	  completed lesson 700 and 8 completed lesson 799, which the curriculum does not have.
//	course 71 "Second": Part (710 Start, 711 Middle, 712 End); learner 7 completed Start.
//	course 72 "Gone": deleted in Thinkific since.
//	course 73: known only from enrollment events, no lesson events.
func seedCurricula(t *testing.T, h *testkit.Harness, siteID int64) (importedAsOf time.Time) {
	t.Helper()
	ctx := context.Background()
	now := h.Clock.Now().UTC().Truncate(time.Second)
	importedAsOf = now.Add(-10 * 24 * time.Hour)
	forty := 40.0
	importCourses(t, h, siteID, map[store.CatalogCourse][]store.CatalogChapter{
		{ID: 70, Name: "Course"}: {
			{ID: 2, Name: "Intro", Position: 1, Contents: []store.CatalogContent{{ID: 702, Name: "Welcome", Position: 1, Type: "Lesson"}}},
			{ID: 1, Name: "One", Position: 2, Contents: []store.CatalogContent{
				{ID: 700, Name: "Lesson 700", Position: 1, Type: "Lesson"}, {ID: 703, Name: "=1+1 quiz", Position: 2, Type: "Quiz"},
				{ID: 701, Name: "Lesson 701", Position: 3, Type: "Lesson"}}},
		},
		{ID: 71, Name: "Second"}: {{ID: 3, Name: "Part", Position: 1, Contents: []store.CatalogContent{
			{ID: 710, Name: "Start", Position: 1, Type: "Lesson"}, {ID: 711, Name: "Middle", Position: 2, Type: "Lesson"},
			{ID: 712, Name: "End", Position: 3, Type: "Quiz"}}}},
		{ID: 72, Name: "Gone"}: {{ID: 4, Name: "Old", Position: 1, Contents: []store.CatalogContent{{ID: 720, Name: "Old lesson", Position: 1, Type: "Lesson"}}}},
	}, []progress.Imported{
		finished(1070, 10, 70, "Course", importedAsOf),
		finished(1170, 11, 70, "Course", importedAsOf),
		{ID: 1270, LearnerID: 12, CourseID: 70, CourseName: "Course", LearnerEmail: "learner12@example.com", Percent: &forty,
			CreatedAt: &importedAsOf, UpdatedAt: importedAsOf},
		finished(1072, 10, 72, "Gone", importedAsOf),
	})
	if err := h.DB.DeleteCourse(ctx, siteID, 72); err != nil {
		t.Fatal(err)
	}
	// Events newer than the curriculum read: they must not change its order or types.
	h.Clock.Advance(time.Hour)
	site, err := h.DB.Site(ctx, siteID)
	if err != nil {
		t.Fatal(err)
	}
	gid, at := site.GID, h.Clock.Now().Add(-10*time.Minute)
	for _, e := range [][]byte{
		lessonDone("l11", gid, at, 11, 70, "Course", 1, "One", 700, "Lesson 700"),
		lessonDone("l8x", gid, at, 8, 70, "Course", 1, "One", 799, "Lesson 799"),
		lessonDone("l7s", gid, at, 7, 71, "Second", 3, "Part", 710, "Start"),
		lessonDone("l12", gid, at.Add(time.Minute), 12, 70, "Course", 1, "One", 701, "Lesson 701"),
		testkit.ProgressEvent("p12", gid, at.Add(time.Minute), 12, 70, "60.0"),
		testkit.EnrollEvent("c73", gid, at, 7, 73, "learner7@example.com"),
		testkit.ProgressEvent("p73", gid, at.Add(time.Minute), 7, 73, "30.0"),
	} {
		if code, body := h.Deliver(site.Subdomain, e, testkit.ClientSecret); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	h.Drain()
	return importedAsOf
}

var funnelRow = regexp.MustCompile(`(?s)<li[^>]*>\s*<span class="lesson">(.*?)</span>\s*<progress[^>]*>\s*</progress>\s*<span class="n">(\d+)</span>`)
var tags = regexp.MustCompile(`<[^>]+>`)

// funnelOf is the funnel a course page shows: "lesson text = learners" per line.
func funnelOf(page string) []string {
	var out []string
	for _, m := range funnelRow.FindAllStringSubmatch(page, -1) {
		text := strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(m[1], ""))), " ")
		out = append(out, text+" = "+m[2])
	}
	return out
}

func TestCurriculumFunnel(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")
		seedCurricula(t, h, h.MustSite().ID)

		cases := []struct {
			name, path string
			want       []string
		}{
			// 10 and 11 finished the course when imported: every lesson of it counts them,
			// 11 once for lesson 700 although it also completed it since; 12 completed 701
			// since. Lesson 799 is not in the curriculum: after it, counted from its event only.
			{"curriculum order, imported finishers, events-only lesson last", "/courses/70", []string{
				"Intro · Welcome = 2",
				"One · Lesson 700 = 4",
				"One · =1+1 quiz = 2",
				"One · Lesson 701 = 4",
				"One · Lesson 799 (not in the curriculum Thinkific gave) biggest drop: −3 (75%) = 1",
			}},
			{"lessons nobody completed show 0", "/courses/71", []string{
				"Part · Start = 1",
				"Part · Middle biggest drop: −1 (100%) = 0",
				"Part · End = 0",
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, page := testkit.Get(t, admin, h.URL+c.path)
				if got := funnelOf(page); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Fatalf("funnel:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
			})
		}

		t.Run("imported finishers are explained", func(t *testing.T) {
			_, page := testkit.Get(t, admin, h.URL+"/courses/70")
			testkit.MustContain(t, page, "count as having completed every lesson")
			_, page = testkit.Get(t, admin, h.URL+"/courses/71")
			if strings.Contains(page, "count as having completed every lesson") {
				t.Fatal("course 71 has no imported finisher, yet says so")
			}
		})

		t.Run("a deleted course leaves the list and the funnel", func(t *testing.T) {
			_, page := testkit.Get(t, admin, h.URL+"/")
			testkit.MustContain(t, page, `href="/courses/70"`, `href="/courses/71"`, `href="/courses/73"`)
			if strings.Contains(page, `href="/courses/72"`) || strings.Contains(page, "Gone") {
				t.Fatal("the overview lists the deleted course")
			}
			resp, page := testkit.Get(t, admin, h.URL+"/courses/72")
			if resp.StatusCode != 200 {
				t.Fatalf("the deleted course's page: %d", resp.StatusCode)
			}
			testkit.MustContain(t, page, "This course was deleted in Thinkific", "learner10@example.com")
			if f := funnelOf(page); len(f) != 0 {
				t.Fatalf("the deleted course has a funnel: %q", f)
			}
		})

		t.Run("a course without lesson events says why", func(t *testing.T) {
			_, page := testkit.Get(t, admin, h.URL+"/courses/73")
			testkit.MustContain(t, page, `id="no-lesson-events"`,
				"Thinkific sends no lesson events for this course — it may be built with the new course builder; progress is shown from enrollment updates.",
				"learner7@example.com", "30%")
			_, page = testkit.Get(t, admin, h.URL+"/courses/70")
			if strings.Contains(page, "no-lesson-events") {
				t.Fatal("a course with lessons says it has no lesson events")
			}
		})
	})
}

func TestImportedHistory(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")
		site := h.MustSite()
		importedAsOf := seedCurricula(t, h, site.ID)
		ctx := context.Background()
		imp, err := h.DB.ImportOf(ctx, site.ID)
		if err != nil || imp == nil {
			t.Fatalf("the install queued no import: %v", err)
		}
		since := imp.HistoryFrom.UTC().Format("2 Jan 2006")

		// Learners 10, 11, 12 come from the import: six in all. 7 finished through webhooks,
		// 10 and 11 (course 70) and 10 (course 72, since deleted) by the import.
		_, page := testkit.Get(t, admin, h.URL+"/")
		testkit.MustContain(t, page, `id="fig-learners">6<`, `id="fig-completions">4<`,
			"Lesson-by-lesson history since "+since+" (when Stride was installed); enrollments and progress before that are being imported from Thinkific.")
		if err := h.DB.FinishImport(ctx, imp); err != nil {
			t.Fatal(err)
		}
		_, page = testkit.Get(t, admin, h.URL+"/")
		testkit.MustContain(t, page, "enrollments and progress before that were imported from Thinkific.")
		if err := h.DB.Gorm().Exec("DELETE FROM site_imports WHERE site_id = ?", site.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, page = testkit.Get(t, admin, h.URL+"/"); strings.Contains(page, "history-from") {
			t.Fatal("a site without an import says what was imported")
		}

		// Learner 12 was at 40 % when imported, then completed lesson 701 (60 %).
		_, page = testkit.Get(t, admin, h.URL+"/learners/12")
		line := "Progress imported: 40% as of " + importedAsOf.Format("2 Jan 2006")
		testkit.MustContain(t, page, line, "completed <strong>Lesson 701</strong> in One")
		if strings.Index(page, line) > strings.Index(page, `class="timeline"`) {
			t.Fatal("the imported progress does not begin the timeline")
		}
		_, page = testkit.Get(t, admin, h.URL+"/learners/7")
		if strings.Contains(page, "Progress imported") {
			t.Fatal("a learner known only from webhooks shows imported progress")
		}
		var rows []string
		for _, r := range readCSV(t, admin, h.URL+"/export/steps.csv")[1:] {
			if r[1] == "12" {
				rows = append(rows, strings.Join(r[1:], ","))
			}
		}
		if want := "12,learner12@example.com,70,Course,1,One,701,Lesson 701,40,60"; strings.Join(rows, "\n") != want {
			t.Fatalf("learner 12's steps.csv rows:\n%s\nwant only:\n%s", strings.Join(rows, "\n"), want)
		}
	})
}

func TestExportLessons(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		admin := seedSite(t, h, "acme")
		seedCurricula(t, h, h.MustSite().ID)

		// beta has a course 70 of its own, with learner 11 who finished it.
		beta := testkit.Browser()
		h.Double.AddSite("beta")
		if resp, _ := h.InstallVia(beta, "beta"); resp.StatusCode != 200 {
			t.Fatalf("install beta: %d", resp.StatusCode)
		}
		betaSite, err := h.DB.SiteBySubdomain(context.Background(), "beta")
		if err != nil {
			t.Fatal(err)
		}
		importCourses(t, h, betaSite.ID, map[store.CatalogCourse][]store.CatalogChapter{
			{ID: 70, Name: "Beta course"}: {{ID: 9, Name: "B", Position: 1, Contents: []store.CatalogContent{{ID: 900, Name: "Beta lesson", Position: 1, Type: "Lesson"}}}},
		}, []progress.Imported{finished(1170, 11, 70, "Beta course", h.Clock.Now().Add(-time.Hour))})

		const header = "course_id,course_name,chapter_id,chapter_name,lesson_id,lesson_name,lesson_type,position,completed_by"
		course70 := []string{
			"70,Course,2,Intro,702,Welcome,Lesson,1,2",
			"70,Course,1,One,700,Lesson 700,Lesson,2,4",
			"70,Course,1,One,703,'=1+1 quiz,Quiz,3,2",
			"70,Course,1,One,701,Lesson 701,Lesson,4,4",
		}
		course71 := []string{
			"71,Second,3,Part,710,Start,Lesson,1,1",
			"71,Second,3,Part,711,Middle,Lesson,2,0",
			"71,Second,3,Part,712,End,Quiz,3,0",
		}
		cases := []struct {
			name   string
			client *http.Client
			query  string
			want   []string
		}{
			// Lesson 799 (not in the curriculum), the deleted course 72 and course 73 (no
			// curriculum) have no rows.
			{"the whole site", admin, "", append(append([]string{header}, course70...), course71...)},
			{"one course", admin, "?course_id=71", append([]string{header}, course71...)},
			{"a deleted course", admin, "?course_id=72", []string{header}},
			{"a course without a curriculum", admin, "?course_id=73", []string{header}},
			{"an unknown course", admin, "?course_id=999", []string{header}},
			{"another site's", beta, "", []string{header, "70,Beta course,9,B,900,Beta lesson,Lesson,1,1"}},
			{"another site's course of the same id", beta, "?course_id=70", []string{header, "70,Beta course,9,B,900,Beta lesson,Lesson,1,1"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var got []string
				for _, r := range readCSV(t, c.client, h.URL+"/export/lessons.csv"+c.query) {
					got = append(got, strings.Join(r, ","))
				}
				if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
					t.Fatalf("lessons.csv%s:\n%s\nwant:\n%s", c.query, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
			})
		}

		for _, q := range []string{"x", "0", "-3", "1.5", "99999999999999999999"} {
			resp, body := testkit.Get(t, admin, h.URL+"/export/lessons.csv?course_id="+q)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "course_id must be") {
				t.Errorf("course_id=%s: %d %.200s", q, resp.StatusCode, body)
			}
		}
		if resp, _ := testkit.Get(t, testkit.Browser(), h.URL+"/export/lessons.csv"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("lessons.csv without a session: %d", resp.StatusCode)
		}
		_, page := testkit.Get(t, admin, h.URL+"/")
		testkit.MustContain(t, page, `href="/export/lessons.csv"`, `href="/export/lessons.csv?course_id=70"`)
	})
}
