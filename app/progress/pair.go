package progress

import (
	"time"

	"github.com/strideapp/stride/app/pairing"
	"github.com/strideapp/stride/app/store"
)

// addHalf stores one half of a learner step, settles the percentages it moved between, and
// re-pairs the halves around it. A half already stored (a replay) changes nothing. settled
// says the caller already knows where a progress half moved from and that none follows it.
func (w *Worker) addHalf(s *store.SiteTx, h *store.Half, settled bool) error {
	var next *store.Half
	if h.Kind == store.HalfProgress && !settled {
		var err error
		if next, err = w.settleBefore(s, h); err != nil {
			return err
		}
	}
	inserted, err := s.AddHalf(h)
	if err != nil || !inserted {
		return err
	}
	// Events arrive in any order: the step right after this one moved from this one.
	if next != nil && !next.BeforeGiven {
		if err := s.SetPercentBefore(next.ID, h.PercentAfter); err != nil {
			return err
		}
	}
	return w.rematch(s, h)
}

// settleBefore sets where a progress step moved from — the previous progress by event time,
// or 0 when the enrollment began before it — and returns the progress step after it.
func (w *Worker) settleBefore(s *store.SiteTx, h *store.Half) (next *store.Half, err error) {
	if !h.BeforeGiven {
		prev, err := s.NeighbourProgress(h.LearnerID, h.CourseID, h.OccurredAt, 0, false)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			h.PercentBefore = prev.PercentAfter
		} else if ok, err := s.EnrolledBefore(h.LearnerID, h.CourseID, h.OccurredAt); err != nil {
			return nil, err
		} else if ok {
			zero := 0.0
			h.PercentBefore = &zero
		}
	}
	return s.NeighbourProgress(h.LearnerID, h.CourseID, h.OccurredAt, 0, true)
}

// settleFirstStep gives the learner's first progress step in the course its "from" of 0
// when the enrollment arrives after it: events come in any order.
func (w *Worker) settleFirstStep(s *store.SiteTx, learner, course int64, enrolledAt time.Time) error {
	first, err := s.NeighbourProgress(learner, course, enrolledAt.Add(-time.Millisecond), 0, true)
	if err != nil || first == nil || first.BeforeGiven || first.PercentBefore != nil {
		return err
	}
	if prev, err := s.NeighbourProgress(learner, course, first.OccurredAt, first.ID, false); err != nil || prev != nil {
		return err
	}
	zero := 0.0
	return s.SetPercentBefore(first.ID, &zero)
}

// rematch pairs the cluster of halves h belongs to: the run of the learner's halves in the
// course that lie within the window of each other. Pairing is a function of that set alone,
// so the order events arrive in does not matter, and a late half re-pairs its neighbours.
func (w *Worker) rematch(s *store.SiteTx, h *store.Half) error {
	window := w.cfg.Window
	span := max(20*window, 10*time.Second)
	var rows []store.Half
	var cluster []pairing.Half
	for {
		var err error
		rows, err = s.Halves(h.LearnerID, h.CourseID, h.OccurredAt.Add(-span), h.OccurredAt.Add(span))
		if err != nil {
			return err
		}
		cluster = pairing.Cluster(toPairing(rows), h.ID, window)
		first, last := cluster[0].At, cluster[len(cluster)-1].At
		// A cluster reaching the edge of what was read may go on beyond it: read more.
		if (first.Sub(h.OccurredAt.Add(-span)) > window && h.OccurredAt.Add(span).Sub(last) > window) || span > 48*time.Hour {
			break
		}
		span *= 4
	}
	matched := pairing.Match(cluster, window)
	want := make(map[int64]int64, 2*len(matched))
	for l, p := range matched {
		want[l], want[p] = p, l
	}
	byID := make(map[int64]*store.Half, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	changes := map[int64]*int64{}
	for _, c := range cluster {
		cur := byID[c.ID].PartnerID
		partner, ok := want[c.ID]
		switch {
		case ok && (cur == nil || *cur != partner):
			changes[c.ID] = &partner
		case !ok && cur != nil:
			changes[c.ID] = nil
		}
	}
	return s.SetPartners(changes)
}

func toPairing(rows []store.Half) []pairing.Half {
	out := make([]pairing.Half, len(rows))
	for i, r := range rows {
		kind := pairing.Lesson
		if r.Kind == store.HalfProgress {
			kind = pairing.Progress
		}
		var enrollment int64
		if r.EnrollmentID != nil {
			enrollment = *r.EnrollmentID
		}
		out[i] = pairing.Half{ID: r.ID, Kind: kind, At: r.OccurredAt, EnrollmentID: enrollment}
	}
	return out
}
