package pairing

import (
	"math/rand/v2"
	"time"
)

// Journey generates one learner's walk through one course with its known
// pairing, for property tests here and integration tests elsewhere (replay the
// halves as webhooks in any order, then compare the stored pairing to truth).
// It lives outside _test.go files so other packages' tests can import it.
//
// There are steps lessons. Most have a progress half within ±20 ms (a quarter
// exactly at the lesson's time); lessons are 50–400 ms apart in bursts, and
// bursts are 1–48 hours apart. A burst may also hold lessons whose progress
// half never came, or lone progress halves (an admin removed a lesson) at
// least 100 ms from any lesson, but never both: a lone lesson and a lone
// progress half in one burst could be paired through a chain of shifted pairs,
// and no matcher could know they should not be. Every half has the journey's
// one enrollment id or 0, at random. IDs are unique, in no relation to time.
//
// truth maps lesson ID → progress ID. It is the only best pairing for every
// window from 20 ms up to an hour, PAIRING_WINDOW's default among them: each progress
// half is at most 20 ms from its own lesson and at least 30 ms from any other.
func Journey(r *rand.Rand, steps int, start time.Time) (halves []Half, truth map[int64]int64) {
	const (
		none = iota
		loneLessons
		loneProgress
	)
	enrollment := 1 + r.Int64N(1<<40)
	add := func(k Kind, at time.Time) int {
		e := enrollment
		if r.IntN(3) == 0 {
			e = 0
		}
		halves = append(halves, Half{Kind: k, At: at, EnrollmentID: e})
		return len(halves) - 1
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo+1))) }

	var pairs [][2]int // indexes into halves until IDs are dealt
	t, lone, gap := start, r.IntN(3), between(50*time.Millisecond, 400*time.Millisecond)
	for s := range steps {
		if s > 0 {
			if r.IntN(20) == 0 {
				gap, lone = between(time.Hour, 48*time.Hour), r.IntN(3)
			}
			t = t.Add(gap)
		}
		gap = between(50*time.Millisecond, 400*time.Millisecond)
		l := add(Lesson, t)
		if lone == loneLessons && r.IntN(6) == 0 {
			continue
		}
		var delta time.Duration
		if r.IntN(4) != 0 {
			delta = between(-20*time.Millisecond, 20*time.Millisecond)
		}
		pairs = append(pairs, [2]int{l, add(Progress, t.Add(delta))})
		if lone == loneProgress && r.IntN(6) == 0 {
			t = t.Add(between(100*time.Millisecond, 300*time.Millisecond))
			add(Progress, t)
			gap = between(100*time.Millisecond, 400*time.Millisecond)
		}
	}

	for i, id := range r.Perm(len(halves)) {
		halves[i].ID = 1000 + int64(id)
	}
	truth = make(map[int64]int64, len(pairs))
	for _, p := range pairs {
		truth[halves[p[0]].ID] = halves[p[1]].ID
	}
	return halves, truth
}
