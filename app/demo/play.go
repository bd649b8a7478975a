package demo

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// Step is a learner step the demo played: what the dashboard must show.
type Step struct {
	Learner, Course, Lesson int64
	At                      time.Time
	Before, After           float64
}

// event is one delivery to make: when it happened and what it says.
type event struct {
	site  *Site
	topic string
	body  []byte
	at    time.Time
	pair  int // events with the same non-zero pair fire together
}

type player struct {
	o                          Options
	out                        io.Writer
	r                          *rand.Rand
	sent, steps, dups, retried atomic.Int64
	mu                         sync.Mutex
	nextID                     int64
}

func newPlayer(o Options, out io.Writer) *player {
	return &player{o: o, out: out, r: rand.New(rand.NewPCG(o.Seed, 2026)), nextID: 20260000000000000}
}

// play makes every site's learners and delivers their events in the order they happened.
func (p *player) play(ctx context.Context, sites []*Site) error {
	var evs []event
	pair := 0
	for _, s := range sites {
		for i := range p.o.Learners {
			evs = append(evs, p.learner(s, i+1, &pair)...)
		}
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	total := len(evs)
	done := make(chan struct{})
	go p.report(done, total)
	defer close(done)

	// A learner step's two events go out together, in either order; the rest one by one.
	var wg sync.WaitGroup
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for i := 0; i < len(evs); i++ {
		group := []event{evs[i]}
		for evs[i].pair != 0 && i+1 < len(evs) && evs[i+1].pair == evs[i].pair {
			i++
			group = append(group, evs[i])
		}
		p.r.Shuffle(len(group), func(a, b int) { group[a], group[b] = group[b], group[a] })
		for _, e := range group {
			wg.Add(1)
			go func(e event) {
				defer wg.Done()
				p.deliver(ctx, e)
			}(e)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		case <-pace.C:
		}
	}
	wg.Wait()
	return nil
}

// deliver sends e as Thinkific does: some first attempts fail and are retried on
// Thinkific's schedule (compressed by --speed), some deliveries come twice.
func (p *player) deliver(ctx context.Context, e event) {
	p.mu.Lock()
	lost, twice := p.r.IntN(25) == 0, p.r.IntN(20) == 0
	p.mu.Unlock()
	schedule := []time.Duration{0, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}
	for try, wait := range schedule {
		if try > 0 {
			p.retried.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(float64(wait) / p.o.Speed)):
			}
		}
		if lost && try == 0 {
			continue // the network lost the first attempt
		}
		if ok := send(ctx, e); ok {
			p.sent.Add(1)
			if twice {
				p.dups.Add(1)
				send(ctx, e)
			}
			return
		}
	}
}

func send(ctx context.Context, e event) bool {
	ds := e.site.Thinkific.DeliverRaw(ctx, e.topic, e.body)
	for _, d := range ds {
		if d.Err != nil || d.Status/100 != 2 {
			return false
		}
	}
	return len(ds) > 0
}

func (p *player) report(done <-chan struct{}, total int) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			fmt.Fprintf(p.out, "\rdelivered %d/%d events · %d delivered twice · %d retries       \n", p.sent.Load(), total, p.dups.Load(), p.retried.Load())
			return
		case <-t.C:
			fmt.Fprintf(p.out, "\rdelivering %d/%d events · %d delivered twice · %d retries", p.sent.Load(), total, p.dups.Load(), p.retried.Load())
		}
	}
}

// learner makes the n-th new learner's history in one course of the school over the last
// 30 days: most start, some finish, some stall for weeks, some drop off after a lesson or
// two. The learner and the enrollment join the site's catalog as they end up, so the REST
// API (a Re-import) and the webhooks tell of the same enrollment.
func (p *player) learner(s *Site, n int, pair *int) []event {
	site := s.Thinkific
	now := time.Now().UTC()
	begin := now.Add(-time.Duration(p.r.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond)
	c := s.courses[p.r.IntN(len(s.courses))]
	var lessons int
	switch kind := p.r.IntN(10); {
	case kind < 3:
		lessons = len(c.contents) // finishes
	case kind < 5:
		lessons = 1 + p.r.IntN(2) // drops off
	case kind < 6:
		lessons = 0 // enrolled, never started
	default:
		lessons = 2 + p.r.IntN(len(c.contents)-2)
	}
	var times []time.Time
	for t := begin; len(times) < lessons; {
		// Realistic gaps: minutes within a sitting, days between sittings.
		if p.r.IntN(3) == 0 {
			t = t.Add(time.Duration(6+p.r.IntN(60)) * time.Hour)
		} else {
			t = t.Add(time.Duration(3+p.r.IntN(20)) * time.Minute)
		}
		if t.After(now) {
			break
		}
		times = append(times, t)
	}
	percent := func(k int) float64 { return math.Round(1000*float64(k)/float64(len(c.contents))) / 10 }
	finished := len(times) == len(c.contents)
	u := site.AddUser(thinkificdouble.User{Email: fmt.Sprintf("learner%d@%s.example", schoolLearners+n, site.Subdomain()),
		FirstName: demoNames[n%len(demoNames)], LastName: fmt.Sprint("L", n), CreatedAt: begin})
	e := thinkificdouble.Enrollment{UserID: u.ID, CourseID: c.id, CreatedAt: begin, UpdatedAt: begin}
	var doneAt time.Time
	if len(times) > 0 {
		e.StartedAt, e.UpdatedAt, e.Percentage = &times[0], times[len(times)-1], percent(len(times))/100
	}
	if finished {
		doneAt = times[len(times)-1].Add(time.Second)
		e.Completed, e.CompletedAt, e.UpdatedAt = true, &doneAt, doneAt
	}
	e = site.AddEnrollment(e)

	// Each event carries the enrollment as it stood then.
	enrollment := func(pct float64, at time.Time) map[string]any {
		m := site.EnrollmentPayload(e.ID)
		m["percentage_completed"] = fmt.Sprintf("%.1f", pct)
		m["updated_at"] = thinkificdouble.Stamp(at)
		m["started_at"], m["completed_at"] = nil, nil
		if e.StartedAt != nil && !at.Before(*e.StartedAt) {
			m["started_at"] = thinkificdouble.Stamp(*e.StartedAt)
		}
		if finished && !at.Before(doneAt) {
			m["completed_at"] = thinkificdouble.Stamp(doneAt)
		}
		return m
	}
	evs := []event{p.event(s, stride.TopicEnrollmentCreated, begin, 0, enrollment(0, begin))}
	before := 0.0
	for k, t := range times {
		lesson := c.contents[k]
		after := percent(k + 1)
		*pair++
		evs = append(evs,
			p.event(s, stride.TopicLessonCompleted, t, *pair, site.LessonCompletedPayload(e.ID, lesson)),
			p.event(s, stride.TopicEnrollmentProgress, t.Add(time.Duration(p.r.IntN(40))*time.Millisecond), *pair, enrollment(after, t)))
		s.Played = append(s.Played, Step{Learner: e.UserID, Course: c.id, Lesson: lesson, At: t.Truncate(time.Millisecond), Before: before, After: after})
		p.steps.Add(1)
		before = after
	}
	if finished {
		evs = append(evs, p.event(s, stride.TopicEnrollmentCompleted, doneAt, 0, enrollment(100, doneAt)))
	}
	return evs
}

var demoNames = []string{"Ada", "Bea", "Cyrus", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ines", "Jun", "Kofi", "Lena"}

func (p *player) event(s *Site, topic string, at time.Time, pair int, payload any) event {
	p.nextID++
	body, err := thinkificdouble.NewEvent(fmt.Sprint(p.nextID), topic, s.Thinkific.TenantID(), s.Thinkific.GID(), at, payload)
	if err != nil {
		panic(err) // payloads are maps of plain values
	}
	return event{site: s, topic: topic, body: body, at: at, pair: pair}
}
