package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Time is a Thinkific time that may be null or empty. One Stride cannot read is taken as
// absent: dates are not what an event is applied for, and must never fail it.
type Time struct{ time.Time }

func (t *Time) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	if v, err := ParseTime(scalar(b)); err == nil {
		t.Time = v
	}
	return nil
}

// Ptr is the time, or nil when absent.
func (t Time) Ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// Percent is a webhook's completion percentage, on a 0–100 scale whether Thinkific sends it
// as a string ("24.0") or a number (third-party handlers type it so). The REST API's 0–1
// scale is Fraction's: the scale follows the source, never the JSON type.
type Percent struct {
	Value float64
	Set   bool
	// Odd says the value looks like the other scale: a webhook's strictly between 0 and 1,
	// or REST's above 1. It is still read on its source's scale; the worker logs it.
	Odd bool
}

func (p *Percent) UnmarshalJSON(b []byte) error {
	v, set, err := readPercent(b)
	if err != nil || !set {
		*p = Percent{}
		return err
	}
	*p = Percent{Value: roundPercent(v), Set: true, Odd: v > 0 && v < 1}
	return nil
}

// Fraction is the REST API's completion, 0.0–1.0 as a number or a string, read as a
// percentage (0–100).
type Fraction Percent

func (f *Fraction) UnmarshalJSON(b []byte) error {
	v, set, err := readPercent(b)
	if err != nil || !set {
		*f = Fraction{}
		return err
	}
	if v > 1.0001 {
		return fmt.Errorf("completion %v is outside 0–1", v)
	}
	*f = Fraction{Value: roundPercent(v * 100), Set: true}
	return nil
}

// readPercent reads a number or a numeric string (a trailing % allowed) between 0 and 100;
// null and "" are absent.
func readPercent(b []byte) (float64, bool, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return 0, false, nil
	}
	var v float64
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, false, err
		}
		s = strings.TrimSuffix(strings.TrimSpace(s), "%")
		if s == "" {
			return 0, false, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false, fmt.Errorf("percentage %q is not a number", s)
		}
		v = f
	} else if err := json.Unmarshal(b, &v); err != nil {
		return 0, false, fmt.Errorf("percentage %s is not a number", b)
	}
	if math.IsNaN(v) || v < 0 || v > 100.0001 {
		return 0, false, fmt.Errorf("percentage %v is outside 0–100", v)
	}
	return v, true, nil
}

func roundPercent(v float64) float64 { return math.Min(math.Round(v*100)/100, 100) }

// Text is a name or an email: a JSON string (or a number or boolean, spelled as text), with
// NUL and other control characters removed — PostgreSQL text cannot hold NUL, and a name
// has no use for them. Anything else (an object, an array) is taken as absent.
type Text string

func (t *Text) UnmarshalJSON(b []byte) error {
	*t = Text(cleanText(scalarAny(b)))
	return nil
}

// maxText bounds a stored name; Thinkific's own limits are far below it.
const maxText = 1000

func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
	}
	return s
}

// scalarAny is scalar that also spells booleans.
func scalarAny(b []byte) string {
	switch v := string(bytes.TrimSpace(b)); v {
	case "true", "false":
		return v
	}
	return scalar(b)
}

// Position is a lesson's place in its course. Stride only shows it, so a value it cannot
// read (text, a fraction, beyond int32) is taken as absent rather than failing the event.
type Position int32

func (p *Position) UnmarshalJSON(b []byte) error {
	*p = 0
	f, err := strconv.ParseFloat(scalar(b), 64)
	if err == nil && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
		*p = Position(f)
	}
	return nil
}

// Flag is a boolean Thinkific may spell as a boolean, a string ("true", "1") or a number.
// Anything unreadable is false.
type Flag bool

func (f *Flag) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseBool(strings.ToLower(scalarAny(b)))
	*f = Flag(err == nil && v)
	return nil
}
