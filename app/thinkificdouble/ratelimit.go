package thinkificdouble

import (
	"slices"
	"sort"
	"time"
)

// rateWindow is the span Thinkific's per-site limit counts over.
const rateWindow = time.Minute

// overLimit records an API request of the site at now and reports whether the requests of
// the 60 s ending now, this one and refused ones included, exceed limit. When they do,
// reset is the whole seconds until a request would fit again. The window slides: any 60 s
// counts, not calendar minutes. Callers hold d.mu.
func (s *Site) overLimit(now time.Time, limit int) (over bool, reset int) {
	s.apiTimes = append(s.apiTimes, now)
	if limit < 0 {
		return false, 0
	}
	first := sort.Search(len(s.apiTimes), func(i int) bool { return now.Sub(s.apiTimes[i]) < rateWindow })
	recent := s.apiTimes[first:]
	if len(recent) <= limit {
		return false, 0
	}
	// A request fits once all but limit-1 of the recent ones have left the window.
	left := recent[len(recent)-limit].Add(rateWindow).Sub(now)
	return true, max(1, int((left+time.Second-1)/time.Second))
}

// APIRequestTimes returns when each API request authenticated as the site arrived, on
// both the Webhooks and the REST API, refused ones included.
func (s *Site) APIRequestTimes() []time.Time {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return append([]time.Time(nil), s.apiTimes...)
}

// MaxInAnyWindow is the most API requests of the site that fell within any span of length
// window, e.g. to check that a client never went over 120 in 60 s.
func (s *Site) MaxInAnyWindow(window time.Duration) int {
	times := s.APIRequestTimes()
	slices.SortFunc(times, time.Time.Compare) // a clock set back must not hide a burst
	most, first := 0, 0
	for last, t := range times {
		for t.Sub(times[first]) >= window {
			first++
		}
		most = max(most, last-first+1)
	}
	return most
}
