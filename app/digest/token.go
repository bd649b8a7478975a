package digest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/strideapp/stride/app/secret"
)

// An unsubscribe token names a site and one recipient, signed with a key derived from
// SECRET_KEY: it needs no expiry, and is good for that address only. Tokens signed with a
// SECRET_KEY_PREVIOUS still open, so rotating the key does not break links already mailed.

var errBadToken = errors.New("digest: unsubscribe link not valid")

// Token is the one-click unsubscribe token of address for the site's digest.
func Token(key []byte, siteID int64, address string) string {
	payload := strconv.FormatInt(siteID, 10) + ":" + strings.ToLower(address)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac(key, payload))
}

// ParseToken checks a token against each key (the current first) in constant time and
// returns the site and address it names.
func ParseToken(keys [][]byte, token string) (siteID int64, address string, err error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return 0, "", errBadToken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return 0, "", errBadToken
	}
	valid := false
	for _, key := range keys {
		valid = hmac.Equal(got, mac(key, string(payload))) || valid
	}
	if !valid {
		return 0, "", errBadToken
	}
	id, addr, ok := strings.Cut(string(payload), ":")
	siteID, err = strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || addr == "" {
		return 0, "", errBadToken
	}
	return siteID, addr, nil
}

func mac(master []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret.Derive(master, "digest-unsubscribe/v1", 32))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
