// Package unsubscribe makes and checks the signed per-contact unsubscribe
// links (CASL) and the RFC 8058 one-click headers.
package unsubscribe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Errors returned by Verify.
var (
	ErrInvalid = errors.New("unsubscribe link is not valid")
	ErrExpired = errors.New("unsubscribe link has expired")
)

// Signer signs tokens with a secret. A token carries the address and its
// issue time, so links need no lookup and reveal no guessable id.
type Signer struct {
	Secret []byte
	// BaseURL is the public address of the service, e.g. https://hooks.example.com.
	BaseURL string
	// TTL is how long a link stays valid; zero means one year.
	TTL time.Duration
}

var enc = base64.RawURLEncoding

// Token returns the signed token of an address.
func (s *Signer) Token(email string, now time.Time) string {
	payload := make([]byte, 8, 8+len(email))
	binary.BigEndian.PutUint64(payload, uint64(now.Unix()))
	payload = append(payload, strings.ToLower(email)...)
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte("unsubscribe.v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// Verify checks a token and returns its address.
func (s *Signer) Verify(token string, now time.Time) (string, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", ErrInvalid
	}
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) <= 8 || !hmac.Equal(mac, s.mac(payload)) {
		return "", ErrInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0)
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 365 * 24 * time.Hour
	}
	if now.Sub(issued) > ttl {
		return "", ErrExpired
	}
	return string(payload[8:]), nil
}

// Link returns the unsubscribe URL of an address and the headers that go
// with it: List-Unsubscribe and List-Unsubscribe-Post (one-click).
func (s *Signer) Link(email string, now time.Time) (string, map[string]string) {
	u := strings.TrimRight(s.BaseURL, "/") + "/unsubscribe?token=" + url.QueryEscape(s.Token(email, now))
	return u, map[string]string{
		"List-Unsubscribe":      "<" + u + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	}
}
