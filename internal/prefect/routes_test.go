package prefect_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"perfect/flows"
	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
)

func TestParseBackends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    prefect.Routes
		wantErr string
	}{
		{name: "empty", in: "", want: prefect.Routes{}},
		{name: "send email", in: "christmas-send-email=prefect",
			want: prefect.Routes{"christmas-send-email": "prefect"}},
		{name: "spaces and case", in: " christmas-send-email = Prefect , christmas-noshow-recovery-handler=prefect,",
			want: prefect.Routes{"christmas-send-email": "prefect", "christmas-noshow-recovery-handler": "prefect"}},
		{name: "embedded explicit", in: "christmas-signup-handler=embedded",
			want: prefect.Routes{"christmas-signup-handler": "embedded"}},
		{name: "unknown flow", in: "christmas-sendmail=prefect", wantErr: `unknown flow "christmas-sendmail"`},
		{name: "unknown backend", in: "christmas-send-email=kestra", wantErr: `unknown backend "kestra"`},
		{name: "no deployment", in: "assessment-handler=prefect", wantErr: "has no Prefect deployment"},
		{name: "not a pair", in: "christmas-send-email", wantErr: "is not flow=backend"},
		{name: "contradiction", in: "christmas-send-email=prefect,christmas-send-email=embedded", wantErr: "set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prefect.ParseBackends(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRoutes_Mode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		routes string
		flow   string
		want   prefect.Mode
	}{
		{name: "default embedded", flow: flows.ChristmasSignup, want: prefect.Embedded},
		{name: "signup emails through sender", routes: "christmas-send-email=prefect", flow: flows.ChristmasSignup, want: prefect.SendEmail},
		{name: "no-show not renderable by sender", routes: "christmas-send-email=prefect", flow: flows.NoShowRecovery, want: prefect.Embedded},
		{name: "whole handler", routes: "christmas-send-email=prefect,christmas-noshow-recovery-handler=prefect", flow: flows.NoShowRecovery, want: prefect.Handler},
		{name: "handler wins over sender", routes: "christmas-send-email=prefect,christmas-signup-handler=prefect", flow: flows.ChristmasSignup, want: prefect.Handler},
		{name: "assessment stays embedded", routes: "christmas-send-email=prefect", flow: flows.BusinessXAssess, want: prefect.Embedded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := prefect.ParseBackends(tt.routes)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Mode(tt.flow); got != tt.want {
				t.Fatalf("Mode(%s) = %v, want %v", tt.flow, got, tt.want)
			}
		})
	}
}

func TestRoutes_Deployments(t *testing.T) {
	t.Parallel()
	r, err := prefect.ParseBackends("christmas-send-email=prefect,christmas-onboarding-handler=prefect,christmas-signup-handler=embedded")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"christmas-onboarding-handler/christmas-onboarding-handler", "christmas-send-email/christmas-send-email"}
	if got := r.Deployments(); !slices.Equal(got, want) {
		t.Fatalf("Deployments() = %v, want %v", got, want)
	}
	if got := r.String(); got != "christmas-onboarding-handler=prefect,christmas-send-email=prefect" {
		t.Fatalf("String() = %q", got)
	}
}

func TestSendEmailParameters(t *testing.T) {
	t.Parallel()
	full := map[string]any{
		"email": "jo@example.com", "first_name": "Jo", "business_name": "Jo's Salon",
		"assessment_score": 52, "red_systems": 2, "orange_systems": 1, "yellow_systems": 3,
		"green_systems": 2, "gps_score": json.Number("45"), "money_score": 38.0,
		"weakest_system_1": "GPS", "weakest_system_2": nil, "strongest_system": nil,
		"revenue_leak_total": json.Number("123456789012345678901234"), "segment": "CRITICAL",
		"unknown_extra": "dropped",
	}
	tests := []struct {
		name    string
		params  map[string]any
		segment string
		want    map[string]any
		absent  []string
	}{
		{name: "full set", params: full, segment: "CRITICAL", want: map[string]any{
			"email": "jo@example.com", "email_number": 3, "first_name": "Jo", "business_name": "Jo's Salon",
			"segment": "CRITICAL", "assessment_score": 52, "gps_score": int64(45), "money_score": int64(38),
			"weakest_system_2": nil, "strongest_system": nil,
			"revenue_leak_total": json.Number("123456789012345678901234"),
		}, absent: []string{"unknown_extra"}},
		{name: "unknown names are omitted, not null", params: map[string]any{
			"email": "jo@example.com", "first_name": nil, "business_name": "",
		}, want: map[string]any{"email": "jo@example.com", "email_number": 3, "assessment_score": nil},
			absent: []string{"first_name", "business_name", "segment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := prefect.SendEmailParameters(tt.params, 3, tt.segment)
			for k, v := range tt.want {
				if gv, ok := got[k]; !ok || gv != v {
					t.Errorf("%s = %#v (present %v), want %#v", k, gv, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
			if probs := prefecttest.SendEmailContract.Check(roundTrip(t, got)); len(probs) > 0 {
				t.Fatalf("fails the legacy contract: %v", probs)
			}
		})
	}
}

func TestHandlerParameters(t *testing.T) {
	t.Parallel()
	params := map[string]any{
		"email": "jo@example.com", "first_name": "Jo", "business_name": "Salon",
		"calendly_event_uri": "https://calendly.example/e/1", "scheduled_time": "2026-12-02T10:00:00Z",
		"event_type": "Discovery Call", "reschedule_url": nil, "invitee_uri": "dropped",
	}
	got := prefect.HandlerParameters(flows.NoShowRecovery, params)
	if _, ok := got["invitee_uri"]; ok {
		t.Fatal("a key outside the handler's signature was kept")
	}
	if v, ok := got["reschedule_url"]; !ok || v != nil {
		t.Fatalf("reschedule_url = %v (present %v), want explicit null", v, ok)
	}
	if probs := prefecttest.HandlerContracts[flows.NoShowRecovery].Check(roundTrip(t, got)); len(probs) > 0 {
		t.Fatalf("fails the legacy contract: %v", probs)
	}
}

// roundTrip turns values into what the server decodes.
func roundTrip(tb testing.TB, v map[string]any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}
