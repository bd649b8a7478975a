package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/store"
)

type learnerPage struct {
	page
	Learner  *store.LearnerProfile
	Timeline []store.Step
	Pace     []learnerPaceRow // pace.go
}

// handleLearner shows a learner's paired timeline, newest first.
func (s *Server) handleLearner(c echo.Context) error {
	v := viewOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	learner, err := v.Learner(c.Request().Context(), id)
	if err != nil {
		return err
	}
	timeline, err := v.Timeline(c.Request().Context(), id, 500)
	if err != nil {
		return err
	}
	pace, err := v.LearnerPace(c.Request().Context(), id, s.clock.Now())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "learner.html", learnerPage{page: pageOf(c, "learner"), Learner: learner, Timeline: timeline,
		Pace: learnerPace(pace)})
}
