package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/thinkificdouble"
)

// sink is an SMTP server that records the recipients of what it receives.
type sink struct {
	mu sync.Mutex
	to []string
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return s, nil }
func (s *sink) Reset()                                      {}
func (s *sink) Logout() error                               { return nil }
func (s *sink) Mail(string, *smtp.MailOptions) error        { return nil }
func (s *sink) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to = append(s.to, to)
	return nil
}
func (s *sink) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }

func TestDigestCommand(t *testing.T) {
	mail := &sink{}
	srv := smtp.NewServer(mail)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	h := testkit.New(t, "", func(_ *thinkificdouble.Config, env map[string]string) {
		env["SMTP_URL"], env["MAIL_FROM"] = "smtp://"+l.Addr().String(), "digest@stride.test"
	})
	h.InstallVia(testkit.Browser(), "acme")
	env := map[string]string{"DATA_DIR": h.Cfg.DataDir, "THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "s",
		"SECRET_KEY": testkit.SecretKey, "SMTP_URL": "smtp://" + l.Addr().String(), "MAIL_FROM": "digest@stride.test"}
	digest := func(env map[string]string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"digest"}, args...), func(k string) string { return env[k] }, &out)
		return out.String(), err
	}

	out, err := digest(env, "--subdomain", "acme", "--to", "Lead <lead@school.test>")
	if err != nil || !strings.Contains(out, "digest of acme sent") {
		t.Fatalf("%q %v", out, err)
	}
	if len(mail.to) != 1 || mail.to[0] != "lead@school.test" {
		t.Fatalf("sent to %v", mail.to)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown site", env, []string{"--subdomain", "nope", "--to", "a@b.test"}, `no site "nope"`},
		{"no subdomain", env, []string{"--to", "a@b.test"}, "usage: stride digest --subdomain S"},
		{"bad address", env, []string{"--subdomain", "acme", "--to", "nobody"}, `--to "nobody" is not an email address`},
		{"no recipients", env, []string{"--subdomain", "acme"}, "no digest recipients"},
		{"no mail", map[string]string{"DATA_DIR": h.Cfg.DataDir, "THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "s", "SECRET_KEY": testkit.SecretKey},
			[]string{"--subdomain", "acme", "--to", "a@b.test"}, "mail is not set up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := digest(tc.env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
