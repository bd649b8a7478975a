package importer

import (
	"fmt"
	"math"
	"time"

	"github.com/strideapp/stride/app/store"
)

// Status is an import as a person reads it, on the Connection page and from stride import.
type Status struct {
	State string // queued, running, waiting to retry, done, failed
	// Phase is what the import reads now, or was reading when it stopped; "" once done.
	Phase string
	// Done of Total measure the phase: courses whose lessons are read, or enrollments read.
	// Total is 0 while it is not known.
	Done, Total int
	// Left is how long the rest should take at the site's rate budget, when LeftKnown.
	Left      time.Duration
	LeftKnown bool
	// LeftExcludes names what Left does not count yet ("the enrollments" while lessons are
	// read: their number is known only from their first page).
	LeftExcludes string
	// LeftWhen says when Left will be known, while it is not.
	LeftWhen string
}

var stateWords = map[string]string{
	store.ImportQueued:  "queued",
	store.ImportRunning: "running",
	store.ImportWaiting: "waiting to retry",
	store.ImportDone:    "done",
	store.ImportFailed:  "failed",
}

// Describe puts an import into words. perMinute is the site's rate budget
// (THINKIFIC_API_REQUESTS_PER_MINUTE): the estimate assumes the import has it to itself,
// one request every 60/perMinute seconds.
func Describe(st store.ImportStatus, perMinute int) Status {
	s := Status{State: stateWords[st.State]}
	if s.State == "" {
		s.State = st.State
	}
	left, known := 0, true
	switch st.Phase {
	case store.PhaseCourses:
		s.Phase = "reading the course list"
		if st.CursorPage > 0 {
			s.Phase += fmt.Sprintf(", page %d", st.CursorPage+1)
		}
		known, s.LeftWhen = false, "once the course list is read" // nothing says how many courses, lessons or enrollments there are
	case store.PhaseCurricula:
		read := max(0, st.Courses-st.CoursesLeft)
		s.Done, s.Total = read, st.Courses
		s.Phase = fmt.Sprintf("reading lessons of course %d of %d", read+1, st.Courses)
		if read >= st.Courses {
			s.Phase = fmt.Sprintf("lessons of all %d courses read", st.Courses)
		}
		// The courses read so far tell how many requests a course takes (one per chapter,
		// and one for the chapter list); the listing's pages are not part of it.
		if spent := st.Requests - ceilDiv(max(st.Courses, 1), pageSize); read > 0 && spent > 0 {
			left = int(math.Ceil(float64(spent) / float64(read) * float64(st.CoursesLeft)))
			s.LeftExcludes = "the enrollments"
		} else {
			known, s.LeftWhen = false, "once the first course's lessons are read"
		}
	case store.PhaseEnrollments:
		s.Done, s.Total = st.Enrollments, st.EnrollmentsTotal
		s.Phase = "reading enrollments"
		if st.EnrollmentsTotal > 0 {
			s.Phase += fmt.Sprintf(", page %d of %d", min(st.CursorPage+1, ceilDiv(st.EnrollmentsTotal, pageSize)), ceilDiv(st.EnrollmentsTotal, pageSize))
			left = ceilDiv(max(0, st.EnrollmentsTotal-st.Enrollments), pageSize)
		} else {
			known, s.LeftWhen = false, "after the first page of enrollments" // it tells how many there are
		}
	case store.PhaseDone:
		s.Phase = "finishing" // everything is read; the run is being recorded as done
	}
	if st.State == store.ImportDone {
		s.Phase, s.Done, s.Total = "", 0, 0
	}
	if known && perMinute > 0 {
		s.Left, s.LeftKnown = time.Duration(left)*time.Minute/time.Duration(perMinute), true
	}
	return s
}

// LeftWords is Left as a person says it: "about 3 minutes"; "" when not known.
func (s Status) LeftWords() string {
	switch d := s.Left; {
	case !s.LeftKnown:
		return ""
	case d < 10*time.Second:
		return "a few seconds"
	case d < 90*time.Second:
		return fmt.Sprintf("about %d seconds", int(d.Round(5*time.Second)/time.Second))
	case d < 90*time.Minute:
		return fmt.Sprintf("about %d minutes", int(d.Round(time.Minute)/time.Minute))
	default:
		h := d.Round(10 * time.Minute)
		return fmt.Sprintf("about %d h %02d min", int(h/time.Hour), int(h%time.Hour/time.Minute))
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
