package digest

import (
	"fmt"
	"time"

	"github.com/strideapp/stride/app/store"
)

// Zone is where a site's times are read: its chosen zone, UTC when it has none (or one
// this machine no longer knows).
func Zone(s store.Settings) *time.Location {
	if s.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Week is the ISO week of t in loc, "2026-W49": the unit a digest is sent once in.
func Week(t time.Time, loc *time.Location) string {
	y, w := t.In(loc).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// Slot is when, in the ISO week of now (in the site's zone), the site's digest is due.
func Slot(s store.Settings, now time.Time) time.Time {
	loc := Zone(s)
	local := now.In(loc)
	sinceMonday := (int(local.Weekday()) + 6) % 7
	day := (s.DigestWeekday + 6) % 7 // Sunday (0) ends an ISO week
	return time.Date(local.Year(), local.Month(), local.Day()-sinceMonday+day, s.DigestHour, 0, 0, 0, loc)
}

// due reports the week whose digest the site should have by now and has not been sent.
func due(s store.Settings, now time.Time) (week string, ok bool) {
	week = Week(now, Zone(s))
	return week, s.DigestEnabled && s.DigestSentWeek != week && !now.Before(Slot(s, now))
}
