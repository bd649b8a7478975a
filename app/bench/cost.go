package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/strideapp/stride/app/internal/loopback"
	"github.com/strideapp/stride/app/store"
)

// tickMS is a clock tick of /proc in milliseconds: Linux counts USER_HZ, 100 a second.
const tickMS = 10

// costMeter reads the CPU time spent on events: by the Stride process measured and by the
// PostgreSQL processes that work for its database. The bench's own connections are told
// apart by their application_name.
type costMeter struct {
	db     *store.DB
	self   string // application_name of the bench's connections
	pgHere bool   // PostgreSQL runs on this machine, so its processes can be read here
}

// localDatabase says whether databaseURL names a PostgreSQL on this machine.
func localDatabase(databaseURL string) bool {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "" {
		host = u.Query().Get("host")
	}
	return host == "" || strings.HasPrefix(host, "/") || loopback.Host(host)
}

// costSample is CPU time so far, in ticks.
type costSample struct {
	stride   float64
	postgres map[int]float64 // by pid; nil when PostgreSQL's processes cannot be read here
}

func (m *costMeter) sample(ctx context.Context, pid int) costSample {
	s := costSample{stride: procTicks(pid)}
	if !m.pgHere {
		return s
	}
	pids, err := m.db.Backends(ctx, m.self)
	if err != nil {
		return s
	}
	s.postgres = make(map[int]float64, len(pids))
	for _, p := range pids {
		// In a container, PostgreSQL's pids are not this machine's.
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(comm)) != "postgres" {
			return costSample{stride: s.stride}
		}
		s.postgres[p] = procTicks(p)
	}
	return s
}

// cost is the CPU time a phase's events took, Stride's and PostgreSQL's.
type cost struct {
	process          string // the Stride command measured: serve or worker
	events           int64  // events applied
	stride, postgres float64
	postgresKnown    bool
}

// to is the cost of the events applied between a and b. A PostgreSQL process that began
// in between (a connection the pool opened) counts whole.
func (a costSample) to(b costSample, process string, events int64) cost {
	c := cost{process: process, events: events, stride: tickMS * max(0, b.stride-a.stride)}
	if a.postgres != nil && b.postgres != nil {
		c.postgresKnown = true
		for pid, t := range b.postgres {
			c.postgres += tickMS * max(0, t-a.postgres[pid])
		}
	}
	return c
}

// perEvent is the CPU milliseconds per event, Stride's and PostgreSQL's together.
func (c cost) perEvent() (float64, bool) {
	if c.events <= 0 || !c.postgresKnown {
		return 0, false
	}
	return (c.stride + c.postgres) / float64(c.events), true
}

func (c cost) String() string {
	if c.events <= 0 {
		return "n/a (no events applied)"
	}
	n := float64(c.events)
	if !c.postgresKnown {
		return fmt.Sprintf("%s %.3f ms + PostgreSQL n/a (not on this machine) per event applied, over %d events", c.process, c.stride/n, c.events)
	}
	return fmt.Sprintf("%.3f ms per event applied (%s %.3f + PostgreSQL %.3f), over %d events",
		(c.stride+c.postgres)/n, c.process, c.stride/n, c.postgres/n, c.events)
}
