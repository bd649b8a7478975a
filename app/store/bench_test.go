package store_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// Seeding for bench-pages writes what the worker would have left: one site seeded with 11
// learners taking 111 steps reads back through the site's view with the figures the layout
// of the seed implies. Learner l takes course l mod 10 + 1, one lesson a step in order, 2 %
// a lesson; step 110 is learner 1's eleventh, so learner 1 (course 2) is furthest and
// course 2, shared with learner 11, is the busiest. PostgreSQL only, as the seeding is.
func TestSeedSite(t *testing.T) {
	ctx := context.Background()
	url := testdb.Postgres(t)
	db := openDB(t, url, "")
	const steps, learners = 111, 11

	kept := install(t, db, "real", "real-1", "tok-real")
	seeded := install(t, db, "bench-0", "bench-0", "tok-bench")
	other := install(t, db, "bench-1", "bench-1", "tok-bench1")
	if err := db.SeedSite(ctx, seeded.ID, steps, learners); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedSite(ctx, other.ID, 20, 10); err != nil {
		t.Fatal(err)
	}
	if err := db.EndSeeding(ctx); err != nil {
		t.Fatal(err)
	}

	fig, err := db.SeedFiguresOf(ctx, seeded.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SeedFigures{Events: 2*steps + 2*20, SiteEvents: 2 * steps, SiteLearners: learners, BusiestCourse: 2, FurthestLearner: 1}
	if fig != want {
		t.Fatalf("seed figures %+v, want %+v", fig, want)
	}

	now := time.Now()
	v := db.View(seeded.ID)
	o, err := v.Overview(ctx, now, now.Add(-200*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Steps 107 to 110 fall within the last 7 days (one every 180/111 days).
	if o.Learners != learners || o.Enrollments != learners || o.Completions != 0 || o.CompletionRate != 0 ||
		o.MedianProgress != 20 || o.Histogram[2] != learners || o.Active7d != 4 {
		t.Fatalf("overview %+v", o)
	}
	var daySteps int64
	for _, d := range o.Days {
		daySteps += d.Steps
	}
	if daySteps != steps || len(o.Days) < 100 {
		t.Fatalf("%d steps over %d days, want %d steps spread over the 180", daySteps, len(o.Days), steps)
	}

	courses, err := v.Courses(ctx)
	if err != nil || len(courses) != 10 {
		t.Fatalf("courses %+v %v", courses, err)
	}
	for _, c := range courses {
		if wantN := map[bool]int64{true: 2, false: 1}[c.ID == 2]; c.Enrollments != wantN || c.Name != "Course "+strconv.FormatInt(c.ID, 10) {
			t.Errorf("course %+v, want %d enrollments", c, wantN)
		}
	}

	funnel, err := v.Funnel(ctx, 2)
	if err != nil || len(funnel) != 50 {
		t.Fatalf("funnel: %d lessons, %v", len(funnel), err)
	}
	for i, l := range funnel {
		wantN := map[bool]int64{true: 2, false: 0}[i < 10]
		if i == 10 {
			wantN = 1
		}
		// From 2 to 1 loses half the learners, from 1 to 0 all: the biggest drop by share.
		if l.Learners != wantN || l.BiggestDrop != (i == 11) {
			t.Errorf("funnel lesson %d (%s, %s): %d learners, biggest drop %v; want %d", i, l.Lesson, l.Chapter, l.Learners, l.BiggestDrop, wantN)
		}
	}

	timeline, err := v.Timeline(ctx, 1, 100)
	if err != nil || len(timeline) != 11 {
		t.Fatalf("timeline: %d steps, %v", len(timeline), err)
	}
	last := timeline[0]
	if last.Lesson != "Lesson 11" || last.Chapter != "Chapter 2" || last.Course != "Course 2" || last.Email != "learner1@example.com" ||
		last.PercentBefore == nil || *last.PercentBefore != 20 || last.PercentAfter == nil || *last.PercentAfter != 22 {
		t.Fatalf("latest step %+v", last)
	}
	if !last.OccurredAt.Before(now) || !timeline[10].OccurredAt.Before(last.OccurredAt) {
		t.Fatalf("steps not newest first, in the past: %v … %v", last.OccurredAt, timeline[10].OccurredAt)
	}

	// Each step's halves are paired, and only with each other.
	paired, err := db.PairedSteps(ctx, []store.StepRef{
		{SiteID: seeded.ID, LessonEvent: "e1", ProgressEvent: "e2"},
		{SiteID: seeded.ID, LessonEvent: "e221", ProgressEvent: "e222"},
		{SiteID: seeded.ID, LessonEvent: "e3", ProgressEvent: "e2"},
		{SiteID: kept.ID, LessonEvent: "e5", ProgressEvent: "e6"},
	})
	if err != nil || len(paired) != 2 || !paired["e1"] || !paired["e221"] {
		t.Fatalf("paired %v %v", paired, err)
	}
	if p, err := db.PairedSteps(ctx, nil); err != nil || len(p) != 0 {
		t.Fatalf("no steps: %v %v", p, err)
	}

	// The delivery log holds the latest deliveries, all applied.
	counts, err := db.InboxCount(ctx, seeded.ID)
	if err != nil || counts["processed"] != steps || counts[store.StatusAccepted] != 0 {
		t.Fatalf("inbox %v %v", counts, err)
	}

	// EndSeeding moved the id sequence past the seeded ids: the next event id is free.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var next, maxID int64
	if err := conn.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('learner_events', 'id')), (SELECT MAX(id) FROM learner_events)").Scan(&next, &maxID); err != nil {
		t.Fatal(err)
	}
	if next <= maxID {
		t.Fatalf("next learner event id %d, seeded ids reach %d", next, maxID)
	}
}

// The bench tools tell their sites by gid prefix, taken literally (a _ or % in it is no
// wildcard), and clear them out whole, leaving other sites be.
func TestBenchSites(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testdb.Postgres(t), "")
	a := install(t, db, "b1", "b_n-1", "t1")
	b := install(t, db, "b2", "b_n-2", "t2")
	keep := install(t, db, "real", "bxn-3", "t3") // would match b_n- were _ a wildcard
	install(t, db, "other", "real-4", "t4")
	for _, s := range []int64{a.ID, keep.ID} {
		if err := db.SeedSite(ctx, s, 30, 10); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.SitesNotPrefixed(ctx, "b_n-"); err != nil || n != 2 {
		t.Fatalf("sites not prefixed: %d %v", n, err)
	}
	if n, err := db.SitesNotPrefixed(ctx, "%"); err != nil || n != 4 {
		t.Fatalf("sites not prefixed %%: %d %v", n, err)
	}

	// Unapplied counts accepted deliveries, by site when asked, up to a limit.
	d := func(site int64, id string) store.Delivery {
		return store.Delivery{SiteID: site, EventID: id, Topic: "lesson.completed", Body: []byte(`{}`), Status: store.StatusAccepted, ReceivedAt: time.Now()}
	}
	if _, err := db.InsertDeliveries(ctx, []store.Delivery{d(a.ID, "x1"), d(a.ID, "x2"), d(a.ID, "x3"), d(b.ID, "x1"), d(keep.ID, "x1")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int
		sites []int64
		want  int64
	}{
		{0, nil, 5},
		{0, []int64{a.ID}, 3},
		{0, []int64{a.ID, b.ID}, 4},
		{1, []int64{a.ID}, 1},
		{2, nil, 2},
		{0, []int64{keep.ID + 100}, 0},
	} {
		if n, err := db.Unapplied(ctx, tc.limit, tc.sites...); err != nil || n != tc.want {
			t.Errorf("unapplied(limit %d, sites %v) = %d, %v; want %d", tc.limit, tc.sites, n, err, tc.want)
		}
	}

	if err := db.DeleteSitesPrefixed(ctx, "b_n-"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.SitesNotPrefixed(ctx, "%"); err != nil || n != 2 {
		t.Fatalf("%d sites left, %v", n, err)
	}
	if _, err := db.SiteByGID(ctx, "b_n-1"); err == nil {
		t.Fatal("a prefixed site survived")
	}
	for _, s := range []int64{a.ID, b.ID} {
		if fig, err := db.SeedFiguresOf(ctx, s); err != nil || fig.SiteEvents != 0 || fig.SiteLearners != 0 {
			t.Fatalf("site %d kept %+v %v", s, fig, err)
		}
	}
	fig, err := db.SeedFiguresOf(ctx, keep.ID)
	if err != nil || fig.Events != 60 || fig.SiteEvents != 60 || fig.SiteLearners != 10 {
		t.Fatalf("the unprefixed site lost data: %+v %v", fig, err)
	}
	if n, err := db.Unapplied(ctx, 0); err != nil || n != 1 {
		t.Fatalf("unapplied after delete %d %v", n, err)
	}
}

func TestBenchSitesUnmigrated(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DatabaseURL: testdb.Postgres(t), Keys: testKeys})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.SitesNotPrefixed(ctx, "bench-"); err != nil || n != 0 {
		t.Fatalf("unmigrated: %d %v", n, err)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testdb.Postgres(t), "")
	got, err := db.Settings(ctx, "server_version_num", "max_connections")
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	for name, v := range got {
		if n, err := strconv.Atoi(v); err != nil || n <= 0 {
			t.Errorf("%s = %q", name, v)
		}
	}
	if _, err := db.Settings(ctx, "no_such.setting_here"); err == nil {
		t.Fatal("an unknown setting read without error")
	}
}

// Backends are the database's connections but those named except, and PostgreSQL's own
// background processes.
func TestBackends(t *testing.T) {
	ctx := context.Background()
	url := testdb.Postgres(t)
	db := openDB(t, url, "")
	pid := func(url string) int {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		var pid int
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	mine, theirs := pid(url+"&application_name=the-bench"), pid(url)
	pids, err := db.Backends(ctx, "the-bench")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(pids, mine) || !slices.Contains(pids, theirs) {
		t.Errorf("backends %v: want %d (another connection) and not %d (named the-bench)", pids, theirs, mine)
	}
}
