// Package secret derives Stride's keys from SECRET_KEY and seals values at rest with AES-GCM.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// Derive returns n bytes derived from the master key for one purpose, so that no two uses
// (tokens, sessions, ...) ever share a key.
func Derive(master []byte, purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "stride/"+purpose, n)
	if err != nil {
		panic(err) // only for n beyond HKDF's limit, a programming error
	}
	return k
}

// Keyring seals with its current key and opens with any key it holds, by key id,
// so SECRET_KEY can rotate without losing what was sealed before.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring from master keys, the first being current.
func NewKeyring(masters ...[]byte) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("secret: no key")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, m := range masters {
		key := Derive(m, "seal/v1", 32)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := hex.EncodeToString(Derive(m, "key-id/v1", 4))
		if i == 0 {
			k.current = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// KeyID names the key that Seal uses now.
func (k *Keyring) KeyID() string { return k.current }

// Retired names the keys the ring still opens with but no longer seals with: values under
// them are due to be sealed again under KeyID.
func (k *Keyring) Retired() []string {
	var ids []string
	for id := range k.aeads {
		if id != k.current {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Seal encrypts plaintext; aad binds the result to its place (e.g. which site and field),
// so a sealed value copied to another row does not open.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, sealed []byte) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return k.current, aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal produced under keyID with the same aad.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("secret: unknown key id %q (was SECRET_KEY changed?)", keyID)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("secret: sealed value too short")
	}
	nonce, box := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, box, aad)
	if err != nil {
		return nil, errors.New("secret: sealed value does not open with its key")
	}
	return plain, nil
}

// RandomHex is n random bytes, hex-encoded: a fresh SECRET_KEY (n = 32), client secret or
// id for a run of the tools.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
