// Package testclock is the tests' clock: time that a test moves forward, so that retry
// windows of hours and grace periods of weeks take milliseconds.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe to move while servers read it. The zero Clock follows real time plus what
// Advance added; At gives one that stands still.
type Clock struct {
	mu     sync.Mutex
	start  time.Time // zero: real time
	offset time.Duration
}

// At returns a clock stopped at t, moved only by Advance.
func At(t time.Time) *Clock { return &Clock{start: t} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
