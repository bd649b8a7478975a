package simulate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// deliverSigned makes a delivery of ev signed with the configured secret.
func (c *config) deliverSigned(ev event) delivery {
	return delivery{Topic: ev.Topic, Subdomain: c.subdomain, EventID: ev.ID, Body: ev.Body,
		Signature: thinkificdouble.Sign(c.secret, ev.Body)}
}

// all sends ds at once, released together, as Thinkific fires events of one learner step.
func all(ctx context.Context, s *sender, ds ...delivery) []outcome {
	out := make([]outcome, len(ds))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[i] = s.send(ctx, d)
		}()
	}
	close(gate)
	wg.Wait()
	return out
}

// expectAccepted fails unless every delivery was answered 200 accepted.
func expectAccepted(mode string, tally map[string]int, total int, subdomain string) error {
	if tally["accepted"] == total {
		return nil
	}
	return fmt.Errorf("simulate: %s: %d of %d deliveries accepted%s", mode, tally["accepted"], total, hint(tally, subdomain))
}

func runOne(ctx context.Context, c *config, f *fixture, s *sender) error {
	ev, err := f.sample(c.topic)
	if err != nil {
		return err
	}
	s.send(ctx, c.deliverSigned(ev))
	return expectAccepted("one", s.summary(), 1, c.subdomain)
}

// runJourney plays one learner through a course: enrolled, then each lesson's
// lesson.completed and enrollment.progress fired together in either order with created_at
// a few ms apart (they share no key), then enrollment.completed.
func runJourney(ctx context.Context, c *config, f *fixture, s *sender) error {
	// Stride applies events by created_at to the millisecond, so each step starts clear
	// of the last one's jitter even when Stride answers in under a millisecond.
	last := f.now().UTC()
	next := func() time.Time {
		last = later(f.now().UTC(), last.Add(10*time.Millisecond))
		return last
	}
	ev, err := f.build(stride.TopicEnrollmentCreated, last, f.enrollment(last, 0))
	if err != nil {
		return err
	}
	s.send(ctx, c.deliverSigned(ev))
	for i := range c.lessons {
		step := next()
		if i == 0 {
			f.startedAt = step
		}
		lessonAt := step.Add(time.Duration(f.rng.IntN(5)) * time.Millisecond)
		progressAt := step.Add(time.Duration(f.rng.IntN(5)) * time.Millisecond)
		percent := math.Round(1000*float64(i+1)/float64(c.lessons)) / 10
		lesson, err := f.build(stride.TopicLessonCompleted, lessonAt, f.lesson(i))
		if err != nil {
			return err
		}
		progress, err := f.build(stride.TopicEnrollmentProgress, progressAt, f.enrollment(progressAt, percent))
		if err != nil {
			return err
		}
		pair := []delivery{c.deliverSigned(lesson), c.deliverSigned(progress)}
		if f.rng.IntN(2) == 0 {
			pair[0], pair[1] = pair[1], pair[0]
		}
		all(ctx, s, pair...)
	}
	at := next()
	if ev, err = f.build(stride.TopicEnrollmentCompleted, at, f.enrollment(at, 100)); err != nil {
		return err
	}
	s.send(ctx, c.deliverSigned(ev))
	return expectAccepted("journey", s.summary(), 2+2*c.lessons, c.subdomain)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// runDuplicates delivers one event count times at once: Stride must store it exactly once.
func runDuplicates(ctx context.Context, c *config, f *fixture, s *sender) error {
	ev, err := f.sample(c.topic)
	if err != nil {
		return err
	}
	ds := make([]delivery, c.count)
	for i := range ds {
		ds[i] = c.deliverSigned(ev)
	}
	all(ctx, s, ds...)
	tally := s.summary()
	if tally["accepted"] == 1 && tally["duplicate"] == c.count-1 {
		return nil
	}
	accepted, duplicate := tally["accepted"], tally["duplicate"]
	delete(tally, "duplicate") // expected here: no hint about seeds
	return fmt.Errorf("simulate: duplicates: %d accepted and %d duplicate of %d deliveries, want 1 and %d%s",
		accepted, duplicate, c.count, c.count-1, hint(tally, c.subdomain))
}

// runBadSignature sends a well-formed signature made with the wrong key: Stride must
// answer 401 and store nothing.
func runBadSignature(ctx context.Context, c *config, f *fixture, s *sender) error {
	ev, err := f.sample(c.topic)
	if err != nil {
		return err
	}
	d := c.deliverSigned(ev)
	d.Signature = thinkificdouble.Sign("not-"+c.secret, ev.Body)
	o := s.send(ctx, d)
	s.summary()
	if o.Code != 401 {
		return fmt.Errorf("simulate: bad-signature: Stride answered %d %s, want 401: it must refuse unsigned deliveries", o.Code, o.Status)
	}
	return nil
}

// replayLine is the wrapped form of a replay line, for bodies kept with their headers.
type replayLine struct {
	Topic     string          `json:"topic"`
	Subdomain string          `json:"subdomain"`
	Body      json.RawMessage `json:"body"`
	Resource  string          `json:"resource"`
}

// runReplay sends each line of a JSONL file in order, signed: a raw envelope as is, or a
// wrapped {"topic","subdomain","body"} with the body as is (an object) or its text (a string).
func runReplay(ctx context.Context, c *config, s *sender) error {
	ds, err := readReplay(c.file, c.subdomain, c.secret)
	if err != nil {
		return err
	}
	ok := 0
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.send(ctx, d).Code == 200 {
			ok++
		}
	}
	// A replay may rightly meet duplicates or sites Stride does not serve: any 200 will do.
	if tally := s.summary(); ok != len(ds) {
		return fmt.Errorf("simulate: replay: %d of %d deliveries answered 200%s", ok, len(ds), hint(tally, c.subdomain))
	}
	return nil
}

func readReplay(path, subdomain, secret string) ([]delivery, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulate: replay: %w", err)
	}
	var ds []delivery
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var w replayLine
		if err := json.Unmarshal(line, &w); err != nil {
			return nil, fmt.Errorf("simulate: replay: %s line %d: not a JSON object: %v", path, n, err)
		}
		d := delivery{Topic: w.Topic, Subdomain: w.Subdomain, Body: append([]byte(nil), line...)}
		if w.Resource == "" && len(w.Body) > 0 {
			d.Body = w.Body
			var text string
			if json.Unmarshal(w.Body, &text) == nil {
				d.Body = []byte(text)
			}
		}
		if env, err := events.ParseEnvelope(d.Body); err == nil {
			d.EventID = env.ID
			if d.Topic == "" {
				d.Topic = env.Topic()
			}
		}
		if d.Subdomain == "" {
			d.Subdomain = subdomain
		}
		switch {
		case d.Topic == "":
			return nil, fmt.Errorf("simulate: replay: %s line %d: no topic, and the body is not an event", path, n)
		case d.Subdomain == "":
			return nil, fmt.Errorf("simulate: replay: %s line %d: no subdomain: give --subdomain or a \"subdomain\" field", path, n)
		}
		d.Signature = thinkificdouble.Sign(secret, d.Body)
		ds = append(ds, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("simulate: replay: %s: %w", path, err)
	}
	if len(ds) == 0 {
		return nil, errors.New("simulate: replay: " + path + " has no deliveries")
	}
	return ds, nil
}
