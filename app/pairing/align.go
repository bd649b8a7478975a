package pairing

import (
	"math"
	"time"
)

// score ranks partial pairings: more pairs first, then less total |Δt|.
type score struct {
	pairs int
	cost  uint64 // Σ|Δt| in ns; saturates, so absurd windows cannot wrap it
}

func (a score) better(b score) bool {
	return a.pairs > b.pairs || a.pairs == b.pairs && a.cost < b.cost
}

func (a score) plus(d time.Duration) score {
	c := a.cost + uint64(d)
	if c < a.cost {
		c = math.MaxUint64
	}
	return score{a.pairs + 1, c}
}

// Traceback moves, in order of preference among equal scores. Walking back
// from the end, leaving the later half unpaired first is what makes ties go
// to earlier halves.
const (
	skipProgress uint8 = iota
	skipLesson
	pair
)

// align adds to pairs the best non-crossing pairing of one run of canonical
// halves. It is sequence alignment of the lesson subsequence against the
// progress subsequence: F[i][j] is the best score using the first i lessons
// and the first j progress halves, and
//
//	F[i+1][j] = best(F[i+1][j-1], F[i][j], F[i][j-1] + pair(i, j-1)).
//
// Lesson i can only pair with progress halves in its band [lo_i, end_i), those
// within ±window; both ends only move forward as i grows. So row i+1 only has
// to be computed on columns lo_i..end_i: left of it the row equals row i
// (lesson i can use none of those), right of it it stays at its value at end_i
// (no lesson so far can use those). That makes it O(Σ band widths) = O(n·k).
func align(run []Half, window time.Duration, pairs map[int64]int64) {
	var lessons, progress []Half
	for _, h := range run {
		switch h.Kind {
		case Lesson:
			lessons = append(lessons, h)
		case Progress:
			progress = append(progress, h)
		}
	}
	if len(lessons) == 0 || len(progress) == 0 {
		return
	}

	// Bands, by two pointers over the time-ordered progress halves.
	lo := make([]int, len(lessons))
	end := make([]int, len(lessons))
	l, e, width := 0, 0, 0
	for i, h := range lessons {
		for l < len(progress) && progress[l].At.Before(h.At) && distance(progress[l].At, h.At) > window {
			l++
		}
		for e < len(progress) && !(progress[e].At.After(h.At) && distance(progress[e].At, h.At) > window) {
			e++
		}
		lo[i], end[i] = l, e
		width = max(width, e-l+1)
	}

	// Only two rows of scores are live; the moves of every row are kept for
	// the traceback. Row i covers columns rowLo..rowEnd and holds F[i].
	prev := make([]score, 1, width)
	cur := make([]score, 0, width)
	rowLo, rowEnd := 0, 0
	at := func(row []score, j int) score { return row[min(j, rowEnd)-rowLo] }
	moves := make([][]uint8, len(lessons))
	cells := 0
	for i := range lessons {
		cells += end[i] - lo[i] + 1
	}
	flat := make([]uint8, cells)
	for i, lesson := range lessons {
		cur = cur[:0]
		mv := flat[:end[i]-lo[i]+1]
		flat = flat[len(mv):]
		cur = append(cur, at(prev, lo[i]))
		mv[0] = skipLesson
		for j := lo[i] + 1; j <= end[i]; j++ {
			best, move := cur[len(cur)-1], skipProgress
			if s := at(prev, j); s.better(best) {
				best, move = s, skipLesson
			}
			p := progress[j-1]
			if d := distance(lesson.At, p.At); d <= window && sameEnrollment(lesson, p) {
				if s := at(prev, j-1).plus(d); s.better(best) {
					best, move = s, pair
				}
			}
			cur = append(cur, best)
			mv[j-lo[i]] = move
		}
		moves[i] = mv
		prev, cur = cur, prev
		rowLo, rowEnd = lo[i], end[i]
	}

	// Walk back from F[m][end of last band]; columns past a row's band are
	// progress halves no earlier lesson could use, so jump over them.
	j := rowEnd
	for i := len(lessons) - 1; i >= 0; i-- {
		j = min(j, end[i])
		for {
			move := moves[i][j-lo[i]]
			if move == skipLesson {
				break
			}
			j--
			if move == pair {
				pairs[lessons[i].ID] = progress[j].ID
				break
			}
		}
	}
}
