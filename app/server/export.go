package server

import (
	"encoding/csv"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

var (
	stepsHeader       = []string{"occurred_at", "learner_id", "learner_email", "course_id", "course_name", "chapter_id", "chapter_name", "lesson_id", "lesson_name", "percent_before", "percent_after"}
	enrollmentsHeader = []string{"enrollment_id", "learner_id", "learner_email", "course_id", "course_name", "percent_complete", "status", "started_at", "completed_at", "last_activity_at"}
	learnersHeader    = []string{"enrollment_id", "learner_id", "learner_email", "learner_name", "course_id", "course_name", "percent_complete", "status",
		"enrolled_at", "last_activity_at", "days_idle", "last_lesson_id", "last_lesson_name", "next_lesson_id", "next_lesson_name"}
	lessonsHeader = []string{"course_id", "course_name", "chapter_id", "chapter_name", "lesson_id", "lesson_name", "lesson_type", "position", "completed_by"}
)

// handleExportSteps streams the site's paired timeline as CSV, any size.
func (s *Server) handleExportSteps(c echo.Context) error {
	course, err := courseFilter(c)
	if err != nil {
		return err
	}
	w := s.startCSV(c, "steps", stepsHeader)
	err = viewOf(c).EachStep(c.Request().Context(), course, func(st *store.Step) error {
		return w.Write([]string{stamp(&st.OccurredAt), id(st.LearnerID), safe(st.Email), id(st.CourseID), safe(st.Course),
			optID(st.ChapterID), safe(st.Chapter), optID(st.LessonID), safe(st.Lesson), percent(st.PercentBefore), percent(st.PercentAfter)})
	})
	return s.endCSV(c, w, err)
}

// handleExportEnrollments streams one row per enrollment as CSV.
func (s *Server) handleExportEnrollments(c echo.Context) error {
	course, err := courseFilter(c)
	if err != nil {
		return err
	}
	w := s.startCSV(c, "enrollments", enrollmentsHeader)
	err = viewOf(c).EachEnrollment(c.Request().Context(), course, s.clock.Now(), func(e *store.EnrollmentRow) error {
		p := e.Percent
		return w.Write([]string{id(e.ID), id(e.LearnerID), safe(e.Email), id(e.CourseID), safe(e.Course), percent(&p), e.Status,
			stamp(e.Started()), stamp(e.CompletedAt), stamp(e.LastActivityAt)})
	})
	return s.endCSV(c, w, err)
}

// handleExportLessons streams each course's curriculum with how many learners completed
// each item, as the funnel counts them.
func (s *Server) handleExportLessons(c echo.Context) error {
	course, err := courseFilter(c)
	if err != nil {
		return err
	}
	w := s.startCSV(c, "lessons", lessonsHeader)
	err = viewOf(c).EachLesson(c.Request().Context(), course, func(l *store.LessonRow) error {
		return w.Write([]string{id(l.CourseID), safe(l.Course), optID(l.ChapterID), safe(l.Chapter), id(l.LessonID), safe(l.Lesson),
			safe(l.LessonType), strconv.Itoa(l.Position), id(l.Learners)})
	})
	return s.endCSV(c, w, err)
}

// handleExportLearners streams one row per enrollment with where its learner stands, the
// enrollments a learner list's filters keep (learnerFilter), all of them when none is given.
func (s *Server) handleExportLearners(c echo.Context) error {
	f, err := learnerFilter(c)
	if err != nil {
		return err
	}
	w := s.startCSV(c, "learners", learnersHeader)
	err = viewOf(c).EachLearner(c.Request().Context(), f, s.clock.Now(), func(r *store.LearnerRow) error {
		p, idle := r.Percent, ""
		if r.DaysIdle != nil {
			idle = id(*r.DaysIdle)
		}
		return w.Write([]string{id(r.EnrollmentID), id(r.LearnerID), safe(r.Email), safe(r.Name()), id(r.CourseID), safe(r.Course),
			percent(&p), r.Status, stamp(r.EnrolledAt), stamp(r.LastActivityAt), idle, optID(r.LastLessonID), safe(r.LastLesson),
			optID(r.NextLessonID), safe(r.NextLesson)})
	})
	return s.endCSV(c, w, err)
}

func courseFilter(c echo.Context) (int64, error) {
	v := c.QueryParam("course_id")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, stride.Errorf(stride.EINVALID, "course_id must be a course's id, a whole number above 0.")
	}
	return n, nil
}

func (s *Server) startCSV(c echo.Context, name string, header []string) *csv.Writer {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(&deadlineWriter{w: c.Response(), rc: http.NewResponseController(c.Response()), timeout: s.http.WriteTimeout})
	w.Write(header)
	return w
}

// deadlineWriter pushes the connection's write deadline forward as an export flows. The
// server's WriteTimeout counts from the request: it cut a large export short (309,269 of
// 600,000 rows at 250 KB/s) after the status line had said 200. Here each chunk has the
// whole timeout to reach the client, so a client that stops reading still ends the export.
type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	next    time.Time // when to push the deadline again: a quarter of the way through it
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); !now.Before(d.next) {
		if err := d.rc.SetWriteDeadline(now.Add(d.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return 0, err
		}
		d.next = now.Add(d.timeout / 4)
	}
	return d.w.Write(p)
}

// endCSV flushes the export. Once rows have gone out the status cannot change, so a failure
// midway ends the stream short and is logged as the server's fault.
func (s *Server) endCSV(c echo.Context, w *csv.Writer, err error) error {
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ne) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET):
		s.log.Warn("export ended early: the client stopped reading", "path", c.Request().URL.Path, "err", err)
	default:
		s.log.Error("export ended early", "path", c.Request().URL.Path, "err", err)
	}
	return err
}

// safe keeps a cell from being read as a formula by a spreadsheet (CSV injection).
func safe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func optID(n *int64) string {
	if n == nil {
		return ""
	}
	return id(*n)
}

func percent(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
