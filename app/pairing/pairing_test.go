package pairing

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// DefaultWindow is the window Stride pairs with unless PAIRING_WINDOW says otherwise
// (config holds that default).
const DefaultWindow = 500 * time.Millisecond

func lesson(id int64, ms int, enrollment int64) Half {
	return Half{ID: id, Kind: Lesson, At: t0.Add(time.Duration(ms) * time.Millisecond), EnrollmentID: enrollment}
}

func progress(id int64, ms int, enrollment int64) Half {
	return Half{ID: id, Kind: Progress, At: t0.Add(time.Duration(ms) * time.Millisecond), EnrollmentID: enrollment}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration // DefaultWindow when 0
		halves []Half
		want   map[int64]int64
	}{
		{"one pair", 0, []Half{lesson(1, 0, 0), progress(2, 5, 0)}, map[int64]int64{1: 2}},
		{"same instant", 0, []Half{progress(2, 0, 0), lesson(1, 0, 0)}, map[int64]int64{1: 2}},
		{"progress before lesson", 0, []Half{lesson(1, 0, 0), progress(2, -40, 0)}, map[int64]int64{1: 2}},
		{"lone progress stays unpaired", 0, []Half{progress(2, 0, 7)}, map[int64]int64{}},
		{"lone lesson stays unpaired", 0, []Half{lesson(1, 0, 7)}, map[int64]int64{}},
		{"outside window", 0, []Half{lesson(1, 0, 0), progress(2, 501, 0)}, map[int64]int64{}},
		{"outside window before", 0, []Half{lesson(1, 0, 0), progress(2, -501, 0)}, map[int64]int64{}},
		{"exactly at window after", 0, []Half{lesson(1, 0, 0), progress(2, 500, 0)}, map[int64]int64{1: 2}},
		{"exactly at window before", 0, []Half{lesson(1, 0, 0), progress(2, -500, 0)}, map[int64]int64{1: 2}},
		{"custom window", 2 * time.Second, []Half{lesson(1, 0, 0), progress(2, 1500, 0)}, map[int64]int64{1: 2}},
		{"window one nanosecond short", 500*time.Millisecond - 1, []Half{lesson(1, 0, 0), progress(2, 500, 0)}, map[int64]int64{}},
		{"negative window pairs nothing", -time.Second, []Half{lesson(1, 0, 0), progress(2, 0, 0)}, map[int64]int64{}},
		{"enrollment mismatch", 0, []Half{lesson(1, 0, 7), progress(2, 5, 8)}, map[int64]int64{}},
		{"enrollment equal", 0, []Half{lesson(1, 0, 7), progress(2, 5, 7)}, map[int64]int64{1: 2}},
		{"lesson knows enrollment, progress does not", 0, []Half{lesson(1, 0, 7), progress(2, 5, 0)}, map[int64]int64{1: 2}},
		{"progress knows enrollment, lesson does not", 0, []Half{lesson(1, 0, 0), progress(2, 5, 7)}, map[int64]int64{1: 2}},
		{"nearest wins", 0, []Half{lesson(1, 0, 0), progress(2, 100, 0), progress(3, -10, 0)}, map[int64]int64{1: 3}},
		{"mismatched enrollment skipped for a farther match", 0,
			[]Half{lesson(1, 0, 7), progress(2, 5, 8), progress(3, 50, 7)}, map[int64]int64{1: 3}},
		{"two lessons, one progress", 0,
			[]Half{lesson(1, 0, 0), lesson(2, 300, 0), progress(3, 290, 0)}, map[int64]int64{2: 3}},
		{"two progress, one lesson", 0,
			[]Half{progress(1, 0, 0), lesson(2, 300, 0), progress(3, 290, 0)}, map[int64]int64{2: 3}},
		{"lessons 300 ms apart are not crossed", 0,
			[]Half{lesson(1, 0, 0), lesson(2, 300, 0), progress(3, 5, 0), progress(4, 290, 0)},
			map[int64]int64{1: 3, 2: 4}},
		{"more pairs beat nearer ones", 0,
			[]Half{lesson(1, 0, 0), progress(3, 300, 0), lesson(2, 350, 0), progress(4, 800, 0)},
			map[int64]int64{1: 3, 2: 4}},
		{"tie goes to the earlier progress", 0,
			[]Half{lesson(1, 0, 0), progress(2, 10, 0), progress(3, -10, 0)}, map[int64]int64{1: 3}},
		{"tie goes to the earlier lesson", 0,
			[]Half{lesson(1, 20, 0), lesson(2, 0, 0), progress(3, 10, 0)}, map[int64]int64{2: 3}},
		{"gap longer than window separates steps", 0,
			[]Half{lesson(1, 0, 0), progress(2, 3, 0), lesson(3, 3_600_000, 0), progress(4, 3_600_010, 0)},
			map[int64]int64{1: 2, 3: 4}},
		{"repeated id keeps its earliest half", 0,
			[]Half{lesson(1, 0, 0), progress(2, 400, 0), progress(2, 10, 0)}, map[int64]int64{1: 2}},
		{"nothing", 0, nil, map[int64]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			window := cmp.Or(tt.window, DefaultWindow)
			for p := range permutations(tt.halves) {
				got := Match(p, window)
				if !maps.Equal(got, tt.want) {
					t.Fatalf("Match(%v) = %v, want %v", ids(p), got, tt.want)
				}
			}
		})
	}
}

// Pairing each half on arrival with the nearest free partner crosses these;
// Match must not, whatever the arrival order.
func TestMatchArrivalOrderCannotCross(t *testing.T) {
	arrivals := []Half{progress(3, 10, 0), lesson(2, 50, 0), lesson(1, 0, 0), progress(4, 55, 0)}
	if got := greedyOnArrival(arrivals, DefaultWindow); maps.Equal(got, map[int64]int64{1: 3, 2: 4}) {
		t.Fatalf("greedy gave %v; the case no longer shows the crossing", got)
	}
	want := map[int64]int64{1: 3, 2: 4}
	for p := range permutations(arrivals) {
		if got := Match(p, DefaultWindow); !maps.Equal(got, want) {
			t.Fatalf("Match(%v) = %v, want %v", ids(p), got, want)
		}
	}
}

// greedyOnArrival is the naive way: on each arrival, take the nearest free
// partner within window.
func greedyOnArrival(arrivals []Half, window time.Duration) map[int64]int64 {
	pairs := map[int64]int64{}
	taken := map[int64]bool{}
	for i, h := range arrivals {
		best := -1
		for j, o := range arrivals[:i] {
			if o.Kind == h.Kind || taken[o.ID] || distance(o.At, h.At) > window {
				continue
			}
			if best < 0 || distance(o.At, h.At) < distance(arrivals[best].At, h.At) {
				best = j
			}
		}
		if best >= 0 {
			o := arrivals[best]
			taken[o.ID], taken[h.ID] = true, true
			if h.Kind == Lesson {
				pairs[h.ID] = o.ID
			} else {
				pairs[o.ID] = h.ID
			}
		}
	}
	return pairs
}

func TestCluster(t *testing.T) {
	halves := []Half{
		progress(5, 1900, 0), // 500 ms after 4: exactly the window, still chained
		lesson(1, 0, 0),
		progress(3, 800, 0),
		lesson(4, 1400, 0), // 600 ms after 3: a new cluster
		progress(2, 400, 0),
		lesson(6, 2401, 0), // 501 ms after 5
	}
	tests := []struct {
		id   int64
		want []int64
	}{
		{1, []int64{1, 2, 3}},
		{3, []int64{1, 2, 3}},
		{4, []int64{4, 5}},
		{5, []int64{4, 5}},
		{6, []int64{6}},
		{99, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.id), func(t *testing.T) {
			for p := range permutations(halves) {
				if got := ids(Cluster(p, tt.id, DefaultWindow)); !slices.Equal(got, tt.want) {
					t.Fatalf("Cluster(%v, %d) = %v, want %v", ids(p), tt.id, got, tt.want)
				}
			}
		})
	}
}

// The whole chain is one cluster even though its ends are far apart.
func TestClusterChains(t *testing.T) {
	var halves []Half
	for i := range 100 {
		halves = append(halves, lesson(int64(i), i*450, 0))
	}
	halves = append(halves, progress(1000, 99*450+501, 0))
	if got := Cluster(halves, 50, DefaultWindow); len(got) != 100 {
		t.Fatalf("cluster has %d halves, want the 100-lesson chain", len(got))
	}
	if got := ids(Cluster(halves, 1000, DefaultWindow)); !slices.Equal(got, []int64{1000}) {
		t.Fatalf("Cluster = %v, want [1000]", got)
	}
}

func ids(halves []Half) []int64 {
	out := make([]int64, len(halves))
	for i, h := range halves {
		out[i] = h.ID
	}
	return out
}

// permutations yields every order of s (Heap's algorithm) into one reused slice.
func permutations(s []Half) func(yield func([]Half) bool) {
	return func(yield func([]Half) bool) {
		p := slices.Clone(s)
		c := make([]int, len(p))
		if !yield(p) {
			return
		}
		for i := 0; i < len(p); {
			if c[i] < i {
				if i%2 == 0 {
					p[0], p[i] = p[i], p[0]
				} else {
					p[c[i]], p[i] = p[i], p[c[i]]
				}
				if !yield(p) {
					return
				}
				c[i]++
				i = 0
			} else {
				c[i] = 0
				i++
			}
		}
	}
}
