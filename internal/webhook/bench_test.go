package webhook

import (
	"encoding/json"
	"testing"
)

// benchBody is one legacy body and the decoder of its webhook.
type benchBody struct {
	name   string
	body   []byte
	decode func([]byte) error
}

// benchBodies returns a valid body of every legacy webhook, from the
// fixtures where one exists.
func benchBodies(b *testing.B) []benchBody {
	b.Helper()
	entry := func(file, name string) []byte {
		raw, ok := loadEntries(b, file)[name]
		if !ok {
			b.Fatalf("%s has no entry %q", file, name)
		}
		return raw
	}
	customer := entry("test_customer_data.json", "lead_nurture_critical")
	return []benchBody{
		{"christmas-signup", customer, func(p []byte) error { _, err := DecodeChristmasSignup(p); return err }},
		{"calendly-noshow", entry("calendly_noshow_payload.json", "valid_payload"),
			func(p []byte) error { _, err := DecodeNoShow(p); return err }},
		{"postcall-maybe", entry("crm_postcall_payload.json", "valid_payload"),
			func(p []byte) error { _, err := DecodePostCall(p); return err }},
		{"onboarding-start", entry("docusign_completion_payload.json", "valid_payload"),
			func(p []byte) error { _, err := DecodeOnboarding(p); return err }},
		{"calcom-booking", readFixture(b, "calcom-BOOKING_CREATED-1.json"),
			func(p []byte) error { _, err := DecodeCalcom(p); return err }},
		{"calendly-native", readFixture(b, "calendly-invitee_no_show-1.json"),
			func(p []byte) error { _, err := DecodeCalendly(p); return err }},
		{"signup", []byte(`{"email":"Ada.Lovelace@Example.com","name":"Ada Lovelace","first_name":"Ada",` +
			`"business_name":"Ada's Salon","signup_source":"web_form"}`),
			func(p []byte) error { _, err := DecodeSignup(p); return err }},
		{"assessment", []byte(`{"email":"ada@example.com","red_systems":2,"orange_systems":"1",` +
			`"yellow_systems":3,"green_systems":2,"assessment_score":61,"assessment_date":"2025-11-29"}`),
			func(p []byte) error { _, err := DecodeAssessment(p); return err }},
	}
}

// BenchmarkDecode decodes and validates one valid body of each legacy
// webhook, as the handler does before planning anything.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchBodies(b) {
		if err := c.decode(c.body); err != nil {
			b.Fatalf("%s: fixture does not decode: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if err := c.decode(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode_Invalid measures the 422 path: a christmas signup with a
// bad address and an out-of-range score, every error collected.
func BenchmarkDecode_Invalid(b *testing.B) {
	body := []byte(`{"email":"not-an-address","first_name":"Ada","assessment_score":101,"red_systems":"x"}`)
	b.ReportAllocs()
	for b.Loop() {
		_, err := DecodeChristmasSignup(body)
		if err == nil {
			b.Fatal("invalid body accepted")
		}
		if _, err := json.Marshal(err); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeEmail is the EmailStr check alone.
func BenchmarkNormalizeEmail(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeEmail(" Ada Lovelace <Ada.Lovelace@Example.COM> "); err != nil {
			b.Fatal(err)
		}
	}
}
