package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"perfect/internal/httpapi"
	"perfect/store"
)

const (
	calSecret    = "cal-secret"
	calendlyKey  = "calendly-key"
	webhookToken = "site-token"
)

func secured(t *testing.T) *fixtureServer {
	return newServerWith(t, false, "", func(s *httpapi.Server) {
		s.Secrets = httpapi.Secrets{CalcomSecret: calSecret, CalendlyKey: calendlyKey, WebhookToken: webhookToken}
	})
}

func hexMAC(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func provider(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "providers", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func futureBooking(t *testing.T) string {
	// The sample booking is in 2024; move it after the test clock so
	// reminders are planned.
	return strings.ReplaceAll(provider(t, "calcom-BOOKING_CREATED-1.json"), "2024-01-01T10:", "2026-12-09T10:")
}

func TestSecurity_CalcomSignature(t *testing.T) {
	f := secured(t)
	body := futureBooking(t)
	tests := []struct {
		name   string
		header string
		body   string
		code   int
	}{
		{"signed", hexMAC(calSecret, body), body, 200},
		{"unsigned", "", body, 401},
		{"no-secret-provided", "no-secret-provided", body, 401},
		{"wrong secret", hexMAC("other", body), body, 401},
		{"tampered", hexMAC(calSecret, body), strings.Replace(body, "guest@example.com", "evil@example.com", 1), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.do(t, http.MethodPost, "/webhook/calcom-booking", tt.body, "X-Cal-Signature-256", tt.header)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %v", code, tt.code, got)
			}
		})
	}
	if n := len(mustList(t, f.db, store.Filter{Email: "evil@example.com"})); n != 0 {
		t.Fatalf("tampered delivery planned %d steps", n)
	}
	ping := provider(t, "calcom-PING-1.json")
	if code, got := f.do(t, http.MethodPost, "/webhook/calcom-booking", ping, "X-Cal-Signature-256", hexMAC(calSecret, ping)); code != 200 || got["status"] != "ignored" {
		t.Fatalf("signed PING: %d %v", code, got)
	}
}

func calendlyHeader(key, body string, at time.Time) string {
	ts := fmt.Sprint(at.Unix())
	return "t=" + ts + ",v1=" + hexMAC(key, ts+"."+body)
}

func TestSecurity_CalendlySignature(t *testing.T) {
	f := secured(t)
	body := `{"email":"cal@example.com","first_name":"C","business_name":"B","calendly_event_uri":"u","scheduled_time":"t"}`
	if code, _ := f.do(t, http.MethodPost, "/webhook/calendly-noshow", body,
		"Calendly-Webhook-Signature", calendlyHeader(calendlyKey, body, t0)); code != 200 {
		t.Fatalf("signed: %d", code)
	}
	for name, h := range map[string]string{
		"replayed":  calendlyHeader(calendlyKey, body, t0),
		"expired":   calendlyHeader(calendlyKey, body, t0.Add(-4*time.Minute)),
		"future":    calendlyHeader(calendlyKey, body, t0.Add(4*time.Minute)),
		"wrong key": calendlyHeader("nope", body, t0.Add(time.Second)),
		"garbage":   "t=abc,v1=zz",
	} {
		if code, _ := f.do(t, http.MethodPost, "/webhook/calendly-noshow", body, "Calendly-Webhook-Signature", h); code != 401 {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	// The flattened legacy body may come from the CRM with the shared token instead.
	if code, _ := f.do(t, http.MethodPost, "/webhook/calendly-noshow", body, "X-Webhook-Token", webhookToken); code != 200 {
		t.Fatalf("token: %d", code)
	}
}

func TestSecurity_WebhookToken(t *testing.T) {
	f := secured(t)
	body := `{"email":"tok@example.com","name":"T","first_name":"T"}`
	for name, tc := range map[string]struct {
		h    []string
		code int
	}{
		"none":         {nil, 401},
		"wrong bearer": {[]string{"Authorization", "Bearer x"}, 401},
		"bearer":       {[]string{"Authorization", "Bearer " + webhookToken}, 200},
		"header":       {[]string{"X-Webhook-Token", webhookToken}, 200},
	} {
		if code, _ := f.do(t, http.MethodPost, "/webhook/signup", body, tc.h...); code != tc.code {
			t.Errorf("%s: %d, want %d", name, code, tc.code)
		}
	}
}

func TestSecurity_Hygiene(t *testing.T) {
	f := newServerWith(t, false, "", func(s *httpapi.Server) {
		s.WebhookRate, s.WebhookBurst = 1, 2
		s.CORSOrigins = []string{"https://site.example.com"}
	})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/webhook/signup", strings.NewReader("email=a"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d, want 415", resp.StatusCode)
	}
	body := `{"email":"r@example.com","name":"R","first_name":"R"}`
	var last *http.Response
	for range 4 {
		last, err = http.Post(f.srv.URL+"/webhook/signup", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, last.Body)
		last.Body.Close()
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("burst: %d Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}

	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, f.srv.URL+"/webhook/christmas-signup", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := pre("https://site.example.com"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://site.example.com" {
		t.Fatalf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("https://evil.example.com"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin got CORS headers: %v", r.Header)
	}

	resp, err = http.Get(f.srv.URL + "/admin/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Cache-Control", "Content-Security-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("admin route lacks %s", h)
		}
	}
}

func TestSecurity_CalendlySignatureUsedOnlyOnSuccess(t *testing.T) {
	f := secured(t)
	bad := `{"email":"not-an-address","first_name":"C","business_name":"B","calendly_event_uri":"u","scheduled_time":"t"}`
	h := calendlyHeader(calendlyKey, bad, t0)
	for i := range 2 {
		if code, _ := f.do(t, http.MethodPost, "/webhook/calendly-noshow", bad, "Calendly-Webhook-Signature", h); code != 422 {
			t.Fatalf("attempt %d: %d, want 422 both times (a refused delivery does not use up its signature)", i+1, code)
		}
	}
}
