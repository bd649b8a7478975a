package pairing

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every shuffle of a generated journey pairs exactly as the learner stepped.
func TestMatchJourneyTruth(t *testing.T) {
	windows := []time.Duration{20 * time.Millisecond, DefaultWindow, 10 * time.Second}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 3))
		steps := 1 + r.IntN(200)
		if seed < 2 {
			steps = []int{1, 200}[seed]
		}
		halves, truth := Journey(r, steps, t0)
		for _, w := range windows {
			for range 4 {
				r.Shuffle(len(halves), func(i, j int) { halves[i], halves[j] = halves[j], halves[i] })
				if got := Match(halves, w); !maps.Equal(got, truth) {
					t.Fatalf("seed %d, %d steps, window %v: %s", seed, steps, w, diff(got, truth))
				}
			}
		}
	}
}

// Dense random halves, where ties and near-ties abound: every order gives one
// answer, it is valid, and matching a cluster alone agrees with matching all.
func TestMatchOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		halves := randomHalves(r, 2+r.IntN(60), 3000)
		want := Match(halves, DefaultWindow)
		if err := check(halves, DefaultWindow, want); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for range 10 {
			r.Shuffle(len(halves), func(i, j int) { halves[i], halves[j] = halves[j], halves[i] })
			if got := Match(halves, DefaultWindow); !maps.Equal(got, want) {
				t.Fatalf("round %d: shuffled input: %s", round, diff(got, want))
			}
		}
		h := halves[r.IntN(len(halves))]
		c := Cluster(halves, h.ID, DefaultWindow)
		for l, p := range Match(c, DefaultWindow) {
			if want[l] != p {
				t.Fatalf("round %d: cluster of %d pairs %d–%d, all halves pair %d–%d", round, h.ID, l, p, l, want[l])
			}
		}
	}
}

// On inputs small enough to try every pairing, Match's score is the best.
func TestMatchOptimal(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	for round := range 3000 {
		halves := randomHalves(r, 1+r.IntN(9), 1500)
		got := Match(halves, DefaultWindow)
		if err := check(halves, DefaultWindow, got); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if g, b := scoreOf(halves, got), bruteForce(halves, DefaultWindow); g != b {
			t.Fatalf("round %d: %v: Match %v scores %v, best is %v", round, halves, got, g, b)
		}
	}
}

// Longer than one run: still valid, and exact away from the cuts.
func TestMatchLongCluster(t *testing.T) {
	halves := denseCluster(rand.New(rand.NewPCG(5, 5)), 3*maxRun)
	got := Match(halves, DefaultWindow)
	if err := check(halves, DefaultWindow, got); err != nil {
		t.Fatal(err)
	}
	if len(got) < len(halves)/2-3 {
		t.Fatalf("%d pairs of %d halves, want all but one per cut", len(got), len(halves))
	}
}

func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 1, 0, 15, 0}, int16(500))
	f.Add([]byte{1, 0, 10, 0, 0, 0, 50, 0, 0, 0, 0, 0, 1, 0, 55, 0}, int16(500))
	f.Add([]byte{2, 1, 0, 200, 5, 1, 244, 0, 3, 0, 0, 0}, int16(0))
	f.Fuzz(func(t *testing.T, data []byte, windowMs int16) {
		window := time.Duration(windowMs) * time.Millisecond
		var halves []Half
		for i := 0; i+4 <= len(data) && len(halves) < 300; i += 4 {
			at := t0.Add(time.Duration(binary.LittleEndian.Uint16(data[i+1:])%4000) * time.Millisecond)
			if jitter := data[i+3]; jitter >= 128 {
				at = at.Add(time.Duration(jitter-128) * time.Microsecond)
			}
			halves = append(halves, Half{
				ID:           int64(i/4 + 1),
				Kind:         Kind(1 + data[i]&1),
				At:           at,
				EnrollmentID: int64(data[i] >> 1 & 3),
			})
		}
		got := Match(halves, window)
		if err := check(halves, window, got); err != nil {
			t.Fatal(err)
		}
		rev := slices.Clone(halves)
		slices.Reverse(rev)
		if other := Match(rev, window); !maps.Equal(other, got) {
			t.Fatalf("reversed input: %s", diff(other, got))
		}
		if len(halves) > 0 {
			rot := append(slices.Clone(halves[len(halves)/2:]), halves[:len(halves)/2]...)
			if other := Match(rot, window); !maps.Equal(other, got) {
				t.Fatalf("rotated input: %s", diff(other, got))
			}
		}
		if len(halves) <= 9 {
			if g, b := scoreOf(halves, got), bruteForce(halves, window); g != b {
				t.Fatalf("Match %v scores %v, best is %v", got, g, b)
			}
		}
	})
}

// check verifies the rules of a pairing without trusting Match's helpers.
// halves must have unique IDs.
func check(halves []Half, window time.Duration, pairs map[int64]int64) error {
	byID := make(map[int64]Half, len(halves))
	for _, h := range halves {
		byID[h.ID] = h
	}
	used := map[int64]bool{}
	var ls []Half
	for l, p := range pairs {
		lh, ok1 := byID[l]
		ph, ok2 := byID[p]
		switch {
		case !ok1 || !ok2 || lh.Kind != Lesson || ph.Kind != Progress:
			return fmt.Errorf("pair %d–%d is not lesson–progress", l, p)
		case used[p]:
			return fmt.Errorf("progress %d paired twice", p)
		case !allowed(lh, ph, window):
			return fmt.Errorf("pair %d–%d: Δt %v or enrollments %d/%d not allowed",
				l, p, ph.At.Sub(lh.At), lh.EnrollmentID, ph.EnrollmentID)
		}
		used[p] = true
		ls = append(ls, lh)
	}
	order := func(a, b Half) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(ls, order)
	for i := 1; i < len(ls); i++ {
		if order(byID[pairs[ls[i-1].ID]], byID[pairs[ls[i].ID]]) > 0 {
			return fmt.Errorf("pairs %d–%d and %d–%d cross", ls[i-1].ID, pairs[ls[i-1].ID], ls[i].ID, pairs[ls[i].ID])
		}
	}
	return nil
}

func allowed(l, p Half, window time.Duration) bool {
	d := p.At.Sub(l.At)
	known := l.EnrollmentID != 0 && p.EnrollmentID != 0
	return -window <= d && d <= window && (!known || l.EnrollmentID == p.EnrollmentID)
}

type rank struct {
	pairs int
	cost  time.Duration
}

func scoreOf(halves []Half, pairs map[int64]int64) rank {
	at := map[int64]time.Time{}
	for _, h := range halves {
		at[h.ID] = h.At
	}
	s := rank{pairs: len(pairs)}
	for l, p := range pairs {
		s.cost += max(at[p].Sub(at[l]), at[l].Sub(at[p]))
	}
	return s
}

// bruteForce tries every one-to-one assignment and keeps the best valid one.
func bruteForce(halves []Half, window time.Duration) rank {
	var ls, ps []Half
	for _, h := range halves {
		if h.Kind == Lesson {
			ls = append(ls, h)
		} else {
			ps = append(ps, h)
		}
	}
	best := rank{}
	pairs := map[int64]int64{}
	used := make([]bool, len(ps))
	var try func(i int)
	try = func(i int) {
		if i == len(ls) {
			s := scoreOf(halves, pairs)
			if (s.pairs > best.pairs || s.pairs == best.pairs && s.cost < best.cost) && check(halves, window, pairs) == nil {
				best = s
			}
			return
		}
		try(i + 1)
		for j, p := range ps {
			if !used[j] && allowed(ls[i], p, window) {
				used[j], pairs[ls[i].ID] = true, p.ID
				try(i + 1)
				used[j] = false
				delete(pairs, ls[i].ID)
			}
		}
	}
	try(0)
	return best
}

// randomHalves scatters n halves over spanMs with few enrollment ids, so that
// equal times, window edges and enrollment conflicts all come up.
func randomHalves(r *rand.Rand, n, spanMs int) []Half {
	halves := make([]Half, n)
	for i := range halves {
		ms := r.IntN(spanMs)
		if r.IntN(4) == 0 {
			ms = ms / 100 * 100 // collide on round times, 500 ms apart included
		}
		halves[i] = Half{
			ID:           int64(r.IntN(1000)*1000 + i),
			Kind:         Kind(1 + r.IntN(2)),
			At:           t0.Add(time.Duration(ms) * time.Millisecond),
			EnrollmentID: int64(r.IntN(3)),
		}
	}
	return halves
}

// denseCluster is n halves in one chained cluster: lessons 50–400 ms apart,
// each with a progress half within ±20 ms.
func denseCluster(r *rand.Rand, n int) []Half {
	halves := make([]Half, 0, n)
	at := t0
	for i := 0; len(halves) < n; i++ {
		at = at.Add(time.Duration(50+r.IntN(351)) * time.Millisecond)
		halves = append(halves, Half{ID: int64(2 * i), Kind: Lesson, At: at})
		d := time.Duration(r.IntN(41)-20) * time.Millisecond
		halves = append(halves, Half{ID: int64(2*i + 1), Kind: Progress, At: at.Add(d)})
	}
	return halves[:n]
}

func diff(got, want map[int64]int64) string {
	var out []string
	for l, p := range want {
		if q, ok := got[l]; !ok || q != p {
			out = append(out, fmt.Sprintf("lesson %d: got %d want %d", l, q, p))
		}
	}
	for l, p := range got {
		if _, ok := want[l]; !ok {
			out = append(out, fmt.Sprintf("lesson %d: got %d want unpaired", l, p))
		}
	}
	slices.Sort(out)
	return fmt.Sprint(len(out), " differences: ", out)
}
