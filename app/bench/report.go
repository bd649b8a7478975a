package bench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// report is everything a run measured.
type report struct {
	opts            options
	settings        []setting // the measured server's configuration
	facts           benchFacts
	reproduce       string
	bodies          [2]int // bytes of a lesson.completed and an enrollment.progress
	fixed           *phase
	fixedApplied    time.Duration // from the end of the fixed-rate phase until the worker had applied it
	fixedLeft       int64         // events of it still not applied then
	pairing         pairing
	cpuFixed        cpuShare
	costFixed       cost
	throughput      *burst // over every site
	oneSite         *burst // every delivery to one site
	drain           *drain // nil when the server did not stop cleanly
	peakRSS, maxRSS int64
	shutdown        time.Duration
	shutdownErr     error
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *report) print(w io.Writer) {
	f, o := r.facts, r.opts
	fmt.Fprintf(w, "stride bench: the webhook path of stride serve, durable\n")
	for i, s := range r.settings {
		label := ""
		if i == 0 {
			label = "measured"
		}
		fmt.Fprintf(w, "%-10s %v\n", label, s)
	}
	fmt.Fprintf(w, "machine    %d CPUs (%.0f%% busy in the second before the run), %s, PostgreSQL %s (synchronous_commit=%s, fsync=%s, wal_sync_method=%s)\n",
		f.cpus, f.busy, f.goVersion, f.postgres, f.syncCommit, f.fsync, f.walSync)
	fmt.Fprintf(w, "events     signed lesson.completed (%d B) and enrollment.progress (%d B) over %d sites\n", r.bodies[0], r.bodies[1], o.sites)
	fmt.Fprintf(w, "reproduce  %s\n\n", r.reproduce)
	r.printTargets(w)
	r.printDetails(w)
}

func (r *report) printTargets(w io.Writer) {
	const row = "%-44s %-30s %-14s %s\n"
	ack := spreadOf(r.fixed.acked)
	// A step never seen paired counts as the give-up time, a lower bound of its latency.
	lat := slices.Clone(r.pairing.latency)
	for range r.pairing.unpaired {
		lat = append(lat, pairGiveUp)
	}
	paired := spreadOf(lat)
	fmt.Fprintf(w, row, "", "measured", "target", "")
	for _, b := range []struct {
		label string
		b     *burst
	}{{fmt.Sprintf("throughput, %d connections", r.opts.concurrency), r.throughput},
		{fmt.Sprintf("throughput, one site, %d connections", r.opts.concurrency), r.oneSite}} {
		rate := b.b.rate()
		fmt.Fprintf(w, row, b.label, fmt.Sprintf("%.0f events/s", rate), "≥ 5000/s", verdict(rate >= targetThroughput))
	}
	fmt.Fprintf(w, row, fmt.Sprintf("ack at %d/s, p50 / p99 / max", r.opts.rate), ack, "p99 ≤ 25 ms", verdict(ack.n > 0 && ack.p99 <= targetAckP99))
	fmt.Fprintf(w, row, "ack to paired step, p50 / p99 / max", paired, "p99 ≤ 1 s", verdict(paired.n > 0 && paired.p99 <= targetPairedP99))
	t := r.throughput
	fmt.Fprintf(w, row, fmt.Sprintf("backlog of a %v burst, applied in", r.opts.duration), fmt.Sprintf("%.1f s", t.applied.Seconds()),
		"≤ 15 s", verdict(t.unapplied == 0 && t.applied <= targetBurstApplied))
	if d := r.drain; d != nil {
		fmt.Fprintf(w, row, "worker alone drains", fmt.Sprintf("%.0f events/s", d.rate()), "≥ 4000/s", verdict(d.rate() >= targetWorkerAlone))
	}
	perEvent := "n/a (PostgreSQL not on this machine)"
	if ms, ok := r.costFixed.perEvent(); ok {
		perEvent = fmt.Sprintf("%.3f ms", ms)
	}
	fmt.Fprintf(w, row, fmt.Sprintf("CPU per event at %d/s, serve + PostgreSQL", r.opts.rate), perEvent, "", "")
	fmt.Fprintf(w, row, "peak RSS of stride serve", fmt.Sprintf("%.1f MB", float64(r.peakRSS)/(1<<20)),
		"≤ 256 MB", verdict(r.peakRSS > 0 && r.peakRSS <= targetPeakRSS))
}

func (b *burst) rate() float64 { return float64(len(b.acked)) / b.elapsed.Seconds() }

func (d *drain) rate() float64 { return float64(int64(d.events)-d.left) / d.elapsed.Seconds() }

func (r *report) printDetails(w io.Writer) {
	fx := r.fixed
	fmt.Fprintf(w, "\nfixed-rate phase  %d of %d events accepted in %.2f s, %d errors; %d steps seen paired, %d not within %.0f s\n",
		len(fx.acked), fx.sent, fx.elapsed.Seconds(), fx.errs.total(), len(r.pairing.latency), r.pairing.unpaired, pairGiveUp.Seconds())
	if r.fixedLeft == 0 {
		fmt.Fprintf(w, "  worker          had applied them all %.2f s after the phase (≈ %.0f events/s overall)\n",
			r.fixedApplied.Seconds(), float64(len(fx.acked))/(fx.elapsed+r.fixedApplied).Seconds())
	} else {
		fmt.Fprintf(w, "  worker          still had %d to apply %.0f s after the phase\n", r.fixedLeft, r.fixedApplied.Seconds())
	}
	fmt.Fprintf(w, "  CPU             %v\n", r.cpuFixed)
	fmt.Fprintf(w, "  cost            %v, until applied\n", r.costFixed)
	r.throughput.print(w, "throughput phase")
	r.oneSite.print(w, "one-site phase")
	if d := r.drain; d != nil {
		fmt.Fprintf(w, "worker alone      %d events written to the inbox, no server running; ", d.events)
		if d.left == 0 {
			fmt.Fprintf(w, "stride worker had applied them all %.2f s after it started (≈ %.0f events/s)\n", d.elapsed.Seconds(), d.rate())
		} else {
			fmt.Fprintf(w, "stride worker still had %d to apply %.0f s after it started\n", d.left, d.elapsed.Seconds())
		}
		fmt.Fprintf(w, "  cost            %v\n", d.cost)
	}
	fmt.Fprintf(w, "memory            VmHWM %.1f MB; largest VmRSS sampled every 100 ms %.1f MB\n", float64(r.peakRSS)/(1<<20), float64(r.maxRSS)/(1<<20))
	fmt.Fprintf(w, "shutdown          %.2f s after SIGTERM (%s)\n", r.shutdown.Seconds(), orOK(r.shutdownErr))
	for _, e := range []*tally{&fx.errs, &r.throughput.errs, &r.oneSite.errs} {
		for msg, n := range e.n {
			fmt.Fprintf(w, "error             %d × %s\n", n, msg)
		}
	}
}

// print writes the details of a closed-loop phase.
func (b *burst) print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-17s %d of %d events accepted in %.2f s, %d errors; closed-loop ack p50 / p99 / max %v\n",
		name, len(b.acked), b.sent, b.elapsed.Seconds(), b.errs.total(), spreadOf(b.acked))
	fmt.Fprintf(w, "  worker          applied ≈ %.0f events/s meanwhile, and had %d left to apply; ",
		(float64(len(b.acked))-float64(b.left))/b.elapsed.Seconds(), b.left)
	if b.unapplied == 0 {
		fmt.Fprintf(w, "had applied them %.2f s after the phase\n", b.applied.Seconds())
	} else {
		fmt.Fprintf(w, "still had %d to apply %.0f s after the phase\n", b.unapplied, b.applied.Seconds())
	}
	fmt.Fprintf(w, "  CPU             %v\n", b.cpu)
	fmt.Fprintf(w, "  cost            %v, until applied\n", b.cost)
}

func orOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ended cleanly"
}

// failure is the run's error: a refused delivery or an unclean stop is a fault of the
// server. A slow figure, even a step never seen paired, only prints as MISS.
func (r *report) failure() error {
	switch failed := r.throughput.errs.total() + r.oneSite.errs.total() + r.fixed.errs.total(); {
	case failed > 0:
		return fmt.Errorf("bench: %d deliveries failed", failed)
	case r.shutdownErr != nil:
		return fmt.Errorf("bench: stride serve: %w", r.shutdownErr)
	}
	return nil
}
