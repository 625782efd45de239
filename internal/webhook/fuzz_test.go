package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// seedEntries adds every payload of the named legacy fixture files.
func seedEntries(f *testing.F, files ...string) {
	f.Helper()
	for _, name := range files {
		for _, raw := range loadEntries(f, name) {
			f.Add([]byte(raw))
		}
	}
	f.Add([]byte(``))
	f.Add([]byte(`{"email":"A <a@Example.com>","red_systems":"2","objections":["x",1]}`))
	f.Add([]byte(`{"email":"x@y.test","payment_amount":NaN,"call_date":"\ud83d\ude00"}`))
}

// checkResult asserts the decoder's contract: an accepted body has a
// normalized, non-empty email; a refusal is one of the two error types and
// marshals.
func checkResult(t *testing.T, email string, ok bool, err error) {
	t.Helper()
	if err != nil {
		var ve *ValidationError
		var br *BadRequest
		if !errors.As(err, &ve) && !errors.As(err, &br) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if ve != nil && len(ve.Detail) == 0 {
			t.Fatal("ValidationError without detail")
		}
		if _, mErr := json.Marshal(err); mErr != nil {
			t.Fatalf("marshal error body: %v", mErr)
		}
		return
	}
	if !ok {
		return
	}
	if email == "" {
		t.Fatal("accepted body with an empty email")
	}
	again, nErr := NormalizeEmail(email)
	if nErr != nil || again != email {
		t.Fatalf("normalized email %q is not stable: %q, %v", email, again, nErr)
	}
}

func FuzzDecodeSignup(f *testing.F) {
	seedEntries(f, "test_customer_data.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeSignup(body)
		checkResult(t, emailOf(v, func(s *Signup) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodeChristmasSignup(f *testing.F) {
	seedEntries(f, "test_customer_data.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeChristmasSignup(body)
		if v != nil {
			_ = v.Params()
		}
		checkResult(t, emailOf(v, func(s *ChristmasSignup) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodeAssessment(f *testing.F) {
	seedEntries(f, "test_customer_data.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeAssessment(body)
		checkResult(t, emailOf(v, func(s *Assessment) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodeNoShow(f *testing.F) {
	seedEntries(f, "calendly_noshow_payload.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeNoShow(body)
		checkResult(t, emailOf(v, func(s *NoShow) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodePostCall(f *testing.F) {
	seedEntries(f, "crm_postcall_payload.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodePostCall(body)
		checkResult(t, emailOf(v, func(s *PostCall) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodeOnboarding(f *testing.F) {
	seedEntries(f, "docusign_completion_payload.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeOnboarding(body)
		checkResult(t, emailOf(v, func(s *Onboarding) string { return s.Email }), v != nil, err)
	})
}

func FuzzDecodeCalcom(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "calcom-*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"triggerEvent":"BOOKING_CREATED","payload":{"booking":{"attendees":[{"email":"a@example.com","name":"A"}],"startTime":"2025-01-01T00:00:00Z"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeCalcom(body)
		if err == nil && v == nil {
			t.Fatal("nil booking without error")
		}
		// Only booking events promise an email.
		booking := v != nil && IsCalcomBookingEvent(v.Event) && !isFlat(v)
		checkResult(t, emailOf(v, func(b *CalcomBooking) string { return b.Email }), booking, err)
		if booking && (v.Name == "" || v.StartTime.IsZero()) {
			t.Fatalf("booking without name or start: %+v", v)
		}
	})
}

// isFlat is never true for booking events: flat bodies are MEETING_*.
func isFlat(b *CalcomBooking) bool { return false }

func emailOf[T any](v *T, get func(*T) string) string {
	if v == nil {
		return ""
	}
	return get(v)
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"jane@example.com", "Jane <J@Example.COM>", "INFO@x.org", "jos\u00e9@m\u00fcnchen.de",
		"j@xn--mnchen-3ya.de", `"q"@example.com`, "a@[1.2.3.4]", "a.b-c+d@sub.example.co.uk",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeEmail(raw)
		if err != nil {
			var ee *EmailError
			if !errors.As(err, &ee) || ee.Reason == "" {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		checkResult(t, got, true, nil)
	})
}

func FuzzDecodeCalendly(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "calendly-*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := DecodeCalendly(body)
		_ = IsCalendlyEnvelope(body)
		invitee := v != nil && v.NoShow != nil
		checkResult(t, emailOf(v, func(e *CalendlyEvent) string { return e.Email }), invitee, err)
	})
}
