package loopback

import (
	"net"
	"strconv"
	"testing"
)

// The cases where config, simulate and the Thinkific double used to answer differently
// (upper case, names under localhost), and the ones they agreed on.
func TestHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"Localhost", true},
		{"localhost.", true},
		{"app.localhost", true},
		{"bench-001.localhost", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"0:0:0:0:0:0:0:1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"10.0.0.1", false},
		{"192.168.1.20", false},
		{"localhost.example.com", false},
		{"notlocalhost", false},
		{"stride.example.com", false},
		{"[::1]", false}, // a URL's Hostname() has no brackets
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := Host(tc.host); got != tc.want {
				t.Errorf("Host(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}
