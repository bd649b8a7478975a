package secret

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, _ := NewKeyring(oldKey)
	id, sealed := old.Seal([]byte("access-token"), []byte("site:1:access"))
	if bytes.Contains(sealed, []byte("access-token")) {
		t.Fatal("plaintext visible in sealed value")
	}
	if _, again := old.Seal([]byte("access-token"), []byte("site:1:access")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}

	rotated, _ := NewKeyring(newKey, oldKey)
	if rotated.KeyID() == id {
		t.Fatal("new key has the old key's id")
	}
	cases := []struct {
		name    string
		ring    *Keyring
		id      string
		aad     string
		wantErr bool
	}{
		{"same ring", old, id, "site:1:access", false},
		{"rotated ring still opens old", rotated, id, "site:1:access", false},
		{"other row", old, id, "site:2:access", true},
		{"unknown key id", old, "deadbeef", "site:1:access", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(tc.id, sealed, []byte(tc.aad))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && string(got) != "access-token" {
				t.Fatalf("got %q", got)
			}
		})
	}
	if r := rotated.Retired(); len(r) != 1 || r[0] != id {
		t.Fatalf("retired %v, want [%s]", r, id)
	}
	newOnly, _ := NewKeyring(newKey)
	if r := newOnly.Retired(); len(r) != 0 {
		t.Fatalf("a one-key ring has retired keys %v", r)
	}
	if _, err := newOnly.Open(id, sealed, []byte("site:1:access")); err == nil {
		t.Fatal("opened with a key it does not hold")
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	m := bytes.Repeat([]byte{7}, 32)
	if bytes.Equal(Derive(m, "a", 32), Derive(m, "b", 32)) {
		t.Fatal("purposes share a key")
	}
}

func TestRandomHex(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{1, 16, 32, 64} {
		for range 50 {
			s := RandomHex(n)
			if len(s) != 2*n {
				t.Fatalf("RandomHex(%d) has %d characters: %q", n, len(s), s)
			}
			if strings.Trim(s, "0123456789abcdef") != "" {
				t.Fatalf("RandomHex(%d) = %q: not lower-case hex", n, s)
			}
			if n >= 16 && seen[s] {
				t.Fatalf("RandomHex(%d) repeated %q", n, s)
			}
			seen[s] = true
		}
	}
	if RandomHex(0) != "" {
		t.Fatal("RandomHex(0) is not empty")
	}
	// A fresh SECRET_KEY makes a keyring of its own, unlike another fresh one.
	a, _ := hex.DecodeString(RandomHex(32))
	b, _ := hex.DecodeString(RandomHex(32))
	ra, err := NewKeyring(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := NewKeyring(b)
	if ra.KeyID() == rb.KeyID() {
		t.Fatal("two fresh keys share a key id")
	}
}

func TestKeyringErrors(t *testing.T) {
	if _, err := NewKeyring(); err == nil {
		t.Fatal("a keyring with no key")
	}
	k, _ := NewKeyring(bytes.Repeat([]byte{3}, 32))
	if _, err := k.Open(k.KeyID(), []byte{1, 2, 3}, nil); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("short sealed value: %v", err)
	}
}
