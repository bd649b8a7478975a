package progress

import (
	"time"

	"github.com/strideapp/stride/app/store"
)

// stepWaits is, for each event of a committed batch that stored a learner step's half, how
// long it waited from its receipt to now: when its step became visible, paired if its
// other half was in.
func stepWaits(jobs []*job, halves []*store.Half, now time.Time) []time.Duration {
	type key struct {
		site  int64
		event string
	}
	stored := make(map[key]bool, len(halves))
	for _, h := range halves {
		stored[key{h.SiteID, h.EventID}] = true
	}
	var out []time.Duration
	for _, j := range jobs {
		if stored[key{j.row.SiteID, j.row.EventID}] {
			out = append(out, now.Sub(j.row.ReceivedAt))
		}
	}
	return out
}
