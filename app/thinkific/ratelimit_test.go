package thinkific

import (
	"testing"
	"time"
)

func TestResetWait(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"30", 30 * time.Second, true},                   // a delay in seconds
		{"0.5", 500 * time.Millisecond, true},            // fractional seconds
		{"1500", 1500 * time.Millisecond, true},          // a delay in milliseconds
		{"1800000007", 7 * time.Second, true},            // epoch seconds
		{"1800000002500", 2500 * time.Millisecond, true}, // epoch milliseconds
		{"1799999990", 0, true},                          // already past
		{"", 0, false},
		{"soon", 0, false},
		{"-5", 0, false},
	}
	for _, tc := range cases {
		got, ok := resetWait(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %v %v, want %v %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}
