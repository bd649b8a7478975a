package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strideapp/stride/app/demo"
)

// Every mode of `stride simulate` against a real, running Stride (the demo's), with the
// outcome Stride gives: accepted, duplicates ignored, a bad signature refused.
func TestSimulateAgainstStride(t *testing.T) {
	o := demo.Options{Addr: "127.0.0.1:0", Sites: 1, Learners: 1, Speed: 1e6, Seed: 9, DataDir: t.TempDir(), Exit: true}
	o.Check = func(appURL, secret string, sites []*demo.Site) error {
		site := sites[0].Thinkific
		jsonl := filepath.Join(t.TempDir(), "deliveries.jsonl")
		line := `{"id":"77700000000000000000001","resource":"lesson","action":"completed","tenant_id":"` + site.TenantID() +
			`","tenant_global_id":"` + site.GID() + `","created_at":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") +
			`","payload":{"chapter":{"id":1,"name":"C"},"course":{"id":5,"name":"Course"},"enrollment":{"id":9},` +
			`"lesson":{"id":3,"name":"L","position":0,"type":"Text"},"user":{"id":42,"email":"x@example.com"}}}`
		if err := os.WriteFile(jsonl, []byte(line+"\n"+line+"\n"), 0o600); err != nil {
			return err
		}
		base := []string{"--target", appURL, "--secret", secret, "--subdomain", site.Subdomain(), "--gid", site.GID()}
		cases := []struct {
			mode string
			args []string
			want []string
		}{
			{"one", []string{"--topic", "enrollment.created"}, []string{"accepted=1"}},
			{"journey", []string{"--lessons", "3"}, []string{"accepted=8"}},
			{"duplicates", []string{"--count", "4"}, []string{"accepted=1", "duplicate=3"}},
			{"bad-signature", nil, []string{"401"}},
			{"replay", []string{"--file", jsonl}, []string{"accepted=1", "duplicate=1"}},
		}
		for _, tc := range cases {
			var out bytes.Buffer
			args := append(append(append([]string{}, base...), "--mode", tc.mode), tc.args...)
			if err := run(context.Background(), append([]string{"simulate"}, args...), func(string) string { return "" }, &out); err != nil {
				t.Errorf("%s: %v\n%s", tc.mode, err, out.String())
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%s: output lacks %q:\n%s", tc.mode, w, out.String())
				}
			}
		}
		return nil
	}
	if _, err := demo.Play(context.Background(), o, startDemo, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestSimulateHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"simulate", "--help"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"one", "journey", "duplicates", "bad-signature", "replay"} {
		if !strings.Contains(out.String(), mode) {
			t.Errorf("--help does not document %s", mode)
		}
	}
}
