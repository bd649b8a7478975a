package progress

import (
	"maps"
	"time"

	"github.com/strideapp/stride/app/pairing"
	"github.com/strideapp/stride/app/store"
)

// addHalf stores one half of a learner step, settles the percentages it moved between, and
// re-pairs the halves around it. A half already stored (a replay) changes nothing. settled
// says the caller already knows where a progress half moved from and that none follows it.
func (w *Worker) addHalf(s *store.SiteTx, j *job, h *store.Half, settled bool, imported *snapshot) error {
	// A half that needs nothing looked up is inserted with the batch's others.
	if h.Kind == store.HalfLesson || settled {
		_, err := s.AddHalf(h, true)
		return err
	}
	var next *store.Half
	if h.Kind == store.HalfProgress && !settled {
		var err error
		if next, err = w.settleBefore(s, h, imported); err != nil {
			return err
		}
	}
	inserted, err := s.AddHalf(h, false)
	if err != nil || !inserted {
		return err
	}
	// Events arrive in any order: the step right after this one moved from this one.
	if next != nil && !next.BeforeGiven {
		if err := s.SetPercentBefore(next.ID, h.PercentAfter); err != nil {
			return err
		}
	}
	j.added = append(j.added, h) // the batch re-pairs each journey once, at its end
	return nil
}

// snapshot is an enrollment's percentage as Thinkific's REST API read it, as of a time.
type snapshot struct {
	percent float64
	asOf    time.Time
}

// settleBefore sets where a progress step moved from — the latest thing known before it:
// the previous progress step by event time, or the import's reading when that is newer, or
// 0 when the enrollment began before it and nothing else is known — and returns the
// progress step after it. A reading that already shows this step's percentage was taken
// after the step: the step moved from the progress before it, or from an unknown point.
func (w *Worker) settleBefore(s *store.SiteTx, h *store.Half, imported *snapshot) (next *store.Half, err error) {
	if !h.BeforeGiven {
		prev, err := s.NeighbourProgress(h.LearnerID, h.CourseID, h.OccurredAt, 0, false)
		if err != nil {
			return nil, err
		}
		read := imported != nil && !imported.asOf.After(h.OccurredAt) && (prev == nil || imported.asOf.After(prev.OccurredAt))
		switch {
		case read && imported.percent != *h.PercentAfter:
			v := imported.percent
			h.PercentBefore = &v
		case prev != nil:
			h.PercentBefore = prev.PercentAfter
		case read:
			// Moved from somewhere below the reading, before the import: unknown.
		default:
			if ok, err := s.EnrolledBefore(h.LearnerID, h.CourseID, h.OccurredAt); err != nil {
				return nil, err
			} else if ok {
				zero := 0.0
				h.PercentBefore = &zero
			}
		}
	}
	return s.NeighbourProgress(h.LearnerID, h.CourseID, h.OccurredAt, 0, true)
}

// settleFirstStep gives the learner's first progress step in the course its "from" of 0
// when the enrollment arrives after it: events come in any order. It runs once the batch's
// halves are stored, so it sees them all.
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

// rematch pairs the clusters that the new halves hs (all of one learner in one course)
// belong to: the runs of the learner's halves in the course that lie within the window of
// each other. Pairing is a function of such a set alone, so the order events arrive in does
// not matter, and a late half re-pairs its neighbours.
func (w *Worker) rematch(s *store.SiteTx, hs ...*store.Half) error {
	lo, hi := span(hs)
	reach := max(20*w.cfg.Window, 10*time.Second)
	for {
		rows, err := s.Halves(hs[0].LearnerID, hs[0].CourseID, lo.Add(-reach), hi.Add(reach))
		if err != nil {
			return err
		}
		clusters, edge := w.clusters(rows, hs, lo.Add(-reach), hi.Add(reach))
		if !edge || reach > 48*time.Hour {
			return s.SetPartners(w.changes(rows, clusters))
		}
		reach *= 4 // a cluster reaching the edge of what was read may go on beyond it
	}
}

// clusters returns the clusters of rows (read between from and to) that hold the halves hs,
// and whether one touches the edge of what was read.
func (w *Worker) clusters(rows []store.Half, hs []*store.Half, from, to time.Time) ([][]pairing.Half, bool) {
	all := toPairing(rows)
	var out [][]pairing.Half
	seen := map[int64]bool{}
	edge := false
	for _, h := range hs {
		if seen[h.ID] {
			continue
		}
		c := pairing.Cluster(all, h.ID, w.cfg.Window)
		if len(c) == 0 {
			edge = true // not read at all: read again, wider
			continue
		}
		for _, x := range c {
			seen[x.ID] = true
		}
		out = append(out, c)
		edge = edge || c[0].At.Sub(from) <= w.cfg.Window || to.Sub(c[len(c)-1].At) <= w.cfg.Window
	}
	return out, edge
}

// changes matches each cluster and returns the partner links that differ from what rows hold.
func (w *Worker) changes(rows []store.Half, clusters [][]pairing.Half) map[int64]*int64 {
	byID := make(map[int64]*store.Half, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	changes := map[int64]*int64{}
	for _, cluster := range clusters {
		matched := pairing.Match(cluster, w.cfg.Window)
		want := make(map[int64]int64, 2*len(matched))
		for l, p := range matched {
			want[l], want[p] = p, l
		}
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
	}
	return changes
}

// rematchBatch re-pairs every half a batch added, once per learner journey: per site, one
// query reads the halves around each journey's new ones and one statement writes the new
// links. A journey whose cluster reaches past what was read is re-paired on its own.
func (w *Worker) rematchBatch(tx *store.WorkTx, added []*store.Half) error {
	type journey struct{ learner, course int64 }
	bySite := map[int64]map[journey][]*store.Half{}
	for _, h := range added {
		if bySite[h.SiteID] == nil {
			bySite[h.SiteID] = map[journey][]*store.Half{}
		}
		k := journey{h.LearnerID, h.CourseID}
		bySite[h.SiteID][k] = append(bySite[h.SiteID][k], h)
	}
	reach := max(20*w.cfg.Window, 10*time.Second)
	for site, journeys := range bySite {
		s := tx.Site(site)
		reads := make([]store.Journey, 0, len(journeys))
		for k, hs := range journeys {
			lo, hi := span(hs)
			reads = append(reads, store.Journey{LearnerID: k.learner, CourseID: k.course, From: lo.Add(-reach), To: hi.Add(reach)})
		}
		rows, err := s.JourneysHalves(reads)
		if err != nil {
			return err
		}
		of := map[journey][]store.Half{}
		for _, r := range rows {
			k := journey{r.LearnerID, r.CourseID}
			of[k] = append(of[k], r)
		}
		changes := map[int64]*int64{}
		for k, hs := range journeys {
			lo, hi := span(hs)
			clusters, edge := w.clusters(of[k], hs, lo.Add(-reach), hi.Add(reach))
			if edge {
				if err := w.rematch(s, hs...); err != nil {
					return err
				}
				continue
			}
			maps.Copy(changes, w.changes(of[k], clusters))
		}
		if err := s.SetPartners(changes); err != nil {
			return err
		}
	}
	return nil
}

func span(hs []*store.Half) (lo, hi time.Time) {
	lo, hi = hs[0].OccurredAt, hs[0].OccurredAt
	for _, h := range hs[1:] {
		lo, hi = minTime(lo, h.OccurredAt), maxTime(hi, h.OccurredAt)
	}
	return lo, hi
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
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
