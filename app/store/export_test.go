package store

import "time"

// SetPoll makes a waiting take look again after at most d: tests move their clock in steps
// and should not wait a second to see it.
func (b *APIBudget) SetPoll(d time.Duration) { b.poll = d }
