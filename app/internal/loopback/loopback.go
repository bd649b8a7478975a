// Package loopback answers two questions about this machine: whether a host names it, and
// which TCP port on it is free.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host names this machine: localhost and names under it (RFC 6761
// reserves them for loopback), in any case, and the loopback addresses 127.0.0.0/8 and ::1.
// It decides where plain http may go: APP_URL, the targets of `stride simulate` and the
// webhook targets the Thinkific double accepts.
func Host(host string) bool {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on at the moment of asking.
// Another process may take it before the caller listens; callers that can keep the
// listener should listen on "127.0.0.1:0" instead.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
