package importer_test

import (
	"context"
	"encoding/csv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/server"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// school is a small school with a past: three courses (the last one built with the new
// course builder, so missing from REST), quizzes among the lessons, and enrollments at
// every stage.
var school = thinkificdouble.HistorySpec{Seed: 7, Courses: 3, ChaptersPerCourse: 3, LessonsPerChapter: 4, QuizEvery: 3,
	HiddenCourses: 1, Learners: 40, Enrollments: 90}

// installed installs acme, whose double already holds spec's history, and returns the site.
func installed(t *testing.T, h *testkit.Harness) *stride.Site {
	t.Helper()
	if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
		t.Fatalf("install answered %d", resp.StatusCode)
	}
	return h.MustSite()
}

func importOf(t *testing.T, h *testkit.Harness, site *stride.Site) *store.Import {
	t.Helper()
	imp, err := h.DB.ImportOf(context.Background(), site.ID)
	if err != nil || imp == nil {
		t.Fatalf("no import: %v", err)
	}
	return imp
}

// curriculum is the double's contents of its REST-visible courses in curriculum order.
func curriculum(cat thinkificdouble.Catalog) (ids []int64, types []string) {
	for _, c := range cat.Courses {
		if c.Hidden {
			continue
		}
		var chapters []thinkificdouble.Chapter
		for _, ch := range cat.Chapters {
			if ch.CourseID == c.ID {
				chapters = append(chapters, ch)
			}
		}
		slices.SortStableFunc(chapters, func(a, b thinkificdouble.Chapter) int { return a.Position - b.Position })
		for _, ch := range chapters {
			var contents []thinkificdouble.Content
			for _, ct := range cat.Contents {
				if ct.ChapterID == ch.ID {
					contents = append(contents, ct)
				}
			}
			slices.SortStableFunc(contents, func(a, b thinkificdouble.Content) int { return a.Position - b.Position })
			for _, ct := range contents {
				ids, types = append(ids, ct.ID), append(types, ct.Type)
			}
		}
	}
	return ids, types
}

type lessonRow struct {
	ID             int64
	CourseID       int64
	CoursePosition int
	LessonType     string
}

func importedLessons(t *testing.T, h *testkit.Harness, site *stride.Site) (ids []int64, types []string) {
	t.Helper()
	var rows []lessonRow
	if err := h.DB.Gorm().Raw("SELECT id, course_id, course_position, lesson_type FROM lessons WHERE site_id = ? AND course_position IS NOT NULL ORDER BY course_id, course_position",
		site.ID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	last := map[int64]int{}
	for _, r := range rows {
		if r.CoursePosition != last[r.CourseID]+1 {
			t.Fatalf("course %d: position %d after %d", r.CourseID, r.CoursePosition, last[r.CourseID])
		}
		last[r.CourseID] = r.CoursePosition
		ids, types = append(ids, r.ID), append(types, r.LessonType)
	}
	return ids, types
}

type enrollmentRow struct {
	ID              int64
	Percent         float64
	ImportedPercent *float64
	CompletedAt     *time.Time
}

func enrollments(t *testing.T, h *testkit.Harness, site *stride.Site) map[int64]enrollmentRow {
	t.Helper()
	var rows []enrollmentRow
	if err := h.DB.Gorm().Raw("SELECT id, percent, imported_percent, completed_at FROM enrollments WHERE site_id = ?", site.ID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[int64]enrollmentRow{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

// checkImported checks that Stride holds the double's curriculum and every enrollment.
func checkImported(t *testing.T, h *testkit.Harness, site *stride.Site) {
	t.Helper()
	cat := h.Site.Catalog()
	wantIDs, wantTypes := curriculum(cat)
	gotIDs, gotTypes := importedLessons(t, h, site)
	if !slices.Equal(gotIDs, wantIDs) || !slices.Equal(gotTypes, wantTypes) {
		t.Fatalf("curriculum:\n got %v %v\nwant %v %v", gotIDs, gotTypes, wantIDs, wantTypes)
	}
	got := enrollments(t, h, site)
	if len(got) != len(cat.Enrollments) {
		t.Fatalf("%d enrollments imported, the site has %d", len(got), len(cat.Enrollments))
	}
	for _, e := range cat.Enrollments {
		g := got[e.ID]
		if g.ImportedPercent == nil || math.Abs(*g.ImportedPercent-e.Percentage*100) > 1e-6 {
			t.Fatalf("enrollment %d: imported %v, REST says %v (0–1)", e.ID, g.ImportedPercent, e.Percentage)
		}
		if (g.CompletedAt != nil) != (e.Percentage >= 1) {
			t.Fatalf("enrollment %d at %v: completed_at %v", e.ID, e.Percentage, g.CompletedAt)
		}
	}
}

func TestImportAtInstall(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL, func(c *thinkificdouble.Config, _ map[string]string) { c.StringPercentages = true })
		h.Site.SeedHistory(school)
		site := installed(t, h)
		if imp := importOf(t, h, site); imp.State != store.ImportQueued || !imp.FullImport {
			t.Fatalf("after install: %s full=%v", imp.State, imp.FullImport)
		}
		if n := h.Importer.Drain(context.Background()); n != 1 {
			t.Fatalf("%d imports ran", n)
		}
		imp := importOf(t, h, site)
		if imp.State != store.ImportDone || imp.LastError != "" {
			t.Fatalf("import %s: %s", imp.State, imp.LastError)
		}
		checkImported(t, h, site)
		cat := h.Site.Catalog()
		if imp.Courses != 2 || imp.Enrollments != len(cat.Enrollments) || imp.EnrollmentsTotal != len(cat.Enrollments) {
			t.Fatalf("counts: %+v", imp)
		}
		if n := len(h.Requests(http.MethodGet, "/api/public/v1/")); imp.Requests != n {
			t.Fatalf("the import counted %d requests, the double saw %d", imp.Requests, n)
		}
		// Hidden (new course builder) courses are absent from REST: no curriculum, and
		// nothing invented for them; their enrollments still come.
		if n := h.Count("SELECT COUNT(*) FROM learner_events WHERE site_id = ?", site.ID); n != 0 {
			t.Fatalf("the import invented %d lesson steps", n)
		}
		if max := h.Site.MaxInAnyWindow(time.Minute); max > 120 {
			t.Fatalf("%d requests in one minute", max)
		}
		// The rollups agree with the records.
		before := h.Count("SELECT COALESCE(SUM(enrollments), 0) FROM progress_buckets WHERE site_id = ?", site.ID)
		if before != int64(len(cat.Enrollments)) {
			t.Fatalf("progress buckets hold %d enrollments", before)
		}
	})
}

// TestImportHonoursRateLimit: a 429 mid-import is waited out as RateLimit-Reset says, and
// the import ends as if nothing happened.
func TestImportHonoursRateLimit(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.Site.SeedHistory(school)
		site := installed(t, h)
		h.Site.Inject(thinkificdouble.Fault{Method: http.MethodGet, Path: "/api/public/v1/chapters/", Status: http.StatusTooManyRequests,
			Header: http.Header{"Ratelimit-Reset": {"1"}}, Skip: 2})
		start := time.Now()
		h.Importer.Drain(context.Background())
		if imp := importOf(t, h, site); imp.State != store.ImportDone {
			t.Fatalf("import %s: %s", imp.State, imp.LastError)
		}
		if took := time.Since(start); took < time.Second {
			t.Fatalf("the 429 asked for a second's wait; the import took %v", took)
		}
		checkImported(t, h, site)
	})
}

// TestImportResumes: an import stopped part way (a deploy, a crash) resumes from its cursor
// in another process, without repeating what it wrote.
func TestImportResumes(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 3, Courses: 2, ChaptersPerCourse: 2, LessonsPerChapter: 3, Learners: 300, Enrollments: 600})
		site := installed(t, h)
		ctx, stop := context.WithCancel(context.Background())
		imp, err := h.DB.ClaimImport(ctx, site.ID, h.Clock.Now().Add(time.Minute))
		if err != nil || imp == nil {
			t.Fatalf("claim: %v", err)
		}
		// Stop after the first page of enrollments.
		err = h.Importer.Run1(ctx, imp, func(i store.Import) {
			if i.Phase == store.PhaseEnrollments && i.CursorPage == 1 {
				stop()
			}
		})
		if err == nil {
			t.Fatal("the stopped import says it finished")
		}
		mid := importOf(t, h, site)
		if mid.Phase != store.PhaseEnrollments || mid.CursorPage != 1 || mid.LeaseUntil != nil {
			t.Fatalf("stopped at %s page %d, lease %v", mid.Phase, mid.CursorPage, mid.LeaseUntil)
		}
		before := len(h.Requests(http.MethodGet, "/api/public/v1/enrollments"))

		// The importer's loop takes it up again, as another process would once the lease
		// is released.
		h.Importer.Drain(context.Background())
		done := importOf(t, h, site)
		if done.State != store.ImportDone {
			t.Fatalf("import %s: %s", done.State, done.LastError)
		}
		after := len(h.Requests(http.MethodGet, "/api/public/v1/enrollments"))
		if pages := after - before; pages != 2 { // 600 enrollments: pages 2 and 3 of 250
			t.Fatalf("the resumed import read %d pages of enrollments", pages)
		}
		checkImported(t, h, site)
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ?", site.ID); n != 600 {
			t.Fatalf("%d enrollments", n)
		}
		if n := h.Count("SELECT COALESCE(SUM(enrollments), 0) FROM progress_buckets WHERE site_id = ?", site.ID); n != 600 {
			t.Fatalf("progress buckets count %d", n)
		}
	})
}

// TestWebhooksDuringImport: webhooks keep arriving while the import reads; a newer webhook
// keeps its percentage against an older REST answer, and a newer REST answer wins over an
// older webhook.
func TestWebhooksDuringImport(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		cat := h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 5, Courses: 1, ChaptersPerCourse: 2, LessonsPerChapter: 5, Learners: 20, Enrollments: 20,
			To: time.Now().Add(-time.Hour)})
		site := installed(t, h)
		ctx := context.Background()
		var part []thinkificdouble.Enrollment
		for _, e := range cat.Enrollments {
			if e.Percentage > 0 && e.Percentage < 0.8 {
				part = append(part, e)
			}
		}
		if len(part) < 2 {
			t.Fatalf("the seed gave %d enrollments part way", len(part))
		}
		newer, older := part[0], part[1]
		// A learner moves on now: the webhook is newer than REST's updated_at (an hour ago).
		h.Site.UpdateEnrollment(newer.ID, func(e *thinkificdouble.Enrollment) { e.Percentage += 0.1; e.UpdatedAt = time.Now().Add(-2 * time.Hour) })
		p := h.Site.EnrollmentPayload(newer.ID)
		p["percentage_completed"] = "95.0"
		if _, err := h.Site.Deliver(ctx, stride.TopicEnrollmentProgress, p); err != nil {
			t.Fatal(err)
		}
		// Another's webhook was older than what REST now says.
		if _, err := h.Site.Deliver(ctx, stride.TopicEnrollmentProgress, h.Site.EnrollmentPayload(older.ID)); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		h.Site.UpdateEnrollment(older.ID, func(e *thinkificdouble.Enrollment) { e.Percentage = 0.9; e.UpdatedAt = time.Now().Add(time.Minute) })

		h.Importer.Drain(ctx)
		got := enrollments(t, h, site)
		if got[newer.ID].Percent != 95 {
			t.Fatalf("the newer webhook's 95 %% gave way to the import: %v", got[newer.ID].Percent)
		}
		if got[older.ID].Percent != 90 {
			t.Fatalf("the newer REST answer (90 %%) lost to an older webhook: %v", got[older.ID].Percent)
		}
		// Nothing doubled: one enrollment row each, and the buckets count each once.
		if n := h.Count("SELECT COALESCE(SUM(enrollments), 0) FROM progress_buckets WHERE site_id = ?", site.ID); n != int64(len(cat.Enrollments)) {
			t.Fatalf("progress buckets count %d enrollments of %d", n, len(cat.Enrollments))
		}
		if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = ?", site.ID, store.StatusProcessed); n != 2 {
			t.Fatalf("%d webhooks applied", n)
		}
	})
}

// TestCourseUpdatedAddsLesson: a lesson added in Thinkific reaches the funnel through
// course.updated, and through an event naming it when no course event came.
func TestCourseChanges(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		cat := h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 9, Courses: 2, ChaptersPerCourse: 1, LessonsPerChapter: 3, Learners: 5, Enrollments: 5})
		site := installed(t, h)
		ctx := context.Background()
		h.Importer.Drain(ctx)
		topics := map[string]bool{}
		for _, w := range h.Site.Webhooks() {
			topics[w.Topic] = true
		}
		for _, topic := range []string{stride.TopicCourseCreated, stride.TopicCourseUpdated, stride.TopicCourseDeleted} {
			if !topics[topic] {
				t.Fatalf("no webhook for %s: %v", topic, topics)
			}
		}
		course := cat.Courses[0]
		added := h.Site.AddContent(thinkificdouble.Content{ChapterID: cat.Chapters[0].ID, Name: "Bonus", Position: 1, Type: "Quiz"})
		h.Site.UpdateCourse(course.ID, func(c *thinkificdouble.Course) { c.Name = "Renamed" })
		if _, err := h.Site.DeliverCourse(ctx, "updated", course.ID); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		h.Importer.Drain(ctx)
		ids, types := importedLessons(t, h, site)
		wantIDs, wantTypes := curriculum(h.Site.Catalog())
		if !slices.Equal(ids, wantIDs) || !slices.Equal(types, wantTypes) || !slices.Contains(ids, added.ID) {
			t.Fatalf("after course.updated:\n got %v\nwant %v", ids, wantIDs)
		}
		if name, _ := h.DB.CourseName(ctx, site.ID, course.ID); name != "Renamed" {
			t.Fatalf("course name %q", name)
		}

		// A lesson added with no course event: the first completion naming it asks for one
		// re-read of the course (at most one per course every 10 minutes).
		var enrollment thinkificdouble.Enrollment
		for _, e := range cat.Enrollments {
			if e.CourseID == course.ID {
				enrollment = e
			}
		}
		if enrollment.ID == 0 {
			t.Fatal("the seed enrolled nobody in the first course")
		}
		quiet := h.Site.AddContent(thinkificdouble.Content{ChapterID: cat.Chapters[0].ID, Name: "Quiet", Position: 9})
		if _, err := h.Site.Deliver(ctx, stride.TopicLessonCompleted, h.Site.LessonCompletedPayload(enrollment.ID, quiet.ID)); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		if n, err := h.DB.QueueUnknownLessons(ctx, 10*time.Minute); err != nil || n != 0 {
			t.Fatalf("re-read asked for %d courses within 10 minutes of the last read (%v)", n, err)
		}
		h.Clock.Advance(11 * time.Minute)
		if n, err := h.DB.QueueUnknownLessons(ctx, 10*time.Minute); err != nil || n != 1 {
			t.Fatalf("re-read asked for %d courses, want 1 (%v)", n, err)
		}
		h.Importer.Drain(ctx)
		if ids, _ := importedLessons(t, h, site); !slices.Contains(ids, quiet.ID) {
			t.Fatalf("the lesson an event named is not in the curriculum: %v", ids)
		}
		// A lesson REST never lists costs one re-read, not one every 10 minutes.
		ghost := h.Site.LessonCompletedPayload(enrollment.ID, quiet.ID)
		ghost["lesson"].(map[string]any)["id"] = 999999
		if _, err := h.Site.Deliver(ctx, stride.TopicLessonCompleted, ghost); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		for round, want := range []int64{1, 0} {
			h.Clock.Advance(11 * time.Minute)
			if n, err := h.DB.QueueUnknownLessons(ctx, 10*time.Minute); err != nil || n != want {
				t.Fatalf("round %d: re-read asked for %d courses, want %d (%v)", round, n, want, err)
			}
			h.Importer.Drain(ctx)
		}

		// Deleted: out of the listed courses; its records stay.
		h.Site.DeleteCourse(cat.Courses[1].ID)
		if _, err := h.Site.DeliverCourse(ctx, "deleted", cat.Courses[1].ID); err != nil {
			t.Fatal(err)
		}
		h.Drain()
		h.Importer.Drain(ctx)
		if n := h.Count("SELECT COUNT(*) FROM courses WHERE site_id = ? AND id = ? AND deleted_at IS NOT NULL", site.ID, cat.Courses[1].ID); n != 1 {
			t.Fatal("the deleted course was not marked deleted")
		}
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND course_id = ?", site.ID, cat.Courses[1].ID); n == 0 {
			t.Fatal("the deleted course's enrollments went with it")
		}
	})
}

// TestReinstallReadsOnlyChanges: a reinstall reads the structure again but only the
// enrollments updated since the last import; Re-import (full) reads them all.
func TestReinstallReadsOnlyChanges(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		h.Site.SeedHistory(school)
		site := installed(t, h)
		ctx := context.Background()
		h.Importer.Drain(ctx)
		first := importOf(t, h, site)

		if resp, _ := h.InstallVia(testkit.Browser(), "acme"); resp.StatusCode != http.StatusOK {
			t.Fatalf("reinstall answered %d", resp.StatusCode)
		}
		again := importOf(t, h, site)
		if again.FullImport || again.UpdatedAfter == nil || !again.UpdatedAfter.Before(*first.StartedAt) {
			t.Fatalf("reinstall queued full=%v since %v", again.FullImport, again.UpdatedAfter)
		}
		h.Importer.Drain(ctx)
		var sawSince bool
		for _, r := range h.Requests(http.MethodGet, "/api/public/v1/enrollments") {
			sawSince = sawSince || strings.Contains(r.RawQuery, "updated_after")
		}
		if !sawSince {
			t.Fatal("the reinstall's import read every enrollment again")
		}
		if err := h.DB.RequestImport(ctx, site.ID, true); err != nil {
			t.Fatal(err)
		}
		if imp := importOf(t, h, site); !imp.FullImport || imp.HistoryFrom != first.HistoryFrom {
			t.Fatalf("re-import: full=%v history from %v (was %v)", imp.FullImport, imp.HistoryFrom, first.HistoryFrom)
		}
		h.Importer.Drain(ctx)
		checkImported(t, h, site)
	})
}

// TestOneImportAtATime: two processes asking for due imports at once never both take one
// site's.
func TestOneImportAtATime(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := installed(t, h)
		other := h.StartProcess(nil)
		ctx := context.Background()
		for round := range 20 {
			if err := h.DB.RequestImport(ctx, site.ID, true); err != nil {
				t.Fatal(err)
			}
			got := make(chan *store.Import, 2)
			for _, db := range []*store.DB{h.DB, other.DB} {
				go func() {
					imp, err := db.ClaimImport(ctx, 0, h.Clock.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					got <- imp
				}()
			}
			a, b := <-got, <-got
			if (a == nil) == (b == nil) {
				t.Fatalf("round %d: both or neither took the import: %v %v", round, a, b)
			}
		}
	})
}

// TestLessonsCSVMatchesThinkific: after the import and some lessons completed through
// webhooks, lessons.csv lists the double's curriculum exactly, in order, each content with
// the learners who completed it: by a lesson.completed, or by an imported enrollment that
// had finished the course (once each).
func TestLessonsCSVMatchesThinkific(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		cat := h.Site.SeedHistory(thinkificdouble.HistorySpec{Seed: 21, Courses: 2, ChaptersPerCourse: 2, LessonsPerChapter: 3, QuizEvery: 3,
			Learners: 30, Enrollments: 40})
		installed(t, h)
		ctx := context.Background()
		h.Importer.Drain(ctx)

		// Every third unfinished learner completes the course's first two contents.
		done := map[int64]map[int64]bool{} // content → learners
		mark := func(content, learner int64) {
			if done[content] == nil {
				done[content] = map[int64]bool{}
			}
			done[content][learner] = true
		}
		ids, _ := curriculum(cat)
		courseOf := map[int64]int64{}
		firstTwo := map[int64][]int64{}
		for _, ch := range cat.Chapters {
			for _, ct := range cat.Contents {
				if ct.ChapterID == ch.ID {
					courseOf[ct.ID] = ch.CourseID
				}
			}
		}
		for _, id := range ids {
			if c := courseOf[id]; len(firstTwo[c]) < 2 {
				firstTwo[c] = append(firstTwo[c], id)
			}
		}
		for i, e := range cat.Enrollments {
			if e.Percentage >= 1 {
				for _, id := range ids {
					if courseOf[id] == e.CourseID {
						mark(id, e.UserID)
					}
				}
				continue
			}
			if i%3 != 0 {
				continue
			}
			for _, content := range firstTwo[e.CourseID] {
				if _, err := h.Site.Deliver(ctx, stride.TopicLessonCompleted, h.Site.LessonCompletedPayload(e.ID, content)); err != nil {
					t.Fatal(err)
				}
				mark(content, e.UserID)
			}
		}
		h.Drain()

		admin := testkit.Browser()
		testkit.Get(t, admin, server.LaunchURL(h.URL, testkit.ClientSecret, "acme", h.Site.GID(), h.Clock.Now()))
		resp, body := testkit.Get(t, admin, h.URL+"/export/lessons.csv")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("lessons.csv answered %d", resp.StatusCode)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"course_id", "course_name", "chapter_id", "chapter_name", "lesson_id", "lesson_name", "lesson_type", "position", "completed_by"}}
		names := map[int64]string{}
		for _, c := range cat.Courses {
			names[c.ID] = c.Name
		}
		chapters := map[int64]thinkificdouble.Chapter{}
		for _, ch := range cat.Chapters {
			chapters[ch.ID] = ch
		}
		position := map[int64]int{}
		for _, id := range ids {
			var ct thinkificdouble.Content
			for _, c := range cat.Contents {
				if c.ID == id {
					ct = c
				}
			}
			ch := chapters[ct.ChapterID]
			position[ch.CourseID]++
			want = append(want, []string{strconv.FormatInt(ch.CourseID, 10), names[ch.CourseID], strconv.FormatInt(ch.ID, 10), ch.Name,
				strconv.FormatInt(id, 10), ct.Name, ct.Type, strconv.Itoa(position[ch.CourseID]), strconv.Itoa(len(done[id]))})
		}
		if !slices.EqualFunc(rows, want, slices.Equal[[]string]) {
			t.Fatalf("lessons.csv:\n got %v\nwant %v", rows, want)
		}
	})
}
