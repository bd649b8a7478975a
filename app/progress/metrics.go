package progress

import "time"

// stepWaits is, for each event of a committed batch that stored a learner step's half, how
// long it waited from its receipt to now: when its step became visible, paired if its
// other half was in.
func stepWaits(jobs []*job, now time.Time) []time.Duration {
	var out []time.Duration
	for _, j := range jobs {
		if len(j.added) > 0 {
			out = append(out, now.Sub(j.row.ReceivedAt))
		}
	}
	return out
}
