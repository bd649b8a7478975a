//go:build fault

package faulttest

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/stride"
)

// Stride as partners run it on Heroku: two web processes (each with its worker in-process)
// and a worker process on one PostgreSQL. A generated site history is delivered over both
// web processes, shuffled, some deliveries twice to different processes, some halves of a
// learner step seconds after their partner. Mid-run one web process is killed with SIGKILL
// (its deliveries are sent again to the other, as Thinkific retries) and the worker process
// is restarted. In the end every delivery is stored and applied once, every learner step is
// the ground truth's, and every rollup recounts exactly.
func TestFleet(t *testing.T) {
	pg := startPostgres(t)
	webs := []*server{newServer(t, strideBin, pg), newServer(t, strideBin, pg)}
	worker := newProcess(t, strideBin, []string{"worker"}, "", webs[0].env)
	webs[0].migrate()
	s := installSites(t, pg, 1)[0]
	for _, p := range append(webs, worker) {
		p.start()
	}
	rt := newRouter(webs[0].URL, webs[1].URL)

	// The plan: every event once, to either process; one in eight again, to the other; one
	// in six held back and sent after all the others.
	type delivery struct {
		ev *event
		to int
	}
	const seed = 11
	g := testkit.Journeys(seed, s.GID, 10, 3)
	r := rand.New(rand.NewPCG(seed, 2))
	var now, later []delivery
	lateHalves := map[string]int{}
	duplicates := 0
	for _, body := range g.Bodies {
		d := delivery{eventOf(t, s, body), r.IntN(2)}
		if d.ev.Topic != stride.TopicEnrollmentCreated && r.IntN(6) == 0 {
			later = append(later, d)
			lateHalves[d.ev.Topic]++
		} else {
			now = append(now, d)
		}
		if r.IntN(8) == 0 {
			now = append(now, delivery{d.ev, 1 - d.to})
			duplicates++
		}
	}
	r.Shuffle(len(now), func(i, j int) { now[i], now[j] = now[j], now[i] })
	r.Shuffle(len(later), func(i, j int) { later[i], later[j] = later[j], later[i] })
	if lateHalves[stride.TopicLessonCompleted] == 0 || lateHalves[stride.TopicEnrollmentProgress] == 0 {
		t.Fatalf("late halves %v: want both kinds", lateHalves)
	}

	// send delivers ds from 8 senders in the background; reached(i) is closed once the i-th
	// is handed to a sender, and done once all are answered.
	send := func(ds []delivery) (reached func(i int) <-chan struct{}, done <-chan struct{}) {
		marks := make([]chan struct{}, len(ds)+1)
		for i := range marks {
			marks[i] = make(chan struct{})
		}
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			ch := make(chan delivery)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for d := range ch {
						rt.send(d.ev, d.to)
					}
				})
			}
			for i, d := range ds {
				close(marks[i])
				ch <- d
			}
			close(ch)
			wg.Wait()
		}()
		return func(i int) <-chan struct{} { return marks[i] }, finished
	}
	start := time.Now()
	reached, done := send(now)
	<-reached(len(now) * 3 / 10) // a crashed web dyno, restarted a second later
	killedAt := time.Now()
	webs[0].kill()
	time.Sleep(time.Second)
	webs[0].start()
	downFor := time.Since(killedAt)
	<-reached(len(now) * 6 / 10) // the worker dyno restarted
	restartedAt := time.Now()
	workerExit := worker.stop()
	worker.start()
	<-done
	time.Sleep(3 * time.Second) // the late halves come well after their partners
	_, done = send(later)
	<-done
	loadEnded := time.Now()
	took, c := rt.checkAll(t, pg)
	db := openStore(t, pg)
	defer db.Close()
	steps := testkit.CheckSteps(t, db, s.ID, g.Steps)
	testkit.CheckRollups(t, db, s.ID)

	t.Logf("fleet: 2 × stride serve + 1 × stride worker on one PostgreSQL; %d events of 30 journeys (10 learners × 3 courses, one site), %d deliveries (%d sent twice to different processes, %d late halves: %v)",
		len(g.Bodies), len(now)+len(later), duplicates, len(later), lateHalves)
	t.Logf("fleet: %v; %d retries", c, rt.retries.Load())
	t.Logf("fleet: restarts: web 1 SIGKILL at +%v, healthy again %v later; worker SIGTERM at +%v, exited in %v",
		killedAt.Sub(start).Round(time.Millisecond), downFor.Round(time.Millisecond),
		restartedAt.Sub(start).Round(time.Millisecond), workerExit.Round(time.Millisecond))
	t.Logf("fleet: load sent in %v; inbox drained %v after the load ended; %d steps exactly the ground truth, rollups recount exactly",
		loadEnded.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond), len(steps))
	for _, p := range append(webs, worker) {
		p.stop()
	}
}
