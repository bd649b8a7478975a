package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strideapp/stride/app/internal/testclock"
	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// twoProcesses runs fn with two stores on one fresh database, as two Stride processes
// sharing it would be, both on clock: PostgreSQL, then an SQLite file.
func twoProcesses(t *testing.T, fn func(t *testing.T, clock *testclock.Clock, a, b *store.DB)) {
	t.Run("postgres", func(t *testing.T) {
		clock, url := testclock.At(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), testdb.Postgres(t)
		fn(t, clock, openDBAt(t, url, "", clock), openDBAt(t, url, "", clock))
	})
	t.Run("sqlite", func(t *testing.T) {
		clock, dir := testclock.At(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), t.TempDir()
		fn(t, clock, openDBAt(t, "", dir, clock), openDBAt(t, "", dir, clock))
	})
}

// eventually waits until cond holds, then a little longer to see that it still does: a
// take that should still be waiting must not slip through just after.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if !cond() {
		t.Fatalf("%s: no longer after 100 ms", what)
	}
}

// Two processes taking from one site's budget at once never send more than the limit in
// any window: the takes beyond it wait, and go when the oldest leave the window (61 s).
// Another site's budget is its own.
func TestAPIBudgetSharedAcrossProcesses(t *testing.T) {
	const limit, perProcess = 4, 6
	twoProcesses(t, func(t *testing.T, clock *testclock.Clock, a, b *store.DB) {
		ctx := context.Background()
		site, other := install(t, a, "acme", "gid-acme", "tok-a").ID, install(t, a, "other", "gid-other", "tok-o").ID
		start := clock.Now()

		var mu sync.Mutex
		var taken []time.Duration // when each take went, from start
		done := func() int { mu.Lock(); defer mu.Unlock(); return len(taken) }
		var wg sync.WaitGroup
		for _, db := range []*store.DB{a, b} {
			budget := db.APIBudget(limit)
			budget.SetPoll(5 * time.Millisecond)
			for range perProcess {
				wg.Go(func() {
					if err := budget.Take(ctx, site); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					taken = append(taken, clock.Now().Sub(start))
					mu.Unlock()
				})
			}
		}
		steps := []struct {
			at   time.Duration // the clock, from start
			want int           // takes gone by then
		}{
			{0, limit},
			{30 * time.Second, limit},
			{61*time.Second - time.Millisecond, limit}, // the first are still in the window
			{61 * time.Second, 2 * limit},              // now they have left it
			{100 * time.Second, 2 * limit},
			{122 * time.Second, 3 * limit},
		}
		for _, s := range steps {
			clock.Advance(start.Add(s.at).Sub(clock.Now()))
			eventually(t, "takes at "+s.at.String(), func() bool { return done() == s.want })
			octx, stop := context.WithTimeout(ctx, 5*time.Second)
			err := a.APIBudget(limit).Take(octx, other) // one a step: never the limit in a window
			stop()
			if err != nil {
				t.Fatalf("another site waited on this one's budget: %v", err)
			}
		}
		wg.Wait()

		// Whatever the schedule, no 61 s window holds more than the limit.
		slices.Sort(taken)
		for i := range taken {
			j := i
			for j < len(taken) && taken[j]-taken[i] < store.APIWindow {
				j++
			}
			if j-i > limit {
				t.Fatalf("%d takes within 61 s of %v: %v", j-i, taken[i], taken)
			}
		}
	})
}

// A 429's reset holds the site's takes in every process until it passes, one window at
// most however far ahead it lies; a shorter block does not shorten a longer one.
func TestAPIBudgetBlock(t *testing.T) {
	twoProcesses(t, func(t *testing.T, clock *testclock.Clock, a, b *store.DB) {
		ctx := context.Background()
		site := install(t, a, "acme", "gid-acme", "tok-a").ID
		cases := []struct {
			name   string
			blocks []time.Duration // Block(now + each), in order
			open   time.Duration   // when a take goes again, from now
		}{
			{"reset named", []time.Duration{30 * time.Second}, 30 * time.Second},
			{"reset too far ahead", []time.Duration{10 * time.Minute}, store.APIWindow},
			{"a shorter one after", []time.Duration{20 * time.Second, 5 * time.Second}, 20 * time.Second},
			{"already past", []time.Duration{-time.Second}, 0},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				clock.Advance(time.Hour) // clear of the previous case
				now := clock.Now()
				for _, d := range tc.blocks {
					if err := a.APIBudget(100).Block(ctx, site, now.Add(d)); err != nil {
						t.Fatal(err)
					}
				}
				budget := b.APIBudget(100)
				budget.SetPoll(5 * time.Millisecond)
				went := make(chan error, 1)
				go func() { went <- budget.Take(ctx, site) }()
				if tc.open > 0 {
					clock.Advance(tc.open - time.Millisecond)
					select {
					case err := <-went:
						t.Fatalf("take went before the block ended (%v)", err)
					case <-time.After(100 * time.Millisecond):
					}
					clock.Advance(time.Millisecond)
				}
				select {
				case err := <-went:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("take still waiting after the block ended")
				}
			})
		}
	})
}

// A take waiting for room stops as soon as its context ends, without waiting for its next
// look at the budget.
func TestAPIBudgetTakeStopsWithContext(t *testing.T) {
	twoProcesses(t, func(t *testing.T, clock *testclock.Clock, a, b *store.DB) {
		site := install(t, a, "acme", "gid-acme", "tok-a").ID
		if err := a.APIBudget(1).Take(context.Background(), site); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		began := time.Now()
		err := b.APIBudget(1).Take(ctx, site) // default poll: a second between looks
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if took := time.Since(began); took > 500*time.Millisecond {
			t.Fatalf("returned %v after the cancel", took-50*time.Millisecond)
		}
		// The cancelled take was not counted: once the first leaves the window, one more goes.
		clock.Advance(store.APIWindow)
		tctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		if err := a.APIBudget(1).Take(tctx, site); err != nil {
			t.Fatal(err)
		}
	})
}
