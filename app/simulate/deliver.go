package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strideapp/stride/app/thinkificdouble"
)

// delivery is one POST as Thinkific makes it.
type delivery struct {
	Topic, Subdomain, Signature, EventID string
	Body                                 []byte
}

// outcome is Stride's answer to one delivery.
type outcome struct {
	Code    int    // HTTP status; 0 when no answer came
	Status  string // Stride's "status" field on a 200
	Detail  string // the start of any other answer, or the transport error
	Latency time.Duration
}

// Key names the outcome for the summary: Stride's status on a 200, else the HTTP status.
func (o outcome) Key() string {
	switch {
	case o.Code == 0:
		return "error"
	case o.Code == http.StatusOK && o.Status != "":
		return o.Status
	}
	return fmt.Sprintf("http-%d", o.Code)
}

// sender posts deliveries, prints one line for each as it is answered, and tallies them.
type sender struct {
	client *http.Client
	url    string
	out    io.Writer

	mu    sync.Mutex
	tally map[string]int
	total int
}

func newSender(url string, out io.Writer) *sender {
	// Thinkific gives up after 5 s; a little more shows a slow Stride as slow, not as failed.
	return &sender{client: &http.Client{Timeout: 10 * time.Second}, url: url, out: out, tally: map[string]int{}}
}

func (s *sender) send(ctx context.Context, d delivery) outcome {
	o := s.post(ctx, d)
	id := d.EventID
	if id == "" {
		id = "-"
	}
	status := o.Status
	if status == "" {
		status = "-"
	}
	line := fmt.Sprintf("%-22s %-24s %3d %-12s %7.1fms", d.Topic, id, o.Code, status, float64(o.Latency.Microseconds())/1000)
	if o.Detail != "" {
		line += "  " + o.Detail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.out, line)
	s.tally[o.Key()]++
	s.total++
	return o
}

func (s *sender) post(ctx context.Context, d delivery) outcome {
	start := time.Now()
	code, body, err := thinkificdouble.Post(ctx, s.client, s.url, d.Topic, d.Subdomain, d.Signature, d.Body)
	if code == 0 {
		return outcome{Detail: err.Error(), Latency: time.Since(start)}
	}
	o := outcome{Code: code, Latency: time.Since(start)}
	var answer struct {
		Status string `json:"status"`
	}
	if code == http.StatusOK && json.Unmarshal(body, &answer) == nil {
		o.Status = answer.Status
	} else if code != http.StatusOK {
		o.Detail = strings.Join(strings.Fields(string(body)), " ")
		if len(o.Detail) > 120 {
			o.Detail = o.Detail[:120] + "…"
		}
	}
	return o
}

// summary prints the counts per outcome and returns them.
func (s *sender) summary() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.tally))
	for k := range s.tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s.tally[k]))
	}
	fmt.Fprintf(s.out, "summary: %d deliveries: %s\n", s.total, strings.Join(parts, " "))
	out := make(map[string]int, len(s.tally))
	for k, v := range s.tally {
		out[k] = v
	}
	return out
}

// hint explains the outcomes that mean the setup, not Stride, is wrong.
func hint(tally map[string]int, subdomain string) string {
	var h []string
	if tally["held"] > 0 {
		h = append(h, fmt.Sprintf("no installed site has subdomain %q (or the --gid given): Stride holds such events until that site installs the app; install it first, or fix --subdomain/--gid", subdomain))
	}
	if tally["http-401"] > 0 {
		h = append(h, "the signature was refused: --secret (or THINKIFIC_CLIENT_SECRET) must be the client secret Stride runs with")
	}
	if tally["http-403"] > 0 {
		h = append(h, "the event names another site: --gid must be the site's Thinkific global id, or leave it out")
	}
	if tally["duplicate"] > 0 {
		h = append(h, "duplicates: a repeated --seed repeats event ids")
	}
	if tally["error"] > 0 {
		h = append(h, "no answer: is Stride running at --target?")
	}
	if len(h) == 0 {
		return ""
	}
	return " (" + strings.Join(h, "; ") + ")"
}
