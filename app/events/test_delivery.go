package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// testMark prefixes the names in the test deliveries an admin sends from Thinkific's
// webhook settings ("[TEST] lorem ipsum", "[TEST] john@doe.com").
const testMark = "[TEST]"

// IsTestDelivery reports whether an event is one of Thinkific's test deliveries rather
// than a learner's: its course, learner or lesson is named with the [TEST] mark. Such
// events are signed like real ones but describe nobody.
func IsTestDelivery(e *Envelope) bool {
	if !bytes.Contains(e.Payload, []byte(testMark)) {
		return false // the common case costs one scan of about a kilobyte
	}
	var p struct {
		Name   Text  `json:"name"`
		Course Named `json:"course"`
		Lesson Named `json:"lesson"`
		User   User  `json:"user"`
	}
	if json.Unmarshal(e.Payload, &p) != nil {
		return false
	}
	for _, s := range []Text{p.Name, p.Course.Name, p.Lesson.Name, p.User.Email, p.User.FirstName, p.User.LastName} {
		if strings.HasPrefix(string(s), testMark) {
			return true
		}
	}
	return false
}

// ValidKey reports whether s can name an event or a topic in the inbox: 1 to 100 bytes of
// printable UTF-8 (no NUL or other control characters, which PostgreSQL text refuses or a
// log would show garbled).
func ValidKey(s string) bool {
	if s == "" || len(s) > 100 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
