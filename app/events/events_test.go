package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// The published examples (testdata/, copied from Thinkific's docs) parse into what they say.
func TestPublishedExamples(t *testing.T) {
	read := func(name string) *Envelope {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return e
	}
	lc := read("lesson.completed.json")
	if lc.Topic() != "lesson.completed" || lc.ID != "20191029145629636106318" || lc.TenantID != "12345" ||
		lc.TenantGlobalID != "feb8d00d-8040-4382-afee-491a6c8013af" || !lc.CreatedAt.Equal(time.Date(2019, 10, 29, 18, 56, 29, 474e6, time.UTC)) {
		t.Fatalf("envelope %+v", lc)
	}
	l, err := ParseLessonCompleted(lc.Payload)
	if err != nil || l.Lesson.ID != 24220 || l.Chapter.Name != "Chapter 1" || l.Course.ID != 123 || l.Enrollment.ID != 1084282 || l.User.Email != "ninjas@thinkific.com" {
		t.Fatalf("lesson %+v %v", l, err)
	}

	pr := read("enrollment.progress.json")
	p, err := ParseEnrollment(pr.Payload)
	if err != nil || pr.Topic() != "enrollment.progress" || p.ID != 4 || p.CourseID != 25 || p.User.ID != 95 || !p.Percentage.Set || p.Percentage.Value != 24 {
		t.Fatalf("progress %+v %v", p, err)
	}
	if pr.TenantGlobalID != "" || pr.TenantID != "59" {
		t.Fatalf("tenant %q %q", pr.TenantID, pr.TenantGlobalID)
	}
	cr := read("enrollment.created.json")
	c, err := ParseEnrollment(cr.Payload)
	if err != nil || c.Percentage.Value != 0 || !c.Percentage.Set || c.StartedAt.Ptr() != nil || c.ActivatedAt.Ptr() == nil {
		t.Fatalf("created %+v %v", c, err)
	}
}

// REST's completion is on 0–1, whether a number or a string.
func TestFraction(t *testing.T) {
	cases := []struct {
		in      string
		want    float64
		set     bool
		wantErr bool
	}{
		{`1`, 100, true, false},
		{`"1"`, 100, true, false},
		{`0.24`, 24, true, false},
		{`"0.24"`, 24, true, false},
		{`"0.0"`, 0, true, false},
		{`null`, 0, false, false},
		{`24`, 0, false, true}, // a percentage where a fraction belongs: refused, not read as 2,400 %
		{`-0.1`, 0, false, true},
	}
	for _, tc := range cases {
		var f Fraction
		err := json.Unmarshal([]byte(tc.in), &f)
		if (err != nil) != tc.wantErr || f.Value != tc.want || f.Set != tc.set {
			t.Errorf("%s: got %+v %v", tc.in, f, err)
		}
	}
}

// Fields Stride does not need never fail an event, whatever their type; names lose NUL.
func TestUnusedFieldsNeverFail(t *testing.T) {
	lesson := `{"chapter":{"id":1,"name":7},"course":{"id":2,"name":"C\u0000ourse"},"enrollment":{"id":3},
		"lesson":{"id":4,"name":["x"],"position":%s,"type":{"a":1}},"user":{"id":5,"email":" a@b.c ","first_name":"A\u0000na","last_name":null}}`
	for _, pos := range []string{`"3"`, `3.0`, `3.5`, `"x"`, `99999999999`, `null`, `true`} {
		l, err := ParseLessonCompleted(json.RawMessage(fmt.Sprintf(lesson, pos)))
		if err != nil {
			t.Fatalf("position %s: %v", pos, err)
		}
		if l.Course.Name != "Course" || l.User.FirstName != "Ana" || l.User.Email != "a@b.c" || l.Chapter.Name != "7" || l.Lesson.Name != "" {
			t.Fatalf("position %s: %+v", pos, l)
		}
		if want := map[string]Position{`"3"`: 3, `3.0`: 3}[pos]; l.Lesson.Position != want {
			t.Fatalf("position %s read as %d, want %d", pos, l.Lesson.Position, want)
		}
	}
	enrollment := `{"id":1,"course_id":2,"user":{"id":3},"percentage_completed":"10","free_trial":%s,
		"expiry_date":"someday","started_at":12,"previous_percentage":"abc"}`
	for in, want := range map[string]Flag{`"true"`: true, `"false"`: false, `true`: true, `1`: true, `"yes"`: false, `{}`: false} {
		e, err := ParseEnrollment(json.RawMessage(fmt.Sprintf(enrollment, in)))
		if err != nil || e.FreeTrial != want || e.ExpiryDate.Ptr() != nil || e.Previous().Set {
			t.Fatalf("free_trial %s: %+v %v", in, e, err)
		}
	}
}

func TestPercent(t *testing.T) {
	cases := []struct {
		in      string
		want    float64
		set     bool
		wantErr bool
	}{
		{`"24.0"`, 24, true, false},
		{`"0.0"`, 0, true, false},
		{`"100"`, 100, true, false},
		{`"33.333"`, 33.33, true, false},
		{`"0.5"`, 0.5, true, false}, // a webhook's value is a percentage, string or number
		{`0.5`, 0.5, true, false},
		{`1`, 1, true, false},
		{`"1"`, 1, true, false},
		{`1.0`, 1, true, false},
		{`40`, 40, true, false},
		{`null`, 0, false, false},
		{`""`, 0, false, false},
		{`"abc"`, 0, false, true},
		{`"150"`, 0, false, true},
		{`-3`, 0, false, true},
		{`"NaN"`, 0, false, true},
	}
	for _, tc := range cases {
		var p Percent
		err := json.Unmarshal([]byte(tc.in), &p)
		if (err != nil) != tc.wantErr || p.Value != tc.want || p.Set != tc.set {
			t.Errorf("%s: got %+v %v", tc.in, p, err)
		}
	}
}

func TestEnvelopeProblems(t *testing.T) {
	cases := map[string]string{
		"not json":        `{"id":`,
		"array":           `[1,2]`,
		"no id":           `{"resource":"lesson","action":"completed","created_at":"2020-01-01T00:00:00Z"}`,
		"no resource":     `{"id":"1","action":"completed","created_at":"2020-01-01T00:00:00Z"}`,
		"no time":         `{"id":"1","resource":"lesson","action":"completed"}`,
		"unreadable time": `{"id":"1","resource":"lesson","action":"completed","created_at":"yesterday"}`,
	}
	for name, body := range cases {
		if _, err := ParseEnvelope([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	e, err := ParseEnvelope([]byte(`{"id":20191029,"resource":"app","action":"uninstalled","tenant_id":59,"timestamp":"1700000000123"}`))
	if err != nil || e.ID != "20191029" || e.TenantID != "59" || e.CreatedAt.UnixMilli() != 1700000000123 {
		t.Fatalf("numbers and timestamp: %+v %v", e, err)
	}
}

func TestKnownTopic(t *testing.T) {
	for _, k := range []string{"lesson.completed", "app.uninstalled", "order_transaction.succeeded", "subscription.cancelled"} {
		if !KnownTopic(k) {
			t.Errorf("%s unknown", k)
		}
	}
	for _, k := range []string{"lesson.deleted", "", "lesson", "subscription.", "x.y.z", "order_transaction.a.b"} {
		if KnownTopic(k) {
			t.Errorf("%s known", k)
		}
	}
}

func TestPayloadProblems(t *testing.T) {
	if _, err := ParseEnrollment([]byte(`{"id":4,"course_id":25}`)); !errors.Is(err, ErrPayload) {
		t.Errorf("no user: %v", err)
	}
	if _, err := ParseLessonCompleted([]byte(`{"lesson":{"id":"x"}}`)); !errors.Is(err, ErrPayload) {
		t.Errorf("bad id: %v", err)
	}
	e, err := ParseEnrollment([]byte(`{"id":"4","course":{"id":"25"},"user":{"id":"95"},"percentage_completed":40,"previous_percentage_completed":"30.0"}`))
	if err != nil || e.CourseID != 25 || e.Percentage.Value != 40 || e.Previous().Value != 30 {
		t.Fatalf("%+v %v", e, err)
	}
}

// FuzzParse feeds the parsing path arbitrary bodies: it must never panic, and whatever it
// accepts must carry what the worker relies on.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"lesson.completed.json", "enrollment.progress.json", "enrollment.created.json"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"resource":"enrollment","action":"progress","created_at":"1700000000","payload":{"id":"1","course_id":2,"user":{"id":3},"percentage_completed":"101"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseEnvelope(body)
		if err != nil {
			return
		}
		if e.ID == "" || e.Resource == "" || e.Action == "" || e.CreatedAt.IsZero() {
			t.Fatalf("accepted an envelope without what it needs: %+v", e)
		}
		if en, err := ParseEnrollment(e.Payload); err == nil {
			if en.ID <= 0 || en.CourseID <= 0 || en.User.ID <= 0 {
				t.Fatalf("enrollment without ids: %+v", en)
			}
			if en.Percentage.Set && (en.Percentage.Value < 0 || en.Percentage.Value > 100) {
				t.Fatalf("percentage %v", en.Percentage.Value)
			}
		}
		if l, err := ParseLessonCompleted(e.Payload); err == nil && (l.Lesson.ID <= 0 || l.User.ID <= 0) {
			t.Fatalf("lesson without ids: %+v", l)
		}
	})
}
