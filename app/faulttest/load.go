//go:build fault

package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// event is one signed delivery as Thinkific would send it.
type event struct {
	Site  site
	ID    string
	Topic string
	Body  []byte
}

func (e *event) String() string {
	return fmt.Sprintf("event %s (%s, site %s #%d)", e.ID, e.Topic, e.Site.Subdomain, e.Site.ID)
}

// events makes unique events for a few sites: learners completing lessons, each
// lesson.completed followed by the enrollment.progress it caused, as Thinkific sends them.
type events struct {
	mu    sync.Mutex
	n     int
	sites []site
	start time.Time
}

func newEvents(sites []site) *events {
	return &events{sites: sites, start: time.Now().UTC().Truncate(time.Second).Add(-time.Hour)}
}

const lessonsPerCourse = 20

func (g *events) next() *event {
	g.mu.Lock()
	n := g.n
	g.n++
	g.mu.Unlock()

	step := n / 2 // a lesson.completed and its enrollment.progress
	s := g.sites[step%len(g.sites)]
	learner := 5000 + (step/len(g.sites))%37
	course := 300 + (step/len(g.sites)/37)%3
	position := (step / len(g.sites) / 111) % lessonsPerCourse
	enrollment := learner*10 + course%10
	at := g.start.Add(time.Duration(step) * time.Second)
	user := map[string]any{"id": learner, "email": fmt.Sprintf("learner%d@example.com", learner),
		"first_name": "Learner", "last_name": fmt.Sprint(learner)}
	ev := &event{Site: s, ID: fmt.Sprintf("%s%09d", g.start.Format("20060102150405"), n)}
	created, payload := at, any(nil)
	if n%2 == 0 {
		ev.Topic = stride.TopicLessonCompleted
		payload = map[string]any{
			"chapter":    map[string]any{"id": course*10 + position/5, "name": fmt.Sprintf("Chapter %d", position/5+1)},
			"course":     map[string]any{"id": course, "name": fmt.Sprintf("Course %d", course)},
			"enrollment": map[string]any{"id": enrollment},
			"lesson": map[string]any{"id": course*100 + position, "name": fmt.Sprintf("Lesson %d", position+1),
				"position": position, "type": "Video"},
			"user": user,
		}
	} else {
		ev.Topic = stride.TopicEnrollmentProgress
		created = at.Add(150 * time.Millisecond)
		payload = map[string]any{
			"id": enrollment, "course_id": course, "course": map[string]any{"id": course, "name": fmt.Sprintf("Course %d", course)},
			"user": user, "percentage_completed": fmt.Sprintf("%.1f", float64(position+1)*100/lessonsPerCourse),
			"activated_at": thinkificdouble.Stamp(g.start), "started_at": thinkificdouble.Stamp(g.start), "created_at": thinkificdouble.Stamp(g.start),
			"updated_at": thinkificdouble.Stamp(at), "completed_at": nil, "expiry_date": nil, "free_trial": false,
		}
	}
	body, err := thinkificdouble.NewEvent(ev.ID, ev.Topic, s.TenantID, s.GID, created, payload)
	if err != nil {
		panic(err)
	}
	ev.Body = body
	return ev
}

// answer is what one delivery attempt got back.
type answer struct {
	To        string // the base URL the delivery went to
	Sent, Got time.Time
	Status    int    // 0: no answer (connection refused or reset, timeout)
	Outcome   string // the status field of a 2xx body: accepted or duplicate
	Err       error
}

func (a answer) ok() bool { return a.Status >= 200 && a.Status < 300 }

func (a answer) took() time.Duration { return a.Got.Sub(a.Sent) }

func (a answer) String() string {
	if a.Status == 0 {
		return fmt.Sprintf("no answer after %v (%v)", a.took().Round(time.Millisecond), a.Err)
	}
	if a.ok() {
		return fmt.Sprintf("%d %s after %v", a.Status, a.Outcome, a.took().Round(time.Millisecond))
	}
	return fmt.Sprintf("%d after %v", a.Status, a.took().Round(time.Millisecond))
}

// record is an event with every answer its deliveries got.
type record struct {
	*event
	answers []answer
}

// acked is the first 2xx the event got, if any.
func (r *record) acked() (answer, bool) {
	for _, a := range r.answers {
		if a.ok() {
			return a, true
		}
	}
	return answer{}, false
}

// ledger remembers every delivery sent and what came back, as Thinkific's side sees it.
type ledger struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	recs   []*record
	byID   map[string]*record
}

func newLedger(url string) *ledger {
	return &ledger{url: url, byID: map[string]*record{},
		// No retries of its own: what the test sees is what Thinkific would see. The timeout
		// is well above the 3 s an answer may take, so that a slow answer is measured.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// deliver POSTs ev as Thinkific does and records the answer.
func (l *ledger) deliver(ev *event) answer { return l.deliverTo(l.url, ev) }

// deliverTo is deliver to the Stride at url, one of several processes behind one address.
func (l *ledger) deliverTo(url string, ev *event) answer {
	a := answer{To: url, Sent: time.Now()}
	status, body, err := thinkificdouble.Post(context.Background(), l.client, url+"/webhooks/thinkific",
		ev.Topic, ev.Site.Subdomain, thinkificdouble.Sign(clientSecret, ev.Body), ev.Body)
	if status == 0 {
		a.Err = err
	} else {
		a.Status = status
		var out struct {
			Status  string `json:"status"`
			EventID string `json:"event_id"`
		}
		if a.ok() && json.Unmarshal(body, &out) == nil {
			a.Outcome = out.Status
			if out.EventID != ev.ID {
				a.Outcome = fmt.Sprintf("%s for event_id %q (sent %q)", out.Status, out.EventID, ev.ID)
			}
		}
	}
	a.Got = time.Now()

	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byID[ev.ID]
	if r == nil {
		r = &record{event: ev}
		l.byID[ev.ID] = r
		l.recs = append(l.recs, r)
	}
	r.answers = append(r.answers, a)
	return a
}

// records is every event sent so far, in the order first sent.
func (l *ledger) records() []*record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*record, len(l.recs))
	copy(out, l.recs)
	return out
}

// unacked is every event sent so far that has no 2xx yet.
func (l *ledger) unacked() []*record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*record
	for _, r := range l.recs {
		if _, ok := r.acked(); !ok {
			out = append(out, r)
		}
	}
	return out
}

// answers is every answer so far, with its event.
func (l *ledger) answers() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attempt
	for _, r := range l.recs {
		for _, a := range r.answers {
			out = append(out, attempt{r.event, a})
		}
	}
	return out
}

type attempt struct {
	ev *event
	answer
}

// load sends new events from several goroutines until ctx ends, as a busy Thinkific would.
// After an answer that is not a 2xx, a sender pauses briefly, so that an outage does not
// turn into tens of thousands of events.
func (l *ledger) load(ctx context.Context, gen *events, senders int) (wait func()) {
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				if a := l.deliver(gen.next()); !a.ok() {
					time.Sleep(50 * time.Millisecond)
				} else {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return wg.Wait
}

// resend delivers again, as Thinkific's retries would, every event that has no 2xx yet,
// until it gets one (a few tries each). It returns the events that never got one.
func (l *ledger) resend(senders int) []*record {
	todo := make(chan *record)
	var mu sync.Mutex
	var failed []*record
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for r := range todo {
				ok := false
				for try := 0; try < 5 && !ok; try++ {
					if try > 0 {
						time.Sleep(200 * time.Millisecond)
					}
					ok = l.deliver(r.event).ok()
				}
				if !ok {
					mu.Lock()
					failed = append(failed, r)
					mu.Unlock()
				}
			}
		})
	}
	for _, r := range l.unacked() {
		todo <- r
	}
	close(todo)
	wg.Wait()
	return failed
}
