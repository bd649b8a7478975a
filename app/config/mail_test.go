package config

import (
	"strings"
	"testing"
)

func TestMailSettings(t *testing.T) {
	base := map[string]string{"THINKIFIC_CLIENT_ID": "id", "THINKIFIC_CLIENT_SECRET": "secret", "SECRET_KEY": goodKey}
	cases := []struct {
		name, url, from string
		want            SMTP   // when no problem
		problem         string // a part of the one problem expected
	}{
		{name: "starttls with credentials", url: "smtp://user:s3cret@mail.example.com:587", from: "digest@example.com",
			want: SMTP{Host: "mail.example.com", Port: 587, Username: "user", Password: "s3cret"}},
		{name: "default ports", url: "smtps://u:p@mail.example.com", from: "Stride <digest@example.com>",
			want: SMTP{Host: "mail.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true}},
		{name: "no credentials", url: "smtp://127.0.0.1:2525", from: "digest@example.com", want: SMTP{Host: "127.0.0.1", Port: 2525}},
		{name: "other scheme", url: "http://user:s3cret@mail.example.com", from: "digest@example.com", problem: "smtp:// (STARTTLS) or smtps://"},
		{name: "no host", url: "smtp://user:s3cret@:587", from: "digest@example.com", problem: "has no host"},
		{name: "bad port", url: "smtp://user:s3cret@mail.example.com:99999", from: "digest@example.com", problem: "port must be"},
		{name: "path", url: "smtp://user:s3cret@mail.example.com/x", from: "digest@example.com", problem: "no path"},
		{name: "from missing", url: "smtp://user:s3cret@mail.example.com", problem: "MAIL_FROM is required"},
		{name: "url missing", from: "digest@example.com", problem: "SMTP_URL is required"},
		{name: "bad from", url: "smtp://mail.example.com", from: "not an address", problem: "MAIL_FROM must be an email address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"SMTP_URL": tc.url, "MAIL_FROM": tc.from}
			for k, v := range base {
				e[k] = v
			}
			c, err := Load(env(e), NeedAll)
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("error %v, want %q", err, tc.problem)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the problem shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *c.SMTP != tc.want || !c.MailReady() {
				t.Fatalf("SMTP %+v, want %+v", *c.SMTP, tc.want)
			}
			if strings.Contains(c.SMTP.String(), "s3cret") {
				t.Fatalf("String shows the password: %s", c.SMTP)
			}
			if tc.want.Username != "" && !c.SMTP.RequireTLS() {
				t.Fatal("credentials without TLS required")
			}
		})
	}
	c, err := Load(env(base), NeedAll)
	if err != nil || c.MailReady() || c.SMTP != nil {
		t.Fatalf("mail set up without SMTP_URL: %v %+v", err, c)
	}
}
