package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/strideapp/stride/web"
)

// deliveryPath is the webhook target Stride gives Thinkific for every topic.
const deliveryPath = "/webhooks/thinkific"

// routes is every route Stride serves and the middleware in front of it.
func (s *Server) routes() {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlash())
	csrf := http.NewCrossOriginProtection()
	csrf.AddInsecureBypassPattern("POST " + unsubscribePath) // RFC 8058 one-click: a signed token, no session
	e.Use(
		requestID,
		s.logRequests(),
		s.countDeliveries, // before the body limits and Recover: their refusals count too
		middleware.Recover(),
		middleware.BodyLimit("1MiB"),
		s.securityHeaders,
		echo.WrapMiddleware(csrf.Handler), // CSRF: refuse cross-site state changes
	)

	// Given to Thinkific: these paths must not move.
	e.GET("/install", s.handleInstall)
	e.GET("/oauth/callback", s.handleCallback)
	// Thinkific waits 5 s for an answer: once the body is in, receiving it (an uninstall
	// included) ends within 3.
	e.POST(deliveryPath, s.handleDelivery,
		deliveryBodies(maxDeliveryReads, s.cfg.DeliveryBodyTimeout, maxDeliveryBody), deadline(2800*time.Millisecond))
	e.GET(deliveryPath, handleDeliveryProbe) // someone checking the URL in a browser

	// The dashboard: pages behind a session bound to one site. The app URL also answers the
	// signed launch from the Thinkific admin that starts such a session.
	e.GET("/", s.handleOverview, s.launches, s.requireSession)
	site := e.Group("", s.requireSession)
	site.GET("/courses/:id", s.handleCourse)
	site.GET("/learners/:id", s.handleLearner)
	site.GET("/attention", s.handleAttention)
	site.GET("/connection", s.handleConnection)
	site.POST("/deliveries/:id/replay", s.handleReplay)
	site.POST("/connection/reimport", s.handleReimport)
	site.GET("/settings", s.handleSettings)
	site.POST("/settings", s.handleSaveSettings)
	site.GET("/export/steps.csv", s.handleExportSteps)
	site.GET("/export/enrollments.csv", s.handleExportEnrollments)
	site.GET("/export/lessons.csv", s.handleExportLessons)
	site.GET("/export/learners.csv", s.handleExportLearners)

	// The weekly digest's unsubscribe link: no session, the token says who.
	e.GET(unsubscribePath, s.handleUnsubscribePage)
	e.POST(unsubscribePath, s.handleUnsubscribe)

	e.GET("/healthz", s.handleHealth, deadline(2*time.Second))
	e.GET(metricsPath, s.handleMetrics) // for Prometheus, with METRICS_TOKEN: no session
	e.StaticFS("/static", web.Static())
}
