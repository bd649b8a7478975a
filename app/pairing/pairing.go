// Package pairing joins the two halves of a learner step. Thinkific sends
// lesson.completed (which lesson) and enrollment.progress (the new percentage)
// for one step with no shared key, so they are paired by event time.
//
// The pairing is a pure function of the set of halves: halves arrive in any
// order, some hours late, and re-matching after each arrival must give the
// same answer as matching everything at once.
//
// The words, used the same way everywhere in Stride:
//   - a learner step: one lesson a learner completed and the percentage it moved
//     them from and to; Thinkific reports it as two events;
//   - a half: one of those two events as stored (a learner_events row): the
//     lesson half (lesson.completed) or the progress half (enrollment.progress);
//   - partners: the two halves of one step, once paired; a half without a
//     partner is still shown, as what it is;
//   - a journey: one learner's halves in one course; halves of two journeys are
//     never partners;
//   - a cluster: a run of a journey's halves, each within the window of the
//     next; halves of two clusters are never partners, so each cluster is
//     matched on its own;
//   - the window: how far apart in event time two partners may be
//     (PAIRING_WINDOW).
package pairing

import (
	"cmp"
	"slices"
	"time"
)

// Kind says which webhook a half came from.
type Kind uint8

const (
	Lesson   Kind = iota + 1 // lesson.completed
	Progress                 // enrollment.progress
)

// Half is one half of a learner step, of one learner in one course.
type Half struct {
	ID           int64 // unique across both kinds, stable (a database id)
	Kind         Kind
	At           time.Time // event time
	EnrollmentID int64     // 0 when the event does not say
}

// maxRun bounds one alignment: its traceback holds about (maxRun/2)² bytes at most
// (4 MiB). A longer cluster is cut into runs of maxRun halves; only pairs
// across a cut can be lost, and reaching it takes a learner finishing a step
// every half second for a quarter of an hour without a pause.
const maxRun = 4096

// Match pairs lesson halves with progress halves and returns lesson ID →
// progress ID. A pairing is valid when it is one-to-one, non-crossing in time
// (if lesson a is before lesson b, a's partner is before b's partner), each
// pair is within window (|Δt| <= window) and enrollment ids are equal when both
// halves know theirs. Match returns the valid pairing with the most pairs, then
// the least total |Δt|. Ties are broken by a fixed preference for pairing
// earlier halves, in the order (At, ID), so the result depends only on the set
// of halves, never on their order in the slice. A repeated ID keeps its
// earliest half; halves of any other Kind are ignored.
//
// Cost: O(n log n) to sort, then O(n·k) time and memory, where k is the number
// of progress halves within ±window of a lesson (a handful for real learners;
// at most maxRun/2).
func Match(halves []Half, window time.Duration) map[int64]int64 {
	pairs := make(map[int64]int64)
	if window < 0 {
		return pairs
	}
	sorted := canonical(halves)
	for _, c := range clusters(sorted, window) {
		// Runs are cut from the start of their cluster, so matching a cluster
		// alone (as Stride does via Cluster) gives the same pairs.
		for len(c) > 0 {
			n := min(len(c), maxRun)
			align(c[:n], window, pairs)
			c = c[n:]
		}
	}
	return pairs
}

// Cluster returns, in time order, the halves that can influence the pairing of
// the half with the given id: the maximal run in which consecutive halves are
// at most window apart, containing it. No pair can span a gap longer than the
// window, so Match of the cluster pairs its halves as Match of all halves
// does. It returns nil when id is not among halves.
func Cluster(halves []Half, id int64, window time.Duration) []Half {
	sorted := canonical(halves)
	for _, c := range clusters(sorted, window) {
		for _, h := range c {
			if h.ID == id {
				return c
			}
		}
	}
	return nil
}

// canonical copies halves into the order (At, ID) with repeated IDs dropped,
// so that everything after it sees the same sequence for the same set.
func canonical(halves []Half) []Half {
	s := make([]Half, len(halves))
	for i, h := range halves {
		// Monotonic readings would make comparisons depend on which halves
		// came from time.Now and which from the database.
		h.At = h.At.Round(0)
		s[i] = h
	}
	slices.SortFunc(s, func(a, b Half) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.EnrollmentID, b.EnrollmentID))
	})
	seen := make(map[int64]bool, len(s))
	return slices.DeleteFunc(s, func(h Half) bool {
		dup := seen[h.ID]
		seen[h.ID] = true
		return dup
	})
}

// clusters cuts a canonical sequence at gaps longer than window.
func clusters(sorted []Half, window time.Duration) [][]Half {
	var out [][]Half
	start := 0
	for i := 1; i <= len(sorted); i++ {
		if i == len(sorted) || distance(sorted[i-1].At, sorted[i].At) > window {
			out = append(out, sorted[start:i:i])
			start = i
		}
	}
	return out
}

// distance is |a − b|, saturating instead of overflowing for far-apart times.
func distance(a, b time.Time) time.Duration {
	if a.After(b) {
		return a.Sub(b)
	}
	return b.Sub(a)
}

// sameEnrollment is false only when both halves name different enrollments:
// a learner re-enrolled in the course is on another run through it.
func sameEnrollment(l, p Half) bool {
	return l.EnrollmentID == 0 || p.EnrollmentID == 0 || l.EnrollmentID == p.EnrollmentID
}
