package stride

import (
	"strings"
	"testing"
)

func TestValidSubdomain(t *testing.T) {
	good := []string{"acme", "a", "a-b", "school42", "0", strings.Repeat("a", 63)}
	bad := []string{"", "A", "Acme", "a.b", "evil.com", "-a", "a-", "a_b", "a b", "x/../y", "a\x00", strings.Repeat("a", 64), "ácme"}
	for _, s := range good {
		if !ValidSubdomain(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if ValidSubdomain(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
