package demo

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Bad flags are refused before Stride is started; --help is no error. The whole demo runs
// against the Stride main wires, in main's tests.
func TestRunFlags(t *testing.T) {
	noStride := func(context.Context, func(string) string) (Stride, error) {
		t.Fatal("Stride was started")
		return nil, nil
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"help", []string{"--help"}, ""},
		{"too many sites", []string{"--sites", "6"}, "--sites must be 1 to 5"},
		{"no learners", []string{"--learners", "0"}, "--learners and --speed positive"},
		{"no speed", []string{"--speed", "0"}, "--learners and --speed positive"},
		{"unknown flag", []string{"--fast"}, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.args, io.Discard, noStride)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// Every learner's events are ones Stride accepts, for the site that sends them, and each
// step played is a lesson.completed and an enrollment.progress of one enrollment.
func TestLearnerEvents(t *testing.T) {
	double := thinkificdouble.New(thinkificdouble.Config{ClientID: "id", ClientSecret: "secret"})
	s := &Site{Thinkific: double.AddSite("demo-academy")}
	p := newPlayer(Options{Learners: 20, Speed: 1, Seed: 3}, io.Discard)
	var evs []event
	pair := 0
	for i := range 20 {
		evs = append(evs, p.learner(s, int64(1000+i), &pair)...)
	}
	halves := map[int][]*events.Envelope{}
	for _, e := range evs {
		env, err := events.ParseEnvelope(e.body)
		if err != nil || env.Topic() != e.topic || env.TenantGlobalID != s.Thinkific.GID() {
			t.Fatalf("%s: %+v %v\n%s", e.topic, env, err, e.body)
		}
		if e.pair != 0 {
			halves[e.pair] = append(halves[e.pair], env)
		}
	}
	if len(halves) != len(s.Played) || len(s.Played) == 0 {
		t.Fatalf("%d paired groups, %d steps played", len(halves), len(s.Played))
	}
	for n, h := range halves {
		if len(h) != 2 || h[0].Topic() != "lesson.completed" || h[1].Topic() != "enrollment.progress" {
			t.Fatalf("step %d: %v", n, h)
		}
		if gap := h[1].CreatedAt.Sub(h[0].CreatedAt); gap < 0 || gap > 40*time.Millisecond {
			t.Errorf("step %d: halves %v apart", n, gap)
		}
	}
}
