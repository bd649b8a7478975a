package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/strideapp/stride/app/importer"
	"github.com/strideapp/stride/app/store"
	"github.com/strideapp/stride/app/stride"
)

// importSite is `stride import --subdomain S [--full]`: one site's import run now, in this
// process, with its progress on the terminal. It runs the import that is due, or queues one
// as a reinstall does (only the enrollments changed since the last import, or every one
// with --full), and takes its lease, so serve and worker leave it alone meanwhile. Stopped
// (Ctrl-C), it releases the lease and the import resumes from where it stopped.
func importSite(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stride import", flag.ContinueOnError)
	fs.SetOutput(stdout)
	subdomain := fs.String("subdomain", "", "the site's Thinkific subdomain (required)")
	full := fs.Bool("full", false, "read every enrollment again, not only those changed since the last import")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: stride import --subdomain S [--full]\n\n"+
			"Reads one site's courses, lessons and enrollments from Thinkific now, or resumes the\n"+
			"import that is due, showing its progress. It needs the configuration of `stride worker`.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *subdomain == "" || fs.NArg() > 0 {
		return errors.New("import: give the site as --subdomain S, and nothing else")
	}

	a, err := start(ctx, getenv, io.Discard) // the progress is the output; the log would break into it
	if err != nil {
		return err
	}
	defer a.db.Close()
	site, err := a.db.SiteBySubdomain(ctx, *subdomain)
	switch {
	case stride.ErrorCode(err) == stride.ENOTFOUND:
		return fmt.Errorf("import: Stride has never been installed on %q", *subdomain)
	case err != nil:
		return err
	case !site.Installed():
		return fmt.Errorf("import: Stride was uninstalled from %q on %s; it can import once the site installs it again",
			site.Subdomain, site.UninstalledAt.UTC().Format(time.DateOnly))
	}
	imp, err := a.importer.Claim(ctx, site.ID)
	if err == nil && imp == nil {
		imp, err = queueAndClaim(ctx, a, site.ID, *full)
	}
	if err != nil {
		return err
	}

	what := "every course and every enrollment"
	if !imp.FullImport && imp.UpdatedAfter != nil {
		what = "every course, and the enrollments changed since " + imp.UpdatedAfter.UTC().Format(time.DateTime) + " UTC"
	}
	resumed := ""
	if imp.Requests > 0 {
		resumed = ", resumed after " + plural(imp.Requests, "request")
	}
	fmt.Fprintf(stdout, "importing %s from Thinkific: %s%s (at most %d API requests a minute; Ctrl-C stops it, and it resumes from there)\n",
		site.Subdomain, what, resumed, a.cfg.APIRequestsPerMinute)
	shown := newImportProgress(stdout)
	view := a.db.View(site.ID)
	began, requestsBefore := time.Now(), imp.Requests
	show := func() {
		if st, err := view.Import(ctx); err == nil {
			shown.update(*st, importer.Describe(*st, a.cfg.APIRequestsPerMinute))
		}
	}
	show() // where it starts from
	err = a.importer.Run1(ctx, imp, func(store.Import) { show() })
	shown.end(err == nil)
	took := time.Since(began).Round(100 * time.Millisecond)
	switch {
	case err == nil:
		thisRun := ""
		if requestsBefore > 0 {
			thisRun = fmt.Sprintf(" (%d in this run)", imp.Requests-requestsBefore)
		}
		fmt.Fprintf(stdout, "imported %s: %d courses, %d lessons, %d enrollments; %s%s in %s\n",
			site.Subdomain, imp.Courses, imp.Lessons, imp.Enrollments, plural(imp.Requests, "API request"), thisRun, took)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("import of %s stopped after %s (%s in all): run stride import again, or let serve or worker take it, and it resumes from there",
			site.Subdomain, took, plural(imp.Requests, "API request"))
	case errors.Is(err, store.ErrImportSuperseded):
		return fmt.Errorf("import of %s stopped: a newer import of the site was asked for (a reinstall or a Re-import), and serve or worker runs it", site.Subdomain)
	}
	next := "it does not retry by itself: mend what the error says, then run stride import again"
	if st, serr := view.Import(context.WithoutCancel(ctx)); serr == nil && st.State == store.ImportWaiting {
		next = "serve or worker retries it at " + st.NextAttemptAt.UTC().Format(time.DateTime) + " UTC, or run stride import again"
	}
	return fmt.Errorf("import of %s stopped: %w\n%s", site.Subdomain, err, next)
}

// queueAndClaim asks for an import of the site when none is due (as a reinstall does, or
// full), makes one waiting to retry due now, and takes its lease. Another process holding
// the lease is an error that says so.
func queueAndClaim(ctx context.Context, a *app, siteID int64, full bool) (*store.Import, error) {
	cur, err := a.db.ImportOf(ctx, siteID)
	if err != nil {
		return nil, err
	}
	switch {
	case cur == nil, cur.State == store.ImportDone, cur.State == store.ImportFailed, full && !cur.FullImport:
		err = a.db.RequestImport(ctx, siteID, full)
	case cur.State == store.ImportWaiting:
		err = a.db.RetryImportNow(ctx, siteID)
	}
	if err != nil {
		return nil, err
	}
	imp, err := a.importer.Claim(ctx, siteID)
	if err != nil || imp != nil {
		return imp, err
	}
	if cur, err = a.db.ImportOf(ctx, siteID); err != nil {
		return nil, err
	}
	until := "soon"
	if cur != nil && cur.LeaseUntil != nil {
		until = "at " + cur.LeaseUntil.UTC().Format(time.DateTime) + " UTC at the latest"
	}
	return nil, fmt.Errorf("import: another process (serve, worker or another stride import) is running this site's import; "+
		"its progress is on the Connection page, and if that process stopped, the import is free again %s", until)
}

// importProgress shows an import's progress: on a terminal, a bar for each phase whose size
// is known (the courses whose lessons are read, the enrollments once their first page
// told how many); elsewhere a line when the phase changes and every 10 s.
type importProgress struct {
	out     io.Writer
	tty     bool
	phase   string // the store's phase now shown
	bar     *progressbar.ProgressBar
	max     int
	pending bool // a line without a bar is on the terminal, not ended yet
	line    time.Time
}

func newImportProgress(out io.Writer) *importProgress {
	f, ok := out.(*os.File)
	return &importProgress{out: out, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *importProgress) update(st store.ImportStatus, s importer.Status) {
	text := s.Phase
	if left := s.LeftWords(); left != "" && st.Phase != store.PhaseDone {
		text += " · " + left + " left"
		if s.LeftExcludes != "" {
			text += ", then " + s.LeftExcludes
		}
	}
	if !p.tty {
		if st.Phase != p.phase || time.Since(p.line) >= 10*time.Second {
			p.phase, p.line = st.Phase, time.Now()
			fmt.Fprintf(p.out, "  %s · %d courses, %d lessons, %d enrollments · %s\n", text, st.Courses, st.Lessons, st.Enrollments, plural(st.Requests, "request"))
		}
		return
	}
	if st.Phase != p.phase {
		p.end(true) // the phase before is complete
		p.phase = st.Phase
	}
	if s.Total == 0 {
		fmt.Fprintf(p.out, "\r\033[K%s", text)
		p.pending = true
		return
	}
	if p.bar == nil {
		if p.pending {
			fmt.Fprint(p.out, "\r\033[K")
			p.pending = false
		}
		p.bar = progressbar.NewOptions(s.Total, progressbar.OptionSetWriter(p.out), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30))
		p.max = s.Total
	}
	if s.Total != p.max {
		p.bar.ChangeMax(s.Total)
		p.max = s.Total
	}
	p.bar.Describe(text)
	_ = p.bar.Set(min(s.Done, s.Total))
}

// end closes the line now shown: its bar filled when its phase is complete, else as it
// stands.
func (p *importProgress) end(complete bool) {
	switch {
	case p.bar != nil && complete:
		_ = p.bar.Finish()
	case p.bar != nil:
		_ = p.bar.Exit()
	case !p.pending:
		return
	}
	fmt.Fprintln(p.out)
	p.bar, p.pending = nil, false
}

// plural is "1 request", "2 requests".
func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
