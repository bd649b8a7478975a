package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strideapp/stride/app/importer"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// importSection is the Connection page's account of the site's import: how far reading its
// courses, lessons and enrollments from Thinkific has come.
type importSection struct {
	Import    *store.ImportStatus // nil: none was ever asked for
	Status    importer.Status
	PerMinute int    // the rate budget the estimate assumes
	Active    bool   // queued or running: the section refreshes itself, Re-import waits
	Notice    string // after a Re-import: "queued" or "busy"
}

func (s *Server) importSection(ctx context.Context, v *store.SiteView, notice string) (*importSection, error) {
	sec := &importSection{PerMinute: s.cfg.APIRequestsPerMinute, Notice: notice}
	st, err := v.Import(ctx)
	switch {
	case stride.ErrorCode(err) == stride.ENOTFOUND:
		return sec, nil
	case err != nil:
		return nil, err
	}
	sec.Import, sec.Status = st, importer.Describe(*st, s.cfg.APIRequestsPerMinute)
	sec.Active = st.State == store.ImportQueued || st.State == store.ImportRunning
	return sec, nil
}

// handleReimport asks for a full import of the session's site, every course and enrollment
// read again, unless one is queued or running: then the page says so and nothing changes.
func (s *Server) handleReimport(c echo.Context) error {
	err := viewOf(c).Reimport(c.Request().Context())
	if stride.ErrorCode(err) == stride.ECONFLICT {
		return c.Redirect(http.StatusSeeOther, "/connection?reimport=busy#import")
	}
	if err != nil {
		return err
	}
	s.log.Info("re-import asked for", "site", siteOf(c).ID)
	if s.wakeImporter != nil {
		s.wakeImporter()
	}
	return c.Redirect(http.StatusSeeOther, "/connection?reimport=queued#import")
}
