package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
)

// sendDigest is `stride digest --subdomain S [--to ADDRESS]`: one site's weekly digest, sent
// now by this process, to ADDRESS when given (whether or not the site's admin turned the
// digest on), to the site's recipients otherwise. It does not count as the week's digest.
func sendDigest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stride digest", flag.ContinueOnError)
	fs.SetOutput(stdout)
	subdomain := fs.String("subdomain", "", "the site's Thinkific subdomain (required)")
	to := fs.String("to", "", "send to this address only, instead of the site's recipients")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *subdomain == "" || fs.NArg() > 0 {
		return errors.New("usage: stride digest --subdomain S [--to ADDRESS]")
	}
	var recipients []string
	if *to != "" {
		a, err := mail.ParseAddress(*to)
		if err != nil {
			return fmt.Errorf("--to %q is not an email address", *to)
		}
		recipients = append(recipients, a.Address)
	}
	a, err := start(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer a.db.Close()
	if err := a.digest.Send(ctx, *subdomain, recipients...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stride: digest of %s sent\n", *subdomain)
	return nil
}
