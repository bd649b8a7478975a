package server

import (
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// maxRecipients bounds a site's digest recipients: the digest is for a site's team.
const maxRecipients = 20

type settingsPage struct {
	page
	Form      settingsForm
	Errors    map[string]string // by field name; empty when the form is good
	Problems  []fieldError      // Errors in the form's order, for the summary
	Saved     bool
	MailReady bool
	Weekdays  []string
	Hours     []int
}

// settingsForm is the form as the admin sent it (or as stored), kept as typed so that a
// refused form comes back with what was entered.
type settingsForm struct {
	StalledDays string
	TimeZone    string
	Enabled     bool
	Recipients  string
	Weekday     int
	Hour        int
}

type fieldError struct{ Field, Message string }

// fields are the form's fields in the order the page shows them.
var fields = []string{"stalled_days", "time_zone", "digest_enabled", "digest_recipients", "digest_weekday", "digest_hour"}

var weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

var hours = func() []int {
	h := make([]int, 24)
	for i := range h {
		h[i] = i
	}
	return h
}()

// handleSettings shows the site's settings.
func (s *Server) handleSettings(c echo.Context) error {
	st, err := viewOf(c).Settings(c.Request().Context())
	if err != nil {
		return err
	}
	form := settingsForm{StalledDays: strconv.Itoa(st.StalledDays), TimeZone: st.TimeZone, Enabled: st.DigestEnabled,
		Recipients: st.DigestRecipients, Weekday: st.DigestWeekday, Hour: st.DigestHour}
	return s.renderSettings(c, http.StatusOK, form, nil, c.QueryParam("saved") != "")
}

// handleSaveSettings validates and stores the site's settings; a refused form is shown
// again with its values and one message per field.
func (s *Server) handleSaveSettings(c echo.Context) error {
	v := viewOf(c)
	ctx := c.Request().Context()
	form := settingsForm{
		StalledDays: strings.TrimSpace(c.FormValue("stalled_days")),
		TimeZone:    strings.TrimSpace(c.FormValue("time_zone")),
		Enabled:     c.FormValue("digest_enabled") != "",
		Recipients:  c.FormValue("digest_recipients"),
	}
	st, err := v.Settings(ctx)
	if err != nil {
		return err
	}
	errs := map[string]string{}
	if n, err := strconv.Atoi(form.StalledDays); err != nil || n < 1 || n > 365 {
		errs["stalled_days"] = "Enter a whole number of days from 1 to 365."
	} else {
		st.StalledDays = n
	}
	if form.TimeZone != "" {
		if _, err := time.LoadLocation(form.TimeZone); err != nil || form.TimeZone == "Local" {
			errs["time_zone"] = "Enter a time zone name like Europe/Paris or America/New_York, or leave it empty for your browser's zone."
		}
	}
	st.TimeZone = form.TimeZone
	var err2 error
	form.Weekday, err2 = strconv.Atoi(c.FormValue("digest_weekday"))
	if err2 != nil || form.Weekday < 0 || form.Weekday > 6 {
		errs["digest_weekday"], form.Weekday = "Choose a day of the week.", st.DigestWeekday
	}
	form.Hour, err2 = strconv.Atoi(c.FormValue("digest_hour"))
	if err2 != nil || form.Hour < 0 || form.Hour > 23 {
		errs["digest_hour"], form.Hour = "Choose an hour from 0 to 23.", st.DigestHour
	}
	st.DigestWeekday, st.DigestHour = form.Weekday, form.Hour
	addrs, problem := recipients(form.Recipients)
	if problem != "" {
		errs["digest_recipients"] = problem
	}
	st.DigestRecipients = strings.Join(addrs, "\n")
	switch {
	case form.Enabled && !s.cfg.MailReady():
		errs["digest_enabled"] = "Mail is not set up on this Stride, so the digest cannot be turned on."
	case form.Enabled && len(addrs) == 0 && problem == "":
		errs["digest_recipients"] = "Add at least one address to send the digest to."
	}
	st.DigestEnabled = form.Enabled
	if len(errs) > 0 {
		return s.renderSettings(c, http.StatusUnprocessableEntity, form, errs, false)
	}
	if err := v.SaveSettings(ctx, st); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings?saved=1")
}

// recipients reads the addresses an admin typed, one per line (commas also separate them):
// each a valid address, no more than maxRecipients, each once.
func recipients(text string) (addrs []string, problem string) {
	seen := map[string]bool{}
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		a, err := mail.ParseAddress(raw)
		if err != nil {
			return nil, "“" + raw + "” is not an email address. Enter one address per line, like team@example.com."
		}
		if key := strings.ToLower(a.Address); !seen[key] {
			seen[key] = true
			addrs = append(addrs, a.Address)
		}
	}
	if len(addrs) > maxRecipients {
		return nil, "At most " + strconv.Itoa(maxRecipients) + " addresses: the digest is for your team."
	}
	return addrs, ""
}

func (s *Server) renderSettings(c echo.Context, status int, form settingsForm, errs map[string]string, saved bool) error {
	var problems []fieldError
	for _, f := range fields {
		if m, ok := errs[f]; ok {
			problems = append(problems, fieldError{f, m})
		}
	}
	return s.render(c, status, "settings.html", settingsPage{page: pageOf(c, "settings"), Form: form, Errors: errs, Problems: problems,
		Saved: saved, MailReady: s.cfg.MailReady(), Weekdays: weekdays, Hours: hours})
}
