package testkit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/pairing"
	"github.com/strideapp/stride/app/store"
)

// Step is one learner step as the steps view shows it.
type Step struct {
	Learner, Course int64
	Lesson          int64   // 0 when the step has no lesson
	At              int64   // unix ms
	Before, After   float64 // -1 when empty
}

func (s Step) String() string {
	return fmt.Sprintf("learner %d course %d lesson %d at %d: %v → %v", s.Learner, s.Course, s.Lesson, s.At, s.Before, s.After)
}

// GroundTruth is what a set of generated journeys must become, and the deliveries that
// carry them.
type GroundTruth struct {
	Bodies [][]byte
	Steps  []Step
}

// Journeys generates learners walking through courses (pairing.Journey), as Thinkific's
// webhooks for the site with tenant_global_id gid, with the steps they must become.
func Journeys(seed uint64, gid string, learners, courses int) GroundTruth {
	r := rand.New(rand.NewPCG(seed, 1))
	var g GroundTruth
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for li := range learners {
		for ci := range courses {
			learner, course := int64(500+li), int64(900+ci)
			user := map[string]any{"id": learner, "email": fmt.Sprintf("l%d@example.com", learner), "first_name": "L", "last_name": fmt.Sprint(learner)}
			halves, truth := pairing.Journey(r, 10+r.IntN(60), start.Add(time.Duration(r.IntN(3600))*time.Second))
			enrollment := learner*1000 + course
			round := func(t time.Time) time.Time { return t.Round(time.Millisecond) }
			enrolled := round(halves[0].At).Add(-time.Minute)
			for _, h := range halves {
				if e := round(h.At).Add(-time.Minute); e.Before(enrolled) {
					enrolled = e
				}
			}
			g.Bodies = append(g.Bodies, Event(fmt.Sprintf("c-%d", enrollment), "enrollment", "created", gid, enrolled,
				map[string]any{"id": enrollment, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course,
					"user": user, "percentage_completed": "0.0", "created_at": enrolled.Format(time.RFC3339Nano)}))

			// Progress halves rise in time order.
			sort.Slice(halves, func(i, j int) bool { return halves[i].At.Before(halves[j].At) })
			var progress []pairing.Half
			for _, h := range halves {
				if h.Kind == pairing.Progress {
					progress = append(progress, h)
				}
			}
			after := map[int64]float64{}
			before := map[int64]float64{}
			for k, h := range progress {
				after[h.ID] = math.Round(10000*float64(k+1)/float64(len(progress))) / 100
				if k > 0 {
					before[h.ID] = after[progress[k-1].ID]
				}
			}
			partnerOf := map[int64]int64{}
			for l, p := range truth {
				partnerOf[p] = l
			}
			for _, h := range halves {
				at := round(h.At)
				id := fmt.Sprintf("e-%d-%d-%d", learner, course, h.ID)
				if h.Kind == pairing.Lesson {
					payload := map[string]any{"chapter": map[string]any{"id": 70 + h.ID%3, "name": "Chapter"},
						"course": map[string]any{"id": course, "name": "Course"}, "user": user,
						"lesson": map[string]any{"id": course*100000 + h.ID, "name": fmt.Sprint("Lesson ", h.ID), "position": 1, "type": "Text"}}
					if h.EnrollmentID != 0 {
						payload["enrollment"] = map[string]any{"id": enrollment}
					}
					g.Bodies = append(g.Bodies, Event(id, "lesson", "completed", gid, at, payload))
					s := Step{Learner: learner, Course: course, Lesson: course*100000 + h.ID, At: at.UnixMilli(), Before: -1, After: -1}
					if p, ok := truth[h.ID]; ok {
						s.Before, s.After = before[p], after[p]
					}
					g.Steps = append(g.Steps, s)
					continue
				}
				g.Bodies = append(g.Bodies, Event(id, "enrollment", "progress", gid, at, map[string]any{
					"id": enrollment, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course, "user": user,
					"percentage_completed": fmt.Sprintf("%.2f", after[h.ID])}))
				if _, paired := partnerOf[h.ID]; !paired {
					g.Steps = append(g.Steps, Step{Learner: learner, Course: course, At: at.UnixMilli(), Before: before[h.ID], After: after[h.ID]})
				}
			}
		}
	}
	sortSteps(g.Steps)
	return g
}

func sortSteps(s []Step) {
	slices.SortFunc(s, func(a, b Step) int {
		for _, d := range []int64{a.Learner - b.Learner, a.Course - b.Course, a.At - b.At, a.Lesson - b.Lesson} {
			if d != 0 {
				return int(max(-1, min(1, d)))
			}
		}
		return 0
	})
}

// ReadSteps is every step of the site, from the steps view, in the order Journeys gives them.
func ReadSteps(t testing.TB, db *store.DB, siteID int64) []Step {
	t.Helper()
	var rows []struct {
		LearnerID, CourseID int64
		LessonID            *int64
		OccurredAt          time.Time
		PercentBefore       *float64
		PercentAfter        *float64
	}
	if err := db.Gorm().Raw("SELECT learner_id, course_id, lesson_id, occurred_at, percent_before, percent_after FROM steps WHERE site_id = ?", siteID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]Step, len(rows))
	for i, r := range rows {
		s := Step{Learner: r.LearnerID, Course: r.CourseID, At: r.OccurredAt.UnixMilli(), Before: -1, After: -1}
		if r.LessonID != nil {
			s.Lesson = *r.LessonID
		}
		if r.PercentBefore != nil {
			s.Before = *r.PercentBefore
		}
		if r.PercentAfter != nil {
			s.After = *r.PercentAfter
		}
		out[i] = s
	}
	sortSteps(out)
	return out
}

// CheckSteps fails unless the site's steps are exactly want, naming the first few missing
// and extra.
func CheckSteps(t testing.TB, db *store.DB, siteID int64, want []Step) (got []Step) {
	t.Helper()
	got = ReadSteps(t, db, siteID)
	if slices.Equal(got, want) {
		return got
	}
	var missing, extra []string
	for _, s := range want {
		if !slices.Contains(got, s) && len(missing) < 10 {
			missing = append(missing, "missing "+s.String())
		}
	}
	for _, s := range got {
		if !slices.Contains(want, s) && len(extra) < 10 {
			extra = append(extra, "extra   "+s.String())
		}
	}
	t.Errorf("%d steps, want %d:\n%s", len(got), len(want), strings.Join(append(missing, extra...), "\n"))
	return got
}

// CheckRollups counts every rollup again from the raw records (store.RebuildRollups) and
// compares: the worker's counting must agree with counting from scratch, whatever order
// events came in. Completions are compared in all: the worker counts one on the day it
// happened, and a later event may move the enrollment's completed_at.
func CheckRollups(t testing.TB, db *store.DB, siteID int64) {
	t.Helper()
	rollups := []struct{ name, q string }{
		{"lesson funnel", "SELECT lesson_id AS k, learners AS n FROM lesson_stats WHERE site_id = ? AND learners > 0"},
		{"steps per day", "SELECT day AS k, steps AS n FROM daily_stats WHERE site_id = ? AND steps > 0"},
		{"enrollments per course and percent",
			"SELECT course_id || ':' || bucket AS k, enrollments AS n FROM progress_buckets WHERE site_id = ? AND enrollments <> 0"},
		{"completions", "SELECT 'all' AS k, SUM(completions) AS n FROM daily_stats WHERE site_id = ? HAVING SUM(completions) > 0"},
	}
	got := make([][]string, len(rollups))
	for i, r := range rollups {
		got[i] = keyed(t, db, r.q, siteID)
	}
	if err := db.RebuildRollups(context.Background(), siteID); err != nil {
		t.Fatal(err)
	}
	for i, r := range rollups {
		if want := keyed(t, db, r.q, siteID); !slices.Equal(got[i], want) {
			t.Errorf("%s: rollup %v, from scratch %v", r.name, got[i], want)
		}
	}
}

func keyed(t testing.TB, db *store.DB, q string, siteID int64) []string {
	t.Helper()
	var rows []struct {
		K string
		N int64
	}
	if err := db.Gorm().Raw(q, siteID).Scan(&rows).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s=%d", r.K, r.N)
	}
	slices.Sort(out)
	return out
}
