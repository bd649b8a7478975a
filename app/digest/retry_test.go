package digest_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/digest"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
)

// A digest the mail server refuses gives its week back and is sent on a later try; after
// five failures the week is given up.
func TestDigestRetry(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		mb := newMailbox(t)
		h := testkit.New(t, dbURL, withMail("smtp://"+mb.addr))
		s := seed(t, h, dueNow(h.Clock.Now(), "UTC", "owner@school.test"))
		var logs bytes.Buffer
		r := digest.New(h.DB, h.Cfg, h.Clock, slog.New(slog.NewTextHandler(&logs, nil)))

		mb.setRefuse(true)
		if n, err := r.Due(ctx); err != nil || n != 0 {
			t.Fatalf("refused: %d %v", n, err)
		}
		st, _ := h.DB.View(s.id).Settings(ctx)
		if st.DigestSentWeek != "" {
			t.Fatalf("a refused digest kept its week: %q", st.DigestSentWeek)
		}
		if !strings.Contains(logs.String(), "trying again later") || !strings.Contains(logs.String(), "refused by the test") {
			t.Fatalf("logs: %s", logs.String())
		}
		// Not before its retry time.
		mb.setRefuse(false)
		if n, _ := r.Due(ctx); n != 0 {
			t.Fatal("retried at once")
		}
		h.Clock.Advance(11 * time.Minute)
		if n, err := r.Due(ctx); err != nil || n != 1 {
			t.Fatalf("retry: %d %v", n, err)
		}
		if len(mb.messages()) != 1 {
			t.Fatalf("%d messages", len(mb.messages()))
		}

		// Next week the server refuses every try: five, then the week is given up.
		h.Clock.Advance(7 * 24 * time.Hour)
		mb.setRefuse(true)
		for range 5 {
			r.Due(ctx)
			h.Clock.Advance(3 * time.Hour) // past every backoff (10 min doubling, 2 h 40 at the fifth)
		}
		if !strings.Contains(logs.String(), "gave up for this week") {
			t.Fatalf("logs: %s", logs.String())
		}
		mb.setRefuse(false)
		if n, _ := r.Due(ctx); n != 0 {
			t.Fatal("sent after giving up on the week")
		}
	})
}

// Credentials never travel in clear: a server without STARTTLS gets nothing, and the
// error does not show the password.
func TestCredentialsNeedTLS(t *testing.T) {
	ctx := context.Background()
	mb := newMailbox(t)
	h := testkit.New(t, "", withMail("smtp://digest:pa55word@"+mb.addr))
	seed(t, h, dueNow(h.Clock.Now(), "UTC", "owner@school.test"))
	r := digest.New(h.DB, h.Cfg, h.Clock, slog.New(slog.DiscardHandler))
	err := r.Send(ctx, "acme", "owner@school.test")
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("sent with credentials over a server without STARTTLS: %v", err)
	}
	if strings.Contains(err.Error(), "pa55word") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if len(mb.messages()) != 0 {
		t.Fatal("the server received the mail")
	}
}

// `stride digest`'s path: any address, whatever the opt-in; an unknown site is an error.
func TestSendNow(t *testing.T) {
	ctx := context.Background()
	mb := newMailbox(t)
	h := testkit.New(t, "", withMail("smtp://"+mb.addr))
	seed(t, h, func(*store.Settings) {}) // digest off, no recipients
	r := digest.New(h.DB, h.Cfg, h.Clock, slog.New(slog.DiscardHandler))
	if err := r.Send(ctx, "acme"); err == nil || !strings.Contains(err.Error(), "no digest recipients") {
		t.Fatalf("no recipients: %v", err)
	}
	if err := r.Send(ctx, "nope", "someone@school.test"); err == nil || !strings.Contains(err.Error(), `no site "nope"`) {
		t.Fatalf("unknown site: %v", err)
	}
	if err := r.Send(ctx, "acme", "someone@school.test"); err != nil {
		t.Fatal(err)
	}
	if m := mb.messages(); len(m) != 1 || m[0].To[0] != "someone@school.test" {
		t.Fatalf("sent %v", m)
	}
	// Sending now does not use up the week.
	st, _ := h.DB.View(h.MustSite().ID).Settings(ctx)
	if st.DigestSentWeek != "" {
		t.Fatalf("sent week %q", st.DigestSentWeek)
	}
}
