package unsubscribe_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"perfect/internal/unsubscribe"
)

func TestSigner_RoundTrip(t *testing.T) {
	s := &unsubscribe.Signer{Secret: []byte("k1"), BaseURL: "https://hooks.example.com/", TTL: time.Hour}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tok := s.Token("Ann@Example.com", now)
	got, err := s.Verify(tok, now.Add(59*time.Minute))
	if err != nil || got != "ann@example.com" {
		t.Fatalf("verify: %q %v", got, err)
	}
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, unsubscribe.ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	other := &unsubscribe.Signer{Secret: []byte("k2")}
	if _, err := other.Verify(tok, now); !errors.Is(err, unsubscribe.ErrInvalid) {
		t.Fatalf("token under another secret: %v", err)
	}
	for _, bad := range []string{"", "abc", "abc.def", tok + "x", strings.Replace(tok, ".", "", 1)} {
		if _, err := s.Verify(bad, now); !errors.Is(err, unsubscribe.ErrInvalid) {
			t.Errorf("Verify(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	link, headers := s.Link("ann@example.com", now)
	u, err := url.Parse(link)
	if err != nil || u.Host != "hooks.example.com" || u.Path != "/unsubscribe" || u.Query().Get("token") == "" {
		t.Fatalf("link %q", link)
	}
	if headers["List-Unsubscribe"] != "<"+link+">" || headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Fatalf("headers %v", headers)
	}
}

func TestSigner_ForgedAddress(t *testing.T) {
	s := &unsubscribe.Signer{Secret: []byte("k1")}
	now := time.Now()
	tok := s.Token("ann@example.com", now)
	p, sig, _ := strings.Cut(tok, ".")
	forged := strings.Replace(p, p[len(p)-4:], "AAAA", 1) + "." + sig
	if _, err := s.Verify(forged, now); !errors.Is(err, unsubscribe.ErrInvalid) {
		t.Fatalf("forged payload accepted: %v", err)
	}
}
