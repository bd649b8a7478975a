package stride

import "time"

// Clock tells the time. Tests inject one so that hours of retries take milliseconds.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// ClockSkew is how far Thinkific's clock and Stride's may disagree. An event stamped further
// ahead than this is not applied by its time (it would pin a learner's progress and make
// every later real event look old); an uninstall stamped up to this much before the install
// it follows still counts.
const ClockSkew = 5 * time.Minute
