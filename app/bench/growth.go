package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strideapp/stride/app/config"
	"github.com/strideapp/stride/app/secret"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// growthOptions are stride bench-growth's flags.
type growthOptions struct {
	events      int
	sites       int
	courses     int
	concurrency int
	keep        bool
	exe         string // the stride binary; "" is this program, tests build one
}

// RunGrowth is `stride bench-growth [flags]`: it sends learners' events through `stride
// serve` as Thinkific would, lets the worker apply them all, and reports how much room each
// table and its indexes take per applied event, before and after the delivery log's
// retention has removed the deliveries. It returns nil after --help.
func RunGrowth(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseGrowthFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return runGrowth(ctx, o, getenv, stdout)
}

func parseGrowthFlags(args []string, out io.Writer) (growthOptions, error) {
	fs := flag.NewFlagSet("stride bench-growth", flag.ContinueOnError)
	fs.SetOutput(out)
	var o growthOptions
	fs.IntVar(&o.events, "events", 1_000_000, "deliveries to send; every one is applied")
	fs.IntVar(&o.sites, "sites", 10, "installed sites the learners belong to")
	fs.IntVar(&o.courses, "courses", 8, "courses per site, of 20 to 60 lessons each")
	fs.IntVar(&o.concurrency, "concurrency", 32, "connections sending at once")
	fs.BoolVar(&o.keep, "keep", false, "leave the bench's sites and records in the database")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: DATABASE_URL=postgres://... stride bench-growth [flags]\n\n"+
			"Sends signed learner events (enrollments, lesson.completed with its enrollment.progress,\n"+
			"completions) through `stride serve` into a scratch PostgreSQL database, waits until the\n"+
			"worker has applied them all, and prints the size of every table and its indexes per applied\n"+
			"event: as written, and once the delivery log's retention (DELIVERY_RETENTION) has removed\n"+
			"the deliveries. Sizes are read after a plain VACUUM, as autovacuum leaves them.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("bench-growth: unexpected argument %q", fs.Arg(0))
	case o.events < 1, o.sites < 1 || o.sites > 1000, o.courses < 1 || o.courses > 99, o.concurrency < 1:
		return o, errors.New("bench-growth: needs --events ≥ 1, --sites from 1 to 1000, --courses from 1 to 99 and --concurrency ≥ 1")
	}
	return o, nil
}

func (o growthOptions) reproduce(databaseURL string) string {
	if u, err := url.Parse(databaseURL); err == nil {
		databaseURL = u.Redacted()
	}
	return fmt.Sprintf("DATABASE_URL='%s' stride bench-growth --events %d --sites %d --courses %d --concurrency %d",
		databaseURL, o.events, o.sites, o.courses, o.concurrency)
}

func runGrowth(ctx context.Context, o growthOptions, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv, config.NeedDatabase)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.DatabaseURL == "" {
		return errors.New("bench-growth needs DATABASE_URL naming a scratch PostgreSQL database (it installs and then " +
			"deletes its own sites); table sizes are PostgreSQL's")
	}
	env, err := serveEnv(cfg, getenv)
	if err != nil {
		return err
	}
	// The sites' dummy tokens are sealed under the key the server will hold.
	key, _ := hex.DecodeString(env["SECRET_KEY"])
	keys, err := secret.NewKeyring(key)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, MaxConns: 2, Keys: keys})
	if err != nil {
		return fmt.Errorf("bench-growth: %w", err)
	}
	defer db.Close()
	sites, err := seedSites(ctx, db, o.sites)
	if err != nil {
		return err
	}
	if !o.keep {
		defer deleteSites(context.WithoutCancel(ctx), db)
	}
	srv, err := startStride(o.exe, "serve", env)
	if err != nil {
		return err
	}
	defer srv.shutdown(30 * time.Second) // a no-op once stopped below
	if err := waitServing(ctx, env["APP_URL"], srv); err != nil {
		return err
	}

	l := newLoad(env["APP_URL"], env["THINKIFIC_CLIENT_SECRET"], sites, o.concurrency)
	m := newMix(l, o.courses, journeysAtOnce)
	start := time.Now()
	sent, bodyBytes, errs := m.send(ctx, o, stdout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if n := errs.total(); n > 0 {
		for msg, k := range errs.n {
			fmt.Fprintf(stdout, "error %d × %s\n", k, msg)
		}
		return fmt.Errorf("bench-growth: %d deliveries failed", n)
	}
	ids := make([]int64, len(sites))
	for i, s := range sites {
		ids[i] = s.id
	}
	left, err := inboxWaiting(ctx, db, ids, 10*time.Minute)
	if err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("bench-growth: the worker still had %d of %d deliveries to apply 10 minutes after sending ended", left, sent)
	}
	took := time.Since(start)
	if _, err := srv.shutdown(30 * time.Second); err != nil {
		return fmt.Errorf("bench-growth: stride serve: %w", err)
	}

	written, err := measureSizes(ctx, db)
	if err != nil {
		return err
	}
	// What the worker's upkeep does once DELIVERY_RETENTION has passed over these
	// deliveries: every settled one goes.
	pruned, err := db.DeleteOldDeliveries(ctx, time.Now())
	if err != nil {
		return err
	}
	kept, err := measureSizes(ctx, db)
	if err != nil {
		return err
	}

	set, err := db.Settings(ctx, "server_version")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nstride bench-growth: %d deliveries sent to stride serve over %d sites and applied, in %.0f s (%.0f events/s end to end)\n",
		sent, o.sites, took.Seconds(), float64(sent)/took.Seconds())
	fmt.Fprintf(stdout, "mix        %d courses per site of 20–60 lessons; %s; a delivery body averages %d B\n",
		o.courses, m.describe(), bodyBytes/int64(max(1, sent)))
	fmt.Fprintf(stdout, "database   PostgreSQL %s; sizes after a plain VACUUM (pg_table_size, pg_indexes_size)\n", set["server_version"])
	fmt.Fprintf(stdout, "reproduce  %s\n", o.reproduce(getenv("DATABASE_URL")))
	printSizes(stdout, "as written: the delivery log holds every delivery", written, int64(sent), o.sites)
	printSizes(stdout, fmt.Sprintf("after the retention window: %d deliveries removed from the delivery log", pruned), kept, int64(sent), o.sites)
	return nil
}

// measureSizes reads every table's size after a plain VACUUM, which frees dead rows for
// reuse as autovacuum would, without rewriting the tables as VACUUM FULL does.
func measureSizes(ctx context.Context, db *store.DB) ([]store.TableSize, error) {
	if err := db.Vacuum(ctx); err != nil {
		return nil, err
	}
	return db.TableSizes(ctx)
}

func printSizes(w io.Writer, title string, sizes []store.TableSize, events int64, sites int) {
	const row = "%-20s %11s %10s %10s %10s %9s %9s %9s\n"
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, row, "table", "rows", "table MB", "index MB", "total MB", "table B/e", "index B/e", "total B/e")
	var sum store.TableSize
	perEvent := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/float64(events)) }
	for _, s := range sizes {
		sum.Rows, sum.TableBytes, sum.IndexBytes = sum.Rows+s.Rows, sum.TableBytes+s.TableBytes, sum.IndexBytes+s.IndexBytes
		if s.Rows == 0 && s.Total() < 64<<10 {
			continue // an empty table: its few pages are in the total
		}
		fmt.Fprintf(w, row, s.Table, strconv.FormatInt(s.Rows, 10), mb(s.TableBytes), mb(s.IndexBytes), mb(s.Total()),
			perEvent(s.TableBytes), perEvent(s.IndexBytes), perEvent(s.Total()))
	}
	fmt.Fprintf(w, row, "all tables", strconv.FormatInt(sum.Rows, 10), mb(sum.TableBytes), mb(sum.IndexBytes), mb(sum.Total()),
		perEvent(sum.TableBytes), perEvent(sum.IndexBytes), perEvent(sum.Total()))
	fmt.Fprintf(w, "per million applied events %s MB; per active site (%d sites, %d events each) %s MB\n",
		mb(sum.Total()*1_000_000/events), sites, events/int64(sites), mb(sum.Total()/int64(sites)))
}

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// mix makes the events of learners going through courses, site after site: a learner
// enrolls, completes lessons in order — each a lesson.completed and its enrollment.progress
// a few milliseconds apart — and either finishes the course (enrollment.completed) or stops
// somewhere. Each site has many learners under way at once, so a learner's next step comes
// seconds after the last, beyond the pairing window, as with people.
type mix struct {
	l       *load
	mu      sync.Mutex
	sites   []*siteMix
	next    int
	events  atomic.Int64
	created int // journeys begun, and of them by learners already enrolled elsewhere
	again   int
}

// siteMix is one site's courses and the journeys under way in it.
type siteMix struct {
	site     *benchSite
	lessons  []int // per course (ids 1..n), 20 to 60
	active   []*journey
	enrolled map[int64]bool // enrollment ids begun
	learners int64
	rng      *rand.Rand
}

// journey is one learner's way through one course.
type journey struct {
	learner, course int64
	lessons, done   int
	stopAt          int // lessons done when the learner stops; == lessons: finishes
	begun           bool
}

// journeysAtOnce is how many learners of a site are under way at once in the bench.
const journeysAtOnce = 400

func newMix(l *load, courses, atOnce int) *mix {
	m := &mix{l: l}
	for i := range l.sites {
		s := &siteMix{site: &l.sites[i], enrolled: map[int64]bool{}, rng: rand.New(rand.NewPCG(uint64(i), 42))}
		for range courses {
			s.lessons = append(s.lessons, 20+s.rng.IntN(41))
		}
		for range atOnce {
			s.active = append(s.active, m.begin(s))
		}
		m.sites = append(m.sites, s)
	}
	return m
}

// begin starts a journey: mostly a new learner, sometimes one already enrolled in another
// course of the site. Two in five finish the course; the others stop at a lesson taken
// evenly from all of them.
func (m *mix) begin(s *siteMix) *journey {
	m.created++
	for {
		learner := s.learners + 1
		if s.learners > 0 && s.rng.IntN(10) < 3 {
			learner = 1 + s.rng.Int64N(s.learners)
		}
		course := 1 + s.rng.Int64N(int64(len(s.lessons)))
		if s.enrolled[learner*100+course] {
			continue
		}
		if learner > s.learners {
			s.learners = learner
		} else {
			m.again++
		}
		s.enrolled[learner*100+course] = true
		j := &journey{learner: learner, course: course, lessons: s.lessons[course-1]}
		j.stopAt = j.lessons
		if s.rng.IntN(5) >= 2 {
			j.stopAt = 1 + s.rng.IntN(j.lessons)
		}
		return j
	}
}

// step gives the next deliveries of some learner of the next site.
func (m *mix) step(at time.Time) []delivery {
	m.mu.Lock()
	s := m.sites[m.next%len(m.sites)]
	m.next++
	k := s.rng.IntN(len(s.active))
	j := s.active[k]
	var what int // 0: enroll, 1: a lesson, 2: the course completed
	switch {
	case !j.begun:
		j.begun = true
	case j.done < j.stopAt:
		j.done++
		what = 1
	default:
		what = 2
	}
	if j.done == j.stopAt && (what == 2 || j.stopAt < j.lessons) {
		s.active[k] = m.begin(s)
	}
	m.mu.Unlock()

	n := m.events.Add(1)
	id := fmt.Sprintf("growth-%s-%d", m.l.run, n)
	enrollment := j.learner*100 + j.course
	switch what {
	case 0:
		return []delivery{m.enrollment(s, id, stride.TopicEnrollmentCreated, at, j, enrollment, 0)}
	case 2:
		return []delivery{m.enrollment(s, id, stride.TopicEnrollmentCompleted, at, j, enrollment, 100)}
	}
	position := j.done - 1
	lessonID := j.course*1000 + int64(j.done)
	chapter := j.course*100 + int64(position/10+1)
	later := at.Add(time.Duration(rand.IntN(6)) * time.Millisecond)
	percent := 100 * float64(j.done) / float64(j.lessons)
	lesson := m.l.event(s.site, id+"-l", stride.TopicLessonCompleted, at,
		fmt.Appendf(nil, lessonJSON, chapter, j.course, enrollment, lessonID, position%10, j.learner, j.learner))
	progress := m.l.event(s.site, id+"-p", stride.TopicEnrollmentProgress, later,
		fmt.Appendf(nil, progressJSON, j.course, enrollment, percent, thinkificdouble.Stamp(later), j.learner, j.learner))
	halves := shuffled(lesson, progress)
	return halves[:]
}

// enrollmentJSON is an enrollment.created or enrollment.completed payload: the enrollment
// as Thinkific publishes it.
const enrollmentJSON = `{"activated_at":%[4]q,"course":{"id":%[1]d,"name":"Course %[1]d: ` + courseName + `"},` +
	`"course_id":%[1]d,"created_at":%[4]q,"expiry_date":null,"free_trial":false,"id":%[2]d,` +
	`"percentage_completed":%[3]q,"started_at":%[4]q,"updated_at":%[4]q,"completed_at":%[5]s,` + userJSON + `}`

func (m *mix) enrollment(s *siteMix, id, topic string, at time.Time, j *journey, enrollment int64, percent float64) delivery {
	stamp, completed := thinkificdouble.Stamp(at), "null"
	if percent >= 100 {
		completed = strconv.Quote(stamp)
	}
	return m.l.event(s.site, id, topic, at,
		fmt.Appendf(nil, enrollmentJSON, j.course, enrollment, strconv.FormatFloat(percent, 'f', 2, 64), stamp, completed, j.learner, j.learner))
}

func (m *mix) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var learners int64
	for _, s := range m.sites {
		learners += s.learners
	}
	return fmt.Sprintf("%d learners began %d courses (%d of them a second or later course); two in five finish a course",
		learners, m.created, m.again)
}

// send posts o.events deliveries from o.concurrency connections, and reports how many were
// sent, their bytes and the errors. A line every tenth of the way shows progress.
func (m *mix) send(ctx context.Context, o growthOptions, out io.Writer) (sent int, bodyBytes int64, errs *tally) {
	errs = &tally{}
	var count, bytes atomic.Int64
	tenth := int64(max(1, o.events/10))
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				ds := m.step(time.Now())
				for _, d := range ds {
					n := count.Add(1)
					if n > int64(o.events) {
						return
					}
					bytes.Add(int64(len(d.body)))
					if err := m.l.post(ctx, d); err != nil {
						errs.add(err)
					}
					if n%tenth == 0 {
						fmt.Fprintf(out, "bench-growth: %d of %d deliveries sent in %.0f s\n", n, o.events, time.Since(start).Seconds())
					}
				}
			}
		})
	}
	wg.Wait()
	return int(min(count.Load(), int64(o.events))), bytes.Load(), errs
}
