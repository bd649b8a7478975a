package server_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// TestDrainSpeed prints how fast one worker applies a backlog (set STRIDE_DRAIN_SPEED=1).
func TestDrainSpeed(t *testing.T) {
	if os.Getenv("STRIDE_DRAIN_SPEED") == "" {
		t.Skip("set STRIDE_DRAIN_SPEED=1 to measure")
	}
	dbKinds(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		h.school()
		g := journeys(7, 40, 3)
		ch := make(chan []byte)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for b := range ch {
					h.deliver("school", b, clientSecret)
				}
			})
		}
		for _, b := range g.bodies {
			ch <- b
		}
		close(ch)
		wg.Wait()
		start := time.Now()
		n, err := h.worker.Drain(context.Background())
		took := time.Since(start)
		fmt.Printf("%s: drained %d events in %v: %.0f events/s\n", t.Name(), n, took, float64(n)/took.Seconds())
		if err != nil {
			t.Fatal(err)
		}
	})
}
