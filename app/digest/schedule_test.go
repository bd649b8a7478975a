package digest_test

import (
	"testing"
	"time"

	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/store"
)

func TestSlot(t *testing.T) {
	cases := []struct {
		name          string
		zone          string
		weekday, hour int
		now           string // RFC 3339
		slot          string
		week          string
	}{
		{"monday 8:00 UTC, on a wednesday", "", 1, 8, "2026-12-02T10:00:00Z", "2026-11-30T08:00:00Z", "2026-W49"},
		{"sunday ends the ISO week", "", 0, 23, "2026-11-30T00:30:00Z", "2026-12-06T23:00:00Z", "2026-W49"},
		{"in the site's zone", "Asia/Tokyo", 1, 8, "2026-11-29T23:30:00Z", "2026-11-29T23:00:00Z", "2026-W49"}, // Monday 08:30 in Tokyo
		{"across daylight saving", "Europe/Paris", 0, 3, "2026-03-27T12:00:00Z", "2026-03-29T01:00:00Z", "2026-W13"},
		{"ISO week of the new year", "", 5, 9, "2027-01-01T10:00:00Z", "2027-01-01T09:00:00Z", "2026-W53"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := store.Settings{TimeZone: tc.zone, DigestWeekday: tc.weekday, DigestHour: tc.hour}
			now, _ := time.Parse(time.RFC3339, tc.now)
			if got := digest.Slot(s, now).UTC().Format(time.RFC3339); got != tc.slot {
				t.Errorf("slot %s, want %s", got, tc.slot)
			}
			if got := digest.Week(now, digest.Zone(s)); got != tc.week {
				t.Errorf("week %s, want %s", got, tc.week)
			}
		})
	}
}

func TestToken(t *testing.T) {
	key, old := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	tok := digest.Token(old, 42, "Lead@School.test")
	id, addr, err := digest.ParseToken([][]byte{key, old}, tok)
	if err != nil || id != 42 || addr != "lead@school.test" {
		t.Fatalf("a token signed with a previous key: %d %q %v", id, addr, err)
	}
	if _, _, err := digest.ParseToken([][]byte{key}, tok); err == nil {
		t.Fatal("a token of a retired key opened")
	}
	good := digest.Token(key, 42, "lead@school.test")
	other := digest.Token(key, 43, "lead@school.test")
	for name, bad := range map[string]string{
		"other site's signature": good[:len(good)-43] + other[len(other)-43:],
		"no signature":           good[:len(good)-43],
		"garbage":                "x.y",
		"empty":                  "",
	} {
		if _, _, err := digest.ParseToken([][]byte{key}, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
