package progress_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/pairing"
	"github.com/strideapp/stride/app/progress"
)

// step is one learner step as the steps view shows it.
type step struct {
	Learner, Course int64
	Lesson          int64   // 0 when the step has no lesson
	At              int64   // unix ms
	Before, After   float64 // -1 when empty
}

func (s step) String() string {
	return fmt.Sprintf("learner %d course %d lesson %d at %d: %v → %v", s.Learner, s.Course, s.Lesson, s.At, s.Before, s.After)
}

// groundTruth is what a set of generated journeys must become, and the deliveries that
// carry them.
type groundTruth struct {
	bodies [][]byte
	steps  []step
}

// journeys generates learners walking through courses (pairing.Journey), as Thinkific's
// webhooks, with the steps they must become.
func journeys(seed uint64, learners, courses int) groundTruth {
	r := rand.New(rand.NewPCG(seed, 1))
	var g groundTruth
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
			g.bodies = append(g.bodies, testkit.Event(fmt.Sprintf("c-%d", enrollment), "enrollment", "created", testkit.PublishedGID, enrolled,
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
					g.bodies = append(g.bodies, testkit.Event(id, "lesson", "completed", testkit.PublishedGID, at, payload))
					s := step{Learner: learner, Course: course, Lesson: course*100000 + h.ID, At: at.UnixMilli(), Before: -1, After: -1}
					if p, ok := truth[h.ID]; ok {
						s.Before, s.After = before[p], after[p]
					}
					g.steps = append(g.steps, s)
					continue
				}
				g.bodies = append(g.bodies, testkit.Event(id, "enrollment", "progress", testkit.PublishedGID, at, map[string]any{
					"id": enrollment, "course": map[string]any{"id": course, "name": "Course"}, "course_id": course, "user": user,
					"percentage_completed": fmt.Sprintf("%.2f", after[h.ID])}))
				if _, paired := partnerOf[h.ID]; !paired {
					g.steps = append(g.steps, step{Learner: learner, Course: course, At: at.UnixMilli(), Before: before[h.ID], After: after[h.ID]})
				}
			}
		}
	}
	sortSteps(g.steps)
	return g
}

func sortSteps(s []step) {
	slices.SortFunc(s, func(a, b step) int {
		for _, d := range []int64{a.Learner - b.Learner, a.Course - b.Course, a.At - b.At, a.Lesson - b.Lesson} {
			if d != 0 {
				return int(max(-1, min(1, d)))
			}
		}
		return 0
	})
}

func steps(h *testkit.Harness, siteID int64) []step {
	h.T.Helper()
	var rows []struct {
		LearnerID, CourseID int64
		LessonID            *int64
		OccurredAt          time.Time
		PercentBefore       *float64
		PercentAfter        *float64
	}
	if err := h.DB.Gorm().Raw("SELECT learner_id, course_id, lesson_id, occurred_at, percent_before, percent_after FROM steps WHERE site_id = ?", siteID).Scan(&rows).Error; err != nil {
		h.T.Fatal(err)
	}
	out := make([]step, len(rows))
	for i, r := range rows {
		s := step{Learner: r.LearnerID, Course: r.CourseID, At: r.OccurredAt.UnixMilli(), Before: -1, After: -1}
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

// Pairing against a generated ground truth: shuffled order, duplicates, a fifth of the
// deliveries held back for hours, two workers applying while deliveries arrive. Every step
// must come out exact.
func TestPairingGroundTruth(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		testkit.DBKinds(t, func(t *testing.T, dbURL string) {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				h := testkit.New(t, dbURL)
				site := h.School()
				g := journeys(seed, 5, 2)
				r := rand.New(rand.NewPCG(seed, 99))
				order := r.Perm(len(g.bodies))
				var now, later [][]byte
				for _, i := range order {
					b := g.bodies[i]
					if r.IntN(5) == 0 {
						later = append(later, b)
					} else {
						now = append(now, b)
					}
					if r.IntN(10) == 0 { // Thinkific delivers some twice
						now = append(now, b)
					}
				}

				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for range 2 {
					w := progress.New(h.DB, progress.Config{Window: h.Cfg.PairingWindow, Grace: h.Cfg.UninstallGrace, Retention: h.Cfg.Retention, Poll: 5 * time.Millisecond}, h.Clock, slog.New(slog.DiscardHandler))
					wg.Go(func() { w.Run(ctx) })
				}
				send := func(bodies [][]byte) {
					var sw sync.WaitGroup
					ch := make(chan []byte)
					for range 8 {
						sw.Go(func() {
							for b := range ch {
								if code, resp := h.DeliverRetrying("school", b, testkit.ClientSecret); code != 200 {
									t.Errorf("%d %s", code, resp)
								}
							}
						})
					}
					for _, b := range bodies {
						ch <- b
					}
					close(ch)
					sw.Wait()
				}
				send(now)
				h.Clock.Advance(5 * time.Hour)
				send(later)
				cancel()
				wg.Wait()
				h.Drain()

				counts, _ := h.DB.InboxCount(context.Background(), site.ID)
				if len(counts) != 1 || counts["processed"] != int64(len(g.bodies)) {
					var errs []string
					h.DB.Gorm().Raw("SELECT DISTINCT last_error FROM inbox WHERE site_id = ? AND status <> 'processed'", site.ID).Scan(&errs)
					t.Fatalf("inbox %v, want all %d processed; errors: %q", counts, len(g.bodies), errs)
				}
				got := steps(h, site.ID)
				if !slices.Equal(got, g.steps) {
					var missing, extra []string
					for _, s := range g.steps {
						if !slices.Contains(got, s) && len(missing) < 10 {
							missing = append(missing, "missing "+s.String())
						}
					}
					for _, s := range got {
						if !slices.Contains(g.steps, s) && len(extra) < 10 {
							extra = append(extra, "extra   "+s.String())
						}
					}
					diff := append(missing, extra...)
					t.Fatalf("%d steps, want %d:\n%s", len(got), len(g.steps), strings.Join(diff, "\n"))
				}
				checkRollups(h, site.ID)
				t.Logf("%d deliveries, %d steps exact", len(now)+len(later), len(got))
			})
		})
	}
}

// Events apply by event time: a late older progress never overwrites a newer percentage.
func TestLateOlderEventDoesNotOverwrite(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		site := h.School()
		t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		h.Deliver("school", testkit.ProgressEvent("p2", testkit.PublishedGID, t0.Add(time.Minute), 7, 70, "40.0"), testkit.ClientSecret)
		h.Drain()
		h.Deliver("school", testkit.ProgressEvent("p1", testkit.PublishedGID, t0, 7, 70, "30.0"), testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM enrollments WHERE site_id = ? AND id = 770 AND percent = 40", site.ID); n != 1 {
			t.Fatal("the older event overwrote the percentage")
		}
		// The late step still takes its place in the timeline: 30 → 40 follows it.
		if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND percent_before = 30 AND percent_after = 40", site.ID); n != 1 {
			t.Fatal("the later step does not move from the late step's percentage")
		}
		// A real decrease (an admin removed a lesson) is newer, so it applies.
		h.Deliver("school", testkit.ProgressEvent("p3", testkit.PublishedGID, t0.Add(2*time.Minute), 7, 70, "35.0"), testkit.ClientSecret)
		h.Drain()
		if n := h.Count("SELECT COUNT(*) FROM steps WHERE site_id = ? AND lesson_id IS NULL AND percent_before = 40 AND percent_after = 35", site.ID); n != 1 {
			t.Fatal("the decrease is not a step of its own")
		}
	})
}
