// Package simulate plays Thinkific against a partner's own running Stride, local or
// deployed, without a Thinkific account: signed webhook deliveries shaped like the
// published examples, and a check of each answer against what Stride
// must say.
package simulate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strideapp/stride/app/events"
	"github.com/strideapp/stride/app/internal/loopback"
)

const webhookPath = "/webhooks/thinkific"

type config struct {
	target, secret, subdomain, gid, tenantID string
	mode, topic, file                        string
	lessons, count                           int
	seed                                     uint64
	seeded                                   bool
	learner, course                          int64
	allowRemote, insecure                    bool
}

const usageHeader = `Usage: stride simulate --subdomain SITE [flags]

Sends signed Thinkific webhook deliveries to a running Stride (POST <target>/webhooks/thinkific),
prints one line per delivery (topic, event id, HTTP status, Stride's status, latency) and a
summary, and fails when Stride answers other than it must. No Thinkific account needed: sign
with the client secret Stride runs with, for a subdomain where the app is installed.

Modes:
  one            one event of --topic (any Thinkific topic); expects 200 "accepted".
                   stride simulate --subdomain acme --mode one --topic enrollment.progress
  journey        one learner through --lessons lessons: enrollment.created; per lesson a
                 lesson.completed and an enrollment.progress fired together in random order,
                 percentages rising to 100; then enrollment.completed. Expects all "accepted".
                   stride simulate --subdomain acme --mode journey --lessons 8 --seed 42
  duplicates     one event delivered --count times at once; expects exactly one "accepted"
                 and the rest "duplicate".
                   stride simulate --subdomain acme --mode duplicates --count 20
  bad-signature  one event signed with the wrong key; expects 401.
                   stride simulate --subdomain acme --mode bad-signature
  replay         each line of the JSONL --file, in order, signed: a raw event envelope, or
                 {"topic":..., "subdomain":..., "body": <object or string>}. Expects 200s.
                   stride simulate --subdomain acme --mode replay --file deliveries.jsonl

A remote target needs --allow-remote, and https unless --insecure:
  stride simulate --target https://stride.example.com --allow-remote --subdomain acme --gid <site gid>

Flags:
`

// Run is the simulate command. It returns nil after --help.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c, err := parseFlags(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return err
	}
	s := newSender(endpoint, stdout)
	if c.mode == "replay" {
		return runReplay(ctx, c, s)
	}
	f := newFixture(c.seed, c.seeded, time.Now, c.tenantID, c.gid, c.learner, c.course)
	switch c.mode {
	case "one":
		return runOne(ctx, c, f, s)
	case "journey":
		return runJourney(ctx, c, f, s)
	case "duplicates":
		return runDuplicates(ctx, c, f, s)
	default:
		return runBadSignature(ctx, c, f, s)
	}
}

func parseFlags(args []string, getenv func(string) string, stdout io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, usageHeader)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.target, "target", "http://127.0.0.1:8080", "Stride's base `URL`; "+webhookPath+" is appended")
	fs.StringVar(&c.secret, "secret", getenv("THINKIFIC_CLIENT_SECRET"), "the app's client secret that signs deliveries (default $THINKIFIC_CLIENT_SECRET)")
	fs.StringVar(&c.subdomain, "subdomain", "", "the Thinkific site's `subdomain` (X-Thinkific-Subdomain); required but in replay, where lines may name theirs")
	fs.StringVar(&c.gid, "gid", "", "the site's Thinkific global `id`, sent as tenant_global_id; left out when empty")
	fs.StringVar(&c.tenantID, "tenant-id", "", "the site's tenant_id; left out when empty")
	fs.StringVar(&c.mode, "mode", "one", "one, journey, duplicates, bad-signature or replay")
	fs.StringVar(&c.topic, "topic", "lesson.completed", "the `topic` for one, duplicates and bad-signature")
	fs.IntVar(&c.lessons, "lessons", 5, "lessons in a journey")
	fs.IntVar(&c.count, "count", 5, "deliveries in a duplicate storm")
	fs.StringVar(&c.file, "file", "", "the JSONL `file` to replay")
	seed := fs.String("seed", "", "a `number` that makes ids and names repeat from run to run")
	fs.Int64Var(&c.learner, "learner", 0, "the learner's user `id` (default random)")
	fs.Int64Var(&c.course, "course", 0, "the course `id` (default random)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a target other than this machine")
	fs.BoolVar(&c.insecure, "insecure", false, "allow plain http to a remote target")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("simulate: unexpected arguments %q (see --help)", fs.Args())
	}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("simulate: --seed %q is not a whole number", *seed)
		}
		c.seed, c.seeded = n, true
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch c.mode {
	case "one", "journey", "duplicates", "bad-signature", "replay":
	default:
		return fmt.Errorf("simulate: unknown --mode %q: one of one, journey, duplicates, bad-signature, replay", c.mode)
	}
	switch {
	case c.secret == "" && c.mode != "bad-signature":
		return errors.New("simulate: no secret: give --secret or set THINKIFIC_CLIENT_SECRET to the client secret Stride runs with")
	case c.subdomain == "" && c.mode != "replay":
		return errors.New("simulate: --subdomain is required: the site the deliveries come from")
	case !events.KnownTopic(c.topic):
		return fmt.Errorf("simulate: --topic %q is not a Thinkific topic", c.topic)
	case c.lessons < 1:
		return errors.New("simulate: --lessons must be at least 1")
	case c.count < 2:
		return errors.New("simulate: --count must be at least 2")
	case c.mode == "replay" && c.file == "":
		return errors.New("simulate: replay needs --file")
	case c.learner < 0 || c.course < 0:
		return errors.New("simulate: --learner and --course are positive ids")
	}
	return nil
}

// endpoint is the webhook URL, refused when it leaves this machine without consent.
func (c *config) endpoint() (string, error) {
	u, err := url.Parse(c.target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("simulate: --target %q is not an http(s) URL", c.target)
	}
	if !loopback.Host(u.Hostname()) {
		if !c.allowRemote {
			return "", fmt.Errorf("simulate: refusing --target %s: it is not this machine, and a deployed Stride holds real sites' data; "+
				"these events would land among it. Give --allow-remote if that is what you mean", u.Host)
		}
		if u.Scheme != "https" && !c.insecure {
			return "", fmt.Errorf("simulate: refusing http to %s: the signature is no secret, but the learner data in each body is, "+
				"and it would cross the network in the clear. Use https, or --insecure", u.Host)
		}
	}
	if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), webhookPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + webhookPath
	}
	return u.String(), nil
}
