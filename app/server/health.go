package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleHealth answers 200 when the database answers, 503 otherwise.
func (s *Server) handleHealth(c echo.Context) error {
	if err := s.db.Ping(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}
