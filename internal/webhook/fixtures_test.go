package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// loadEntries reads a legacy fixture file: an object of named payloads.
func loadEntries(tb testing.TB, name string) map[string]json.RawMessage {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// locsOf returns the locations of a *ValidationError, joined with dots.
func locsOf(tb testing.TB, err error) []string {
	tb.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		tb.Fatalf("error = %v (%T), want *ValidationError", err, err)
	}
	var locs []string
	for _, d := range ve.Detail {
		locs = append(locs, d.Type+"@"+locString(d.Loc))
	}
	return locs
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestFixtures_NoShow(t *testing.T) {
	t.Parallel()
	entries := loadEntries(t, "calendly_noshow_payload.json")
	wantInvalid := map[string][]string{
		"invalid_payload_missing_email":     {"missing@body.email"},
		"invalid_payload_missing_event_uri": {"missing@body.calendly_event_uri"},
		"invalid_payload_malformed_email":   {"value_error@body.email"},
	}
	for _, name := range sortedKeys(entries) {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeNoShow(entries[name])
			if want, ok := wantInvalid[name]; ok {
				if l := locsOf(t, err); !reflect.DeepEqual(l, want) {
					t.Fatalf("locs = %v, want %v", l, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeNoShow: %v", err)
			}
			var raw map[string]string
			_ = json.Unmarshal(entries[name], &raw)
			want := NoShow{
				Email: raw["email"], FirstName: raw["first_name"], BusinessName: raw["business_name"],
				CalendlyEventURI: raw["calendly_event_uri"], ScheduledTime: raw["scheduled_time"],
				EventType: DefaultEventType,
			}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("got %+v, want %+v", *got, want)
			}
		})
	}
}

func TestFixtures_PostCall(t *testing.T) {
	t.Parallel()
	entries := loadEntries(t, "crm_postcall_payload.json")
	notes := "Interested but needs budget approval from business partner"
	many := "Many concerns but willing to consider if addressed"
	tests := map[string]struct {
		want *PostCall
		locs []string
	}{
		"valid_payload": {want: &PostCall{
			Email: "e2e-postcall-test@example.com", FirstName: "PostCall Test",
			BusinessName: "PostCall Test Salon", CallDate: "2025-12-01T14:30:00Z",
			CallOutcome: "Maybe", CallNotes: &notes, Objections: []string{"Price", "Timing"},
			FollowUpPriority: "High",
		}},
		"valid_payload_minimal": {want: &PostCall{
			Email: "e2e-postcall-minimal@example.com", FirstName: "Minimal Test",
			BusinessName: "Minimal Test Salon", CallDate: "2025-12-02T10:00:00Z",
			CallOutcome: DefaultCallOutcome, FollowUpPriority: DefaultFollowUpPriority,
		}},
		"valid_payload_with_multiple_objections": {want: &PostCall{
			Email: "e2e-postcall-objections@example.com", FirstName: "Objections Test",
			BusinessName: "Objections Test Salon", CallDate: "2025-12-03T15:00:00Z",
			CallOutcome: "Maybe", CallNotes: &many,
			Objections: []string{"Price too high", "Need to think about it",
				"Already working with competitor", "Not right timing"},
			FollowUpPriority: "Medium",
		}},
		"invalid_payload_missing_email":     {locs: []string{"missing@body.email"}},
		"invalid_payload_missing_call_date": {locs: []string{"missing@body.call_date"}},
		"invalid_payload_malformed_email":   {locs: []string{"value_error@body.email"}},
	}
	if len(tests) != len(entries) {
		t.Fatalf("fixture has %d entries, test covers %d", len(entries), len(tests))
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodePostCall(entries[name])
			if tt.locs != nil {
				if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
					t.Fatalf("locs = %v, want %v", l, tt.locs)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodePostCall: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFixtures_Onboarding(t *testing.T) {
	t.Parallel()
	entries := loadEntries(t, "docusign_completion_payload.json")
	addr := "123 Main Street, Toronto, ON M5V 2T6"
	start := "2025-12-10"
	tests := map[string]struct {
		check func(t *testing.T, o *Onboarding)
		locs  []string
	}{
		"valid_payload": {check: func(t *testing.T, o *Onboarding) {
			want := Onboarding{
				Email: "e2e-onboarding-test@example.com", FirstName: "Onboarding Test",
				BusinessName: "Onboarding Test Salon", PaymentConfirmed: true, PaymentAmount: 2997,
				PaymentDate: "2025-12-01T15:00:00Z", DocusignCompleted: true, SalonAddress: &addr,
				ObservationDates: []string{"2025-12-10", "2025-12-17"}, StartDate: &start,
				PackageType: DefaultPackageType,
			}
			if !reflect.DeepEqual(*o, want) {
				t.Fatalf("got %+v, want %+v", *o, want)
			}
		}},
		"valid_payload_minimal": {check: func(t *testing.T, o *Onboarding) {
			if !o.DocusignCompleted || o.PackageType != DefaultPackageType || o.SalonAddress != nil ||
				o.ObservationDates != nil || o.StartDate != nil || o.PaymentAmount != 2997 {
				t.Fatalf("defaults not applied: %+v", o)
			}
		}},
		"valid_payload_full_details": {check: func(t *testing.T, o *Onboarding) {
			if len(o.ObservationDates) != 3 || o.BusinessName != "Luxury Hair Studio" {
				t.Fatalf("got %+v", o)
			}
		}},
		// Decoding accepts it, as pydantic did; the handler refuses it.
		"invalid_payload_payment_not_confirmed": {check: func(t *testing.T, o *Onboarding) {
			if o.PaymentConfirmed || o.PaymentAmount != 0 {
				t.Fatalf("got %+v", o)
			}
		}},
		"invalid_payload_missing_email":                {locs: []string{"missing@body.email"}},
		"invalid_payload_missing_payment_confirmation": {locs: []string{"missing@body.payment_confirmed"}},
	}
	if len(tests) != len(entries) {
		t.Fatalf("fixture has %d entries, test covers %d", len(entries), len(tests))
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeOnboarding(entries[name])
			if tt.locs != nil {
				if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
					t.Fatalf("locs = %v, want %v", l, tt.locs)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeOnboarding: %v", err)
			}
			tt.check(t, got)
		})
	}
}

func TestFixtures_ChristmasSignup(t *testing.T) {
	t.Parallel()
	entries := loadEntries(t, "test_customer_data.json")
	for _, name := range sortedKeys(entries) {
		if strings.HasPrefix(string(entries[name]), `"`) {
			continue // timestamp_prefix, test_domain
		}
		t.Run(name, func(t *testing.T) {
			var want struct {
				Email           string `json:"email"`
				FirstName       string `json:"first_name"`
				Business        string `json:"business_name"`
				Score           int    `json:"assessment_score"`
				Red             int    `json:"red_systems"`
				Orange          int    `json:"orange_systems"`
				Yellow          int    `json:"yellow_systems"`
				Green           int    `json:"green_systems"`
				GPS             int    `json:"gps_score"`
				Money           int    `json:"money_score"`
				Weak1           string `json:"weakest_system_1"`
				Weak2           string `json:"weakest_system_2"`
				Leak            int    `json:"revenue_leak_total"`
				ExpectedSegment string `json:"expected_segment"`
			}
			if err := json.Unmarshal(entries[name], &want); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeChristmasSignup(entries[name])
			if err != nil {
				t.Fatalf("DecodeChristmasSignup: %v", err)
			}
			p := got.Params()
			checks := map[string]any{
				"email": want.Email, "first_name": want.FirstName, "business_name": want.Business,
				"assessment_score": want.Score, "red_systems": want.Red, "orange_systems": want.Orange,
				"yellow_systems": want.Yellow, "green_systems": want.Green, "gps_score": want.GPS,
				"money_score": want.Money, "weakest_system_1": want.Weak1, "weakest_system_2": want.Weak2,
				"revenue_leak_total": want.Leak, "segment": want.ExpectedSegment, "strongest_system": nil,
			}
			for k, v := range checks {
				if p[k] != v {
					t.Errorf("Params()[%q] = %#v, want %#v", k, p[k], v)
				}
			}
			if len(p) != len(checks) {
				t.Errorf("Params() has %d keys, want %d: %v", len(p), len(checks), p)
			}
		})
	}
}
