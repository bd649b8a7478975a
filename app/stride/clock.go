package stride

import "time"

// Clock tells the time. Tests inject one so that hours of retries take milliseconds.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }
