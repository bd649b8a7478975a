package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// benchSite is a site the bench installed; events name it in their header and body.
type benchSite struct {
	id                     int64
	subdomain, gid, tenant string
}

// delivery is one signed webhook request.
type delivery struct {
	site           *benchSite
	eventID, topic string
	body           []byte
	signature      string
}

// load sends learner steps to one server as Thinkific would, and measures the answers.
type load struct {
	url    string // the webhook endpoint
	secret string // the client secret that signs
	client *http.Client
	sites  []benchSite
	run    string       // keeps event ids of runs on one database apart
	steps  atomic.Int64 // learner steps made so far
}

func newLoad(base, clientSecret string, sites []benchSite, conns int) *load {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	return &load{url: base + "/webhooks/thinkific", secret: clientSecret, sites: sites, run: secret.RandomHex(4),
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Bodies are Thinkific's published shapes, with names long enough to reach the ~1 KB of a
// real event: reading, signing and storing cost more as bodies grow.
const (
	courseName  = "Building a Sustainable Online Business with Video Lessons, Live Cohorts, Community Forums, Weekly Office Hours, Accountability Partners and One-to-One Coaching for Small Teams"
	chapterName = "Foundations of Course Design, Learner Engagement and Measuring Outcomes Across Cohorts"
	lessonName  = "Planning Your First Module, Recording Clean Audio, Editing for Pace and Publishing on Any Device"
	userJSON    = `"user":{"email":"alexandra-catherine.montgomery-fitzgerald.%d@learners.example-academy-of-online-entrepreneurship-and-creative-arts.com",` +
		`"first_name":"Alexandra-Catherine Elisabeth Marguerite","id":%d,"last_name":"Montgomery-Fitzgerald of Ashby-de-la-Zouch and Kirkby-in-Ashfield, Leicestershire"}`
	lessonJSON = `{"chapter":{"id":%d,"name":"Chapter %[1]d: ` + chapterName + `"},"course":{"id":%d,"name":"Course %[2]d: ` + courseName + `"},` +
		`"enrollment":{"id":%d},"lesson":{"id":%d,"name":"Lesson %[4]d: ` + lessonName + `","position":%d,"type":"Video"},` + userJSON + `}`
	progressJSON = `{"activated_at":"2026-01-05T09:00:00.000Z","completed_at":null,"course":{"id":%d,"name":"Course %[1]d: ` + courseName + `"},` +
		`"course_id":%[1]d,"created_at":"2026-01-05T09:00:00.000Z","expiry_date":null,"free_trial":false,"id":%d,` +
		`"percentage_completed":"%.2f","started_at":"2026-01-05T09:00:00.000Z","updated_at":%q,` + userJSON + `}`
)

// learnersPerSite is large enough that a learner's next step comes seconds after the last,
// beyond the pairing window, as with people: each step pairs on its own.
const learnersPerSite = 2000

// step makes one learner step happening at `at`: its lesson.completed, and its
// enrollment.progress up to 5 ms later.
func (l *load) step(at time.Time) (lesson, progress delivery) {
	n := l.steps.Add(1) - 1
	site := &l.sites[n%int64(len(l.sites))]
	k := n / int64(len(l.sites))
	learner, round := 1+k%learnersPerSite, k/learnersPerSite
	course := 1 + learner%5
	position := round % 40
	lessonID, chapter, enrollment := course*100+position, course*10+position/10, learner*100+course
	percent := float64(position+1) * 2.5
	id := fmt.Sprintf("bench-%s-%d", l.run, n)
	later := at.Add(time.Duration(rand.IntN(6)) * time.Millisecond)

	lesson = l.event(site, id+"-l", stride.TopicLessonCompleted, at,
		fmt.Appendf(nil, lessonJSON, chapter, course, enrollment, lessonID, position, learner, learner))
	progress = l.event(site, id+"-p", stride.TopicEnrollmentProgress, later,
		fmt.Appendf(nil, progressJSON, course, enrollment, percent, thinkificdouble.Stamp(later), learner, learner))
	return lesson, progress
}

// event wraps a payload made from the templates above, signed.
func (l *load) event(site *benchSite, eventID, topic string, at time.Time, payload []byte) delivery {
	body, err := thinkificdouble.NewEvent(eventID, topic, site.tenant, site.gid, at, json.RawMessage(payload))
	if err != nil {
		panic(err) // the templates make valid JSON; a test checks
	}
	return delivery{site: site, eventID: eventID, topic: topic, body: body, signature: thinkificdouble.Sign(l.secret, body)}
}

// post sends d and waits for the answer. Anything but a 200 "accepted" is an error: a 200
// "ignored" would mean nothing was stored.
func (l *load) post(ctx context.Context, d delivery) error {
	code, b, err := thinkificdouble.Post(ctx, l.client, l.url, d.topic, d.site.subdomain, d.signature, d.body)
	if code == 0 {
		return err
	}
	var answer struct{ Status, Error string }
	json.Unmarshal(b, &answer)
	if code != http.StatusOK || answer.Status != "accepted" {
		return fmt.Errorf("HTTP %d %s%s", code, answer.Status, answer.Error)
	}
	return nil
}

// phase is what one phase of sending saw.
type phase struct {
	acked   []time.Duration // ack latency of each accepted delivery
	elapsed time.Duration
	sent    int
	errs    tally
}

// throughput sends from `conns` connections back to back for d. Requests still in flight
// at the end are awaited and counted, and elapsed runs until the last answer.
func (l *load) throughput(ctx context.Context, conns int, d time.Duration) *phase {
	p := &phase{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range conns {
		wg.Go(func() {
			var acked []time.Duration
			sent := 0
			for time.Now().Before(end) && ctx.Err() == nil {
				lesson, progress := l.step(time.Now())
				for _, dl := range shuffled(lesson, progress) {
					t := time.Now()
					sent++
					if err := l.post(ctx, dl); err != nil {
						p.errs.add(err)
						continue
					}
					acked = append(acked, time.Since(t))
				}
			}
			mu.Lock()
			p.acked, p.sent = append(p.acked, acked...), p.sent+sent
			mu.Unlock()
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	return p
}

// shuffled gives the two halves of a step in random order: Thinkific promises none.
func shuffled(a, b delivery) [2]delivery {
	if rand.IntN(2) == 0 {
		return [2]delivery{b, a}
	}
	return [2]delivery{a, b}
}

// pendingStep is a step whose halves were both accepted, waiting to be seen paired.
type pendingStep struct {
	store.StepRef
	acked time.Time // the later half's 200
}

// fixedRate sends rate events a second for d, open loop: each event goes at its scheduled
// time whatever became of the ones before, and its latency counts from that time, so a
// stalled server shows as latency instead of as fewer requests (no coordinated omission).
// Events are the halves of learner steps; each fully accepted step goes to steps.
func (l *load) fixedRate(ctx context.Context, rate int, d time.Duration, steps chan<- pendingStep) *phase {
	interval := time.Second / time.Duration(rate)
	total := int(d/interval) &^ 1
	p := &phase{sent: total}
	latency := make([]time.Duration, total) // by slot; -1 for an error or a slot never sent
	for i := range latency {
		latency[i] = -1
	}
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond)
	for slot := 0; slot < total && ctx.Err() == nil; slot += 2 {
		at := start.Add(time.Duration(slot) * interval)
		time.Sleep(time.Until(at))
		lesson, progress := l.step(at)
		halves := shuffled(lesson, progress)
		var mu sync.Mutex
		var last time.Time
		left, failed := 2, false
		for h := range 2 {
			wg.Go(func() {
				due := at.Add(time.Duration(h) * interval)
				time.Sleep(time.Until(due))
				err := l.post(ctx, halves[h])
				now := time.Now()
				if err != nil {
					p.errs.add(err)
					latency[slot+h] = -1
				} else {
					latency[slot+h] = now.Sub(due)
				}
				mu.Lock()
				defer mu.Unlock()
				left, failed = left-1, failed || err != nil
				if now.After(last) {
					last = now
				}
				if left == 0 && !failed {
					steps <- pendingStep{store.StepRef{SiteID: lesson.site.id, LessonEvent: lesson.eventID, ProgressEvent: progress.eventID}, last}
				}
			})
		}
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	for _, lat := range latency {
		if lat >= 0 {
			p.acked = append(p.acked, lat)
		}
	}
	return p
}

// pairing is what the poller saw of the steps sent at a fixed rate.
type pairing struct {
	latency  []time.Duration // from the later half's 200 to the step shown paired
	unpaired int             // not seen paired within pairGiveUp after sending ended
}

const (
	pairGiveUp = 30 * time.Second
	// pairPeek is how many of the oldest waiting steps one poll checks; a poll over a whole
	// backlog would load PostgreSQL and slow the worker it measures.
	pairPeek = 64
)

// watchPairing polls until every step from steps is seen paired or
// pairGiveUp has passed since steps closed. The worker applies the inbox oldest first, so
// while the oldest waiting step is not paired no younger one is: a poll looks that one up
// alone, and only when it is paired checks the next pairPeek. Polls are 5 ms apart, or
// twice as long as the last query took; when a whole peek was paired the next follows at
// once. A step's latency runs to the start of the query that saw it paired.
func watchPairing(ctx context.Context, db *store.DB, steps <-chan pendingStep) (pairing, error) {
	var res pairing
	var waiting []pendingStep // oldest first
	open, wait := true, 5*time.Millisecond
	var closed time.Time
	for open || len(waiting) > 0 {
		time.Sleep(wait)
		open = receive(steps, &waiting, open)
		if !open && closed.IsZero() {
			closed = time.Now()
		}
		if !open && time.Since(closed) > pairGiveUp {
			res.unpaired = len(waiting)
			break
		}
		if len(waiting) == 0 {
			continue
		}
		at := time.Now()
		peek := waiting[:1]
		paired, err := pairedNow(ctx, db, peek)
		if err == nil && len(paired) == 1 {
			peek = waiting[:min(pairPeek, len(waiting))]
			paired, err = pairedNow(ctx, db, peek)
		}
		if err != nil {
			return res, err
		}
		wait = max(5*time.Millisecond, 2*time.Since(at))
		if len(paired) == len(peek) && len(waiting) > len(peek) {
			wait = 0
		}
		kept := peek[:0]
		for _, s := range peek {
			if paired[s.LessonEvent] {
				res.latency = append(res.latency, max(0, at.Sub(s.acked)))
			} else {
				kept = append(kept, s)
			}
		}
		waiting = append(kept, waiting[len(peek):]...)
	}
	return res, nil
}

// receive moves what steps holds to waiting without blocking, and says whether steps is
// still open.
func receive(steps <-chan pendingStep, waiting *[]pendingStep, open bool) bool {
	for open {
		select {
		case s, ok := <-steps:
			if !ok {
				return false
			}
			*waiting = append(*waiting, s)
		default:
			return true
		}
	}
	return false
}

// pairedNow says which steps are seen paired, by lesson event id.
func pairedNow(ctx context.Context, db *store.DB, steps []pendingStep) (map[string]bool, error) {
	refs := make([]store.StepRef, len(steps))
	for i, s := range steps {
		refs[i] = s.StepRef
	}
	return db.PairedSteps(ctx, refs)
}

// inboxWaiting counts the bench sites' accepted events that the worker has yet to apply:
// at once, or once none are left or limit has passed. Until then it only asks whether any
// are left, which costs PostgreSQL little while the worker it waits for is busy.
func inboxWaiting(ctx context.Context, db *store.DB, sites []int64, limit time.Duration) (int64, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if some, err := db.Unapplied(ctx, 1, sites...); err != nil || some == 0 {
			return 0, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return db.Unapplied(ctx, 0, sites...)
}

// tally counts errors by their text.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[err.Error()]++
}

func (t *tally) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	sum := 0
	for _, n := range t.n {
		sum += n
	}
	return sum
}

// cpuTicks are CPU times in clock ticks: the machine's (busy, and in all), the load's (this
// process) and the server's.
type cpuTicks struct{ busy, all, load, server float64 }

func sampleCPU(pid int) cpuTicks {
	c := machineTicks()
	c.server, c.load = procTicks(pid), procTicks(os.Getpid())
	return c
}

// machineTicks reads the machine's busy and total time from /proc/stat.
func machineTicks() cpuTicks {
	var c cpuTicks
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:min(9, len(f))] {
		n, _ := strconv.ParseFloat(v, 64)
		c.all += n
		if i != 3 && i != 4 {
			c.busy += n
		}
	}
	return c
}

// procTicks is a process's user and system CPU time (fields 14 and 15 of /proc/pid/stat).
func procTicks(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseFloat(f[11], 64)
	sys, _ := strconv.ParseFloat(f[12], 64)
	return user + sys
}

// cpuShare is CPU use over a phase in percent of one core; other is everything else that
// ran on the machine: PostgreSQL when it is alone, and the kernel's share of network and disk.
type cpuShare struct{ server, load, other, capacity float64 }

func (s cpuShare) String() string {
	return fmt.Sprintf("serve %.0f%%, load generator %.0f%%, rest of the machine (PostgreSQL, kernel, anything else) %.0f%%, of %.0f%%", s.server, s.load, s.other, s.capacity)
}

func (a cpuTicks) to(b cpuTicks) cpuShare {
	all := b.all - a.all
	if all <= 0 {
		return cpuShare{}
	}
	cores := float64(runtime.NumCPU())
	pct := func(t float64) float64 { return 100 * t * cores / all }
	s := cpuShare{server: pct(b.server - a.server), load: pct(b.load - a.load), capacity: 100 * cores}
	s.other = max(0, pct(b.busy-a.busy)-s.server-s.load)
	return s
}

// watchRSS samples pid's resident memory until the returned function is called, which
// gives the largest sample, in bytes.
func watchRSS(pid int, every time.Duration) func() int64 {
	var peak int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			peak = max(peak, statusBytes(pid, "VmRSS"))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak
	}
}

// statusBytes reads a memory figure (kB there) of /proc/pid/status.
func statusBytes(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// spread summarises latencies; percentiles are nearest-rank.
type spread struct {
	n             int
	p50, p99, max time.Duration
}

func spreadOf(d []time.Duration) spread {
	if len(d) == 0 {
		return spread{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return spread{n: len(s), p50: rank(0.50), p99: rank(0.99), max: s[len(s)-1]}
}

func (s spread) String() string {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("%.1f / %.1f / %.1f ms", ms(s.p50), ms(s.p99), ms(s.max))
}
