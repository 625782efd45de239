package flows_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"perfect/flows"
)

// legacyKeys are the 28 keys the legacy get_email_variables always returned.
var legacyKeys = []string{
	"first_name", "business_name", "overall_score", "assessment_score", "segment",
	"readiness_zone", "weakest_system_1", "WeakestSystem1", "weakest_system",
	"weakest_system_2", "WeakestSystem2", "strongest_system", "StrongestSystem",
	"revenue_leak_total", "TotalRevenueLeak_K", "days_to_deadline", "deadline_date",
	"personalized_tip_1", "personalized_tip_2", "personalized_tip_3", "calendly_link",
	"red_systems", "orange_systems", "yellow_systems", "green_systems",
	"pdf_download_link", "spots_remaining", "bookings_count",
}

// flowKeys are the variables of each flow's own sequence.
var flowKeys = map[string][]string{
	flows.NoShowRecovery: {"calendly_event_uri", "scheduled_time", "event_type", "reschedule_url"},
	flows.PostCallMaybe:  {"call_date", "call_outcome", "call_notes", "objections", "follow_up_priority"},
	flows.Onboarding: {"payment_amount", "payment_date", "salon_address", "observation_dates",
		"start_date", "package_type", "docusign_completed"},
	flows.PreCallPrep: {"name", "meeting_time", "meeting_date", "booking_uid"},
}

// now is well before the default deadline of 2025-12-05T00:00Z.
var now = time.Date(2025, time.November, 29, 12, 0, 0, 0, time.UTC)

// decode reads params the way the engine stores them.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func TestVariables_EveryFlowHasTheLegacySet(t *testing.T) {
	t.Parallel()
	for _, f := range flows.All() {
		for _, params := range []map[string]any{nil, {}, decode(t, `{"first_name":null,"segment":null}`)} {
			v := flows.Variables(f.Name, params, flows.DefaultCampaign(), now)
			want := append(append([]string{"gps_score", "money_score", "email"}, legacyKeys...), flowKeys[f.Name]...)
			for _, k := range want {
				if _, ok := v[k]; !ok {
					t.Errorf("%s: key %q missing", f.Name, k)
				}
			}
			for k, val := range v {
				if strings.Contains(val, "None") || strings.Contains(val, "<nil>") || strings.Contains(val, "%!") {
					t.Errorf("%s: %s = %q", f.Name, k, val)
				}
			}
		}
	}
}

func TestVariables_Defaults(t *testing.T) {
	t.Parallel()
	d := flows.DefaultCampaign()
	tests := []struct {
		name   string
		flow   string
		params string
		key    string
		want   string
	}{
		{"first name missing", flows.ChristmasSignup, `{}`, "first_name", "there"},
		{"first name null", flows.ChristmasSignup, `{"first_name":null}`, "first_name", "there"},
		{"first name blank", flows.ChristmasSignup, `{"first_name":"  "}`, "first_name", "there"},
		{"first name given", flows.ChristmasSignup, `{"first_name":"Ada"}`, "first_name", "Ada"},
		{"first name from precall name", flows.PreCallPrep, `{"name":"Ada Lovelace"}`, "first_name", "Ada"},
		{"business name null", flows.ChristmasSignup, `{"business_name":null}`, "business_name", "your business"},
		{"business name empty", flows.ChristmasSignup, `{"business_name":""}`, "business_name", "your business"},
		{"score null", flows.ChristmasSignup, `{"assessment_score":null}`, "assessment_score", "N/A"},
		{"overall score null", flows.ChristmasSignup, `{}`, "overall_score", "N/A"},
		{"score zero", flows.ChristmasSignup, `{"assessment_score":0}`, "overall_score", "0"},
		{"score given", flows.ChristmasSignup, `{"assessment_score":72}`, "assessment_score", "72"},
		{"gps score null", flows.ChristmasSignup, `{"gps_score":null}`, "gps_score", "N/A"},
		{"gps score given", flows.ChristmasSignup, `{"gps_score":45}`, "gps_score", "45"},
		{"money score null", flows.ChristmasSignup, `{}`, "money_score", "N/A"},
		{"money score given", flows.ChristmasSignup, `{"money_score":38}`, "money_score", "38"},
		{"segment missing", flows.ChristmasSignup, `{}`, "segment", "OPTIMIZE"},
		{"segment null", flows.ChristmasSignup, `{"segment":null}`, "segment", "OPTIMIZE"},
		{"segment given", flows.ChristmasSignup, `{"segment":"URGENT","red_systems":3}`, "segment", "URGENT"},
		{"segment upper-cased", flows.ChristmasSignup, `{"segment":"critical"}`, "segment", "CRITICAL"},
		{"segment from red", flows.BusinessXAssess, `{"red_systems":2}`, "segment", "CRITICAL"},
		{"segment from orange", flows.BusinessXAssess, `{"orange_systems":2}`, "segment", "URGENT"},
		{"segment from counts", flows.ChristmasSignup, `{"red_systems":0,"orange_systems":1}`, "segment", "OPTIMIZE"},
		{"zone default", flows.ChristmasSignup, `{}`, "readiness_zone", "Growth Zone"},
		{"zone critical", flows.ChristmasSignup, `{"red_systems":3}`, "readiness_zone", "Crisis Zone"},
		{"zone urgent", flows.ChristmasSignup, `{"segment":"URGENT"}`, "readiness_zone", "Warning Zone"},
		{"weakest 1 null", flows.ChristmasSignup, `{"weakest_system_1":null}`, "weakest_system_1", "GPS"},
		{"WeakestSystem1 default", flows.ChristmasSignup, `{}`, "WeakestSystem1", "GPS"},
		{"weakest_system default", flows.ChristmasSignup, `{}`, "weakest_system", "GPS"},
		{"weakest 1 given", flows.ChristmasSignup, `{"weakest_system_1":"Money"}`, "WeakestSystem1", "Money"},
		{"weakest 2 empty", flows.ChristmasSignup, `{"weakest_system_2":""}`, "weakest_system_2", "FUEL"},
		{"WeakestSystem2 default", flows.ChristmasSignup, `{}`, "WeakestSystem2", "FUEL"},
		{"strongest default", flows.ChristmasSignup, `{}`, "strongest_system", "CABIN"},
		{"StrongestSystem default", flows.ChristmasSignup, `{}`, "StrongestSystem", "CABIN"},
		{"strongest given", flows.ChristmasSignup, `{"strongest_system":"RADAR"}`, "StrongestSystem", "RADAR"},
		{"revenue null", flows.ChristmasSignup, `{"revenue_leak_total":null}`, "revenue_leak_total", "0"},
		{"revenue zero", flows.ChristmasSignup, `{"revenue_leak_total":0}`, "TotalRevenueLeak_K", "0"},
		{"revenue given", flows.ChristmasSignup, `{"revenue_leak_total":14500}`, "revenue_leak_total", "14500"},
		{"red null", flows.ChristmasSignup, `{"red_systems":null}`, "red_systems", "0"},
		{"orange missing", flows.ChristmasSignup, `{}`, "orange_systems", "0"},
		{"yellow given", flows.ChristmasSignup, `{"yellow_systems":3}`, "yellow_systems", "3"},
		{"green missing", flows.ChristmasSignup, `{}`, "green_systems", "0"},
		{"deadline label", flows.ChristmasSignup, `{}`, "deadline_date", "December 5, 2025"},
		{"booking link", flows.ChristmasSignup, `{}`, "calendly_link", d.BookingLink},
		{"results link", flows.ChristmasSignup, `{}`, "pdf_download_link", d.ResultsLink},
		{"spots", flows.ChristmasSignup, `{}`, "spots_remaining", "12"},
		{"bookings", flows.ChristmasSignup, `{}`, "bookings_count", "18"},
		{"holiday tip", flows.ChristmasSignup, `{}`, "personalized_tip_3", d.HolidayTip},
		{"email", flows.ChristmasSignup, `{"email":"ada@example.com"}`, "email", "ada@example.com"},
		{"email missing", flows.ChristmasSignup, `{}`, "email", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := flows.Variables(tt.flow, decode(t, tt.params), d, now)[tt.key]
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestVariables_RevenueRounding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		value     any
		wantTotal string
		wantK     string
	}{
		{"half down to even", json.Number("14500"), "14500", "14"},
		{"half up to even", json.Number("15500"), "15500", "16"},
		{"above half", json.Number("14700"), "14700", "15"},
		{"below half", json.Number("14499"), "14499", "14"},
		{"under one thousand", json.Number("400"), "400", "0"},
		{"exactly half of one thousand", json.Number("500"), "500", "0"},
		{"one and a half thousand", json.Number("1500"), "1500", "2"},
		{"negative half", json.Number("-2500"), "-2500", "-2"},
		{"float64", float64(15500), "15500", "16"},
		{"int", 14500, "14500", "14"},
		{"decimal json number", json.Number("14500.0"), "14500", "14"},
		{"numeric string", "2500", "2500", "2"},
		{"not a number", "lots", "0", "0"},
		{"null", nil, "0", "0"},
		{"boolean false", false, "0", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := flows.Variables(flows.ChristmasSignup, map[string]any{"revenue_leak_total": tt.value},
				flows.DefaultCampaign(), now)
			if got := v["revenue_leak_total"]; got != tt.wantTotal {
				t.Errorf("revenue_leak_total = %q, want %q", got, tt.wantTotal)
			}
			if got := v["TotalRevenueLeak_K"]; got != tt.wantK {
				t.Errorf("TotalRevenueLeak_K = %q, want %q", got, tt.wantK)
			}
		})
	}
}

func TestVariables_Tips(t *testing.T) {
	t.Parallel()
	c := flows.DefaultCampaign()
	tests := []struct {
		name  string
		weak1 any
		weak2 any
		tip1  string
		tip2  string
	}{
		{"both missing fall back to GPS and CREW", nil, nil, "GPS", "CREW"},
		{"missing weakest 2 is CREW, not its FUEL default", "ENGINE", nil, "ENGINE", "CREW"},
		{"exact codes", "FUEL", "CABIN", "FUEL", "CABIN"},
		{"lower case matches", "cockpit", "radar", "COCKPIT", "RADAR"},
		{"substring matches", "The Autopilot system", "my crew", "AUTOPILOT", "CREW"},
		{"first code in legacy order wins", "CABIN CREW", "FUEL GPS", "CREW", "GPS"},
		{"free text matches nothing", "Money", "Team & Hiring", "GPS", "CREW"},
		{"empty strings", "", "", "GPS", "CREW"},
		{"number is no code", json.Number("3"), 4, "GPS", "CREW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			params := map[string]any{"weakest_system_1": tt.weak1, "weakest_system_2": tt.weak2}
			v := flows.Variables(flows.ChristmasSignup, params, c, now)
			if got, want := v["personalized_tip_1"], c.Tips[tt.tip1]; got != want {
				t.Errorf("tip 1 = %q, want the %s tip %q", got, tt.tip1, want)
			}
			if got, want := v["personalized_tip_2"], c.Tips[tt.tip2]; got != want {
				t.Errorf("tip 2 = %q, want the %s tip %q", got, tt.tip2, want)
			}
		})
	}
}

func TestVariables_DaysToDeadline(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2025, time.December, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want string
	}{
		{"several days", time.Date(2025, time.November, 29, 12, 0, 0, 0, time.UTC), "5"},
		{"exactly one day", deadline.Add(-24 * time.Hour), "1"},
		{"just under one day", deadline.Add(-24*time.Hour + time.Second), "0"},
		{"just over two days", deadline.Add(-48*time.Hour - time.Second), "2"},
		{"at the deadline", deadline, "0"},
		{"after the deadline", deadline.Add(72 * time.Hour), "0"},
		{"now in another zone", time.Date(2025, time.December, 3, 23, 0, 0, 0, time.FixedZone("X", -5*3600)), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := flows.DefaultCampaign()
			c.Deadline = deadline
			if got := flows.Variables(flows.ChristmasSignup, nil, c, tt.now)["days_to_deadline"]; got != tt.want {
				t.Errorf("days_to_deadline = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVariables_ParamTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"json number", json.Number("72"), "72"},
		{"float64 whole", float64(72), "72"},
		{"float64 fraction", 72.5, "72.5"},
		{"int", 72, "72"},
		{"int64", int64(72), "72"},
		{"string", "72", "72"},
		{"padded string", " 72 ", "72"},
		{"nil", nil, "N/A"},
		{"list", []any{"72"}, "N/A"},
		{"object", map[string]any{"x": 1}, "N/A"},
		{"bool true", true, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := flows.Variables(flows.ChristmasSignup, map[string]any{"assessment_score": tt.value},
				flows.DefaultCampaign(), now)
			if got := v["assessment_score"]; got != tt.want {
				t.Errorf("assessment_score = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVariables_FlowKeys(t *testing.T) {
	t.Parallel()
	d := flows.DefaultCampaign()
	tests := []struct {
		name   string
		flow   string
		params string
		key    string
		want   string
	}{
		{"noshow event uri", flows.NoShowRecovery, `{"calendly_event_uri":"https://example.com/e/1"}`,
			"calendly_event_uri", "https://example.com/e/1"},
		{"noshow scheduled time", flows.NoShowRecovery, `{"scheduled_time":"2025-12-01T10:00:00Z"}`,
			"scheduled_time", "2025-12-01T10:00:00Z"},
		{"noshow event type default", flows.NoShowRecovery, `{}`, "event_type", "Discovery Call - $2997 Diagnostic"},
		{"noshow event type given", flows.NoShowRecovery, `{"event_type":"Intro"}`, "event_type", "Intro"},
		{"noshow reschedule default", flows.NoShowRecovery, `{"reschedule_url":null}`, "reschedule_url", d.BookingLink},
		{"noshow reschedule given", flows.NoShowRecovery, `{"reschedule_url":"https://example.com/r"}`,
			"reschedule_url", "https://example.com/r"},
		{"postcall date", flows.PostCallMaybe, `{"call_date":"2025-11-20"}`, "call_date", "2025-11-20"},
		{"postcall outcome default", flows.PostCallMaybe, `{}`, "call_outcome", "Maybe"},
		{"postcall notes null", flows.PostCallMaybe, `{"call_notes":null}`, "call_notes", ""},
		{"postcall notes given", flows.PostCallMaybe, `{"call_notes":"Wants Q1"}`, "call_notes", "Wants Q1"},
		{"postcall objections joined", flows.PostCallMaybe, `{"objections":["Price","Timing"]}`,
			"objections", "Price, Timing"},
		{"postcall objections null", flows.PostCallMaybe, `{"objections":null}`, "objections", ""},
		{"postcall objections skip empty", flows.PostCallMaybe, `{"objections":["Price",null,""]}`,
			"objections", "Price"},
		{"postcall priority default", flows.PostCallMaybe, `{}`, "follow_up_priority", "Medium"},
		{"postcall priority given", flows.PostCallMaybe, `{"follow_up_priority":"High"}`, "follow_up_priority", "High"},
		{"onboarding amount", flows.Onboarding, `{"payment_amount":2997}`, "payment_amount", "2997.00"},
		{"onboarding amount fraction", flows.Onboarding, `{"payment_amount":2997.5}`, "payment_amount", "2997.50"},
		{"onboarding amount missing", flows.Onboarding, `{}`, "payment_amount", "0.00"},
		{"onboarding payment date", flows.Onboarding, `{"payment_date":"2025-11-28"}`, "payment_date", "2025-11-28"},
		{"onboarding address default", flows.Onboarding, `{"salon_address":null}`, "salon_address", "to be confirmed"},
		{"onboarding address given", flows.Onboarding, `{"salon_address":"1 Main St"}`, "salon_address", "1 Main St"},
		{"onboarding dates joined", flows.Onboarding, `{"observation_dates":["2025-12-01","2025-12-02"]}`,
			"observation_dates", "2025-12-01, 2025-12-02"},
		{"onboarding dates default", flows.Onboarding, `{}`, "observation_dates", "to be confirmed"},
		{"onboarding start default", flows.Onboarding, `{}`, "start_date", "to be confirmed"},
		{"onboarding package default", flows.Onboarding, `{}`, "package_type", "Phase 1 - Traditional Service Diagnostic"},
		{"onboarding docusign default", flows.Onboarding, `{}`, "docusign_completed", "true"},
		{"onboarding docusign false", flows.Onboarding, `{"docusign_completed":false}`, "docusign_completed", "false"},
		{"precall name", flows.PreCallPrep, `{"name":"Ada Lovelace"}`, "name", "Ada Lovelace"},
		{"precall meeting time as given", flows.PreCallPrep, `{"meeting_time":"2025-12-10T09:00:00-05:00"}`,
			"meeting_time", "2025-12-10T09:00:00-05:00"},
		{"precall meeting date in its own zone", flows.PreCallPrep, `{"meeting_time":"2025-12-10T22:00:00-05:00"}`,
			"meeting_date", "2025-12-10"},
		{"precall meeting date unparseable", flows.PreCallPrep, `{"meeting_time":"soon"}`, "meeting_date", ""},
		{"precall booking uid", flows.PreCallPrep, `{"booking_uid":"abc123"}`, "booking_uid", "abc123"},
		{"precall reschedule given", flows.PreCallPrep, `{"reschedule_url":"https://example.com/r"}`,
			"reschedule_url", "https://example.com/r"},
		{"assessment city", flows.BusinessXAssess, `{"city":"Toronto"}`, "city", "Toronto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := flows.Variables(tt.flow, decode(t, tt.params), d, now)
			got, ok := v[tt.key]
			if !ok || got != tt.want {
				t.Errorf("%s = %q (present %v), want %q", tt.key, got, ok, tt.want)
			}
		})
	}
}

func TestVariables_OptionalKeysAbsent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		flow string
		key  string
	}{
		{"precall reschedule not given", flows.PreCallPrep, "reschedule_url"},
		{"assessment city not given", flows.BusinessXAssess, "city"},
		{"signup has no noshow keys", flows.ChristmasSignup, "event_type"},
		{"signup has no diagnostic date", flows.ChristmasSignup, "diagnostic_call_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, ok := flows.Variables(tt.flow, decode(t, `{"reschedule_url":null}`), flows.DefaultCampaign(), now)[tt.key]; ok {
				t.Errorf("%s present as %q", tt.key, got)
			}
		})
	}
}

func TestVariables_PassThrough(t *testing.T) {
	t.Parallel()
	params := decode(t, `{
		"utm_source": "newsletter", "seats": 3, "ratio": 0.25, "portal_url": "https://example.com/p",
		"calendly_link": "https://evil.example/", "readiness_zone": "Nowhere", "segment_hint": null,
		"tags": ["a"], "vip": true, "extra": {"x": 1}
	}`)
	v := flows.Variables(flows.ChristmasSignup, params, flows.DefaultCampaign(), now)
	tests := []struct {
		name    string
		key     string
		want    string
		present bool
	}{
		{"new string field", "utm_source", "newsletter", true},
		{"new integer field", "seats", "3", true},
		{"new decimal field", "ratio", "0.25", true},
		{"legacy optional key", "portal_url", "https://example.com/p", true},
		{"documented link wins", "calendly_link", flows.DefaultCampaign().BookingLink, true},
		{"documented zone wins", "readiness_zone", "Growth Zone", true},
		{"null skipped", "segment_hint", "", false},
		{"list skipped", "tags", "", false},
		{"bool skipped", "vip", "", false},
		{"object skipped", "extra", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := v[tt.key]
			if ok != tt.present || got != tt.want {
				t.Errorf("%s = %q (present %v), want %q (present %v)", tt.key, got, ok, tt.want, tt.present)
			}
		})
	}
}

func TestVariables_CampaignConfig(t *testing.T) {
	t.Parallel()
	c := flows.Campaign{
		DeadlineLabel:  "January 9, 2026",
		BookingLink:    "https://example.org/book",
		SpotsRemaining: "3",
		Tips:           map[string]string{"GPS": "Configured GPS tip."},
	}
	v := flows.Variables(flows.ChristmasSignup, nil, c, now)
	d := flows.DefaultCampaign()
	tests := []struct {
		name string
		key  string
		want string
	}{
		{"configured label", "deadline_date", "January 9, 2026"},
		{"configured link", "calendly_link", "https://example.org/book"},
		{"configured spots", "spots_remaining", "3"},
		{"configured tip", "personalized_tip_1", "Configured GPS tip."},
		{"unconfigured tip falls back", "personalized_tip_2", d.Tips["CREW"]},
		{"unconfigured results link falls back", "pdf_download_link", d.ResultsLink},
		{"unconfigured deadline falls back", "days_to_deadline", "5"},
		{"unconfigured holiday tip falls back", "personalized_tip_3", d.HolidayTip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := v[tt.key]; got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestDefaultCampaign_IsNeutral(t *testing.T) {
	t.Parallel()
	c := flows.DefaultCampaign()
	for _, code := range []string{"GPS", "CREW", "ENGINE", "FUEL", "CABIN", "COCKPIT", "RADAR", "AUTOPILOT"} {
		if c.Tips[code] == "" {
			t.Errorf("no default tip for %s", code)
		}
	}
	for _, link := range []string{c.BookingLink, c.ResultsLink} {
		if !strings.HasPrefix(link, "https://example.com/") {
			t.Errorf("default link %q is not an example.com link", link)
		}
	}
	if c.Deadline.Location() != time.UTC {
		t.Errorf("deadline %v is not UTC", c.Deadline)
	}
}

func TestVariables_DoesNotModifyInputs(t *testing.T) {
	t.Parallel()
	params := decode(t, `{"first_name":"Ada","objections":["a","b"]}`)
	before, _ := json.Marshal(params)
	c := flows.Campaign{Tips: map[string]string{"GPS": "x"}}
	flows.Variables(flows.PostCallMaybe, params, c, now)
	after, _ := json.Marshal(params)
	if !bytes.Equal(before, after) {
		t.Errorf("params changed: %s -> %s", before, after)
	}
	if len(c.Tips) != 1 {
		t.Errorf("campaign tips changed: %v", c.Tips)
	}
}
