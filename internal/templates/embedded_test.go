package templates_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// templateFlows maps every template name to the flow that sends it.
func templateFlows() map[string]string {
	m := map[string]string{}
	for _, f := range flows.All() {
		for _, s := range f.Steps {
			m[s.Template] = f.Name
			for _, name := range s.BySegment {
				m[name] = f.Name
			}
		}
	}
	return m
}

// flowVars are the variables of a flow for a contact with only the required
// webhook fields, plus the unsubscribe URL the engine adds.
func flowVars(flow string) map[string]string {
	params := map[string]any{"email": "ada@example.com", "first_name": "Ada"}
	now := time.Date(2025, time.November, 29, 12, 0, 0, 0, time.UTC)
	v := flows.Variables(flow, params, flows.DefaultCampaign(), now)
	v["unsubscribe_url"] = "https://example.com/unsubscribe?t=abc"
	return v
}

func TestEmbedded_HasEveryTemplateName(t *testing.T) {
	t.Parallel()
	src := templates.Embedded()
	for _, name := range flows.TemplateNames() {
		tmpl, err := src.Get(context.Background(), name)
		if err != nil {
			t.Errorf("Get(%q): %v", name, err)
			continue
		}
		if tmpl.Name != name {
			t.Errorf("Get(%q).Name = %q", name, tmpl.Name)
		}
	}
}

func TestEmbedded_RendersWithItsFlowVariables(t *testing.T) {
	t.Parallel()
	src := templates.Embedded()
	for name, flow := range templateFlows() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := src.Get(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			vars := flowVars(flow)
			if unknown := templates.Unknown(tmpl, vars); len(unknown) > 0 {
				t.Errorf("placeholders without a value for %s: %q", flow, unknown)
			}
			if !strings.Contains(tmpl.HTML, `<a href="{{unsubscribe_url}}">Unsubscribe</a>`) {
				t.Errorf("no unsubscribe link in the footer")
			}
			r := templates.Render(tmpl, vars)
			if strings.Contains(r.Subject+r.HTML, "{{") {
				t.Errorf("rendered email still has braces: %q", r.Subject)
			}
			if !strings.Contains(r.Text, "Unsubscribe (https://example.com/unsubscribe?t=abc)") {
				t.Errorf("text part has no unsubscribe link:\n%s", r.Text)
			}
			if !strings.HasPrefix(r.Text, "Hi Ada,") {
				t.Errorf("text part does not start with the greeting:\n%s", r.Text)
			}
		})
	}
}

func TestEmbedded_UsesItsOwnFlowVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		keys   []string
	}{
		{"5-day", "5-Day E", []string{"WeakestSystem1", "WeakestSystem2", "TotalRevenueLeak_K",
			"days_to_deadline", "calendly_link", "pdf_download_link", "personalized_tip_1", "spots_remaining"}},
		{"no-show", "noshow_recovery_email_", []string{"reschedule_url", "event_type", "scheduled_time"}},
		{"post-call", "postcall_maybe_email_", []string{"call_date"}},
		{"onboarding", "onboarding_phase1_email_", []string{"salon_address", "start_date", "payment_amount",
			"observation_dates", "package_type"}},
		{"pre-call", "precall_reminder_", []string{"meeting_time", "meeting_date"}},
		{"businessx", "email_", []string{"red_systems", "orange_systems", "readiness_zone", "calendly_link"}},
	}
	src := templates.Embedded()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			used := map[string]bool{}
			for _, name := range flows.TemplateNames() {
				if !strings.HasPrefix(name, tt.prefix) {
					continue
				}
				tmpl, err := src.Get(context.Background(), name)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range templates.Placeholders(tmpl) {
					used[k] = true
				}
			}
			for _, k := range tt.keys {
				if !used[k] {
					t.Errorf("no %s template uses {{%s}}", tt.name, k)
				}
			}
		})
	}
}

func TestEmbedded_OnlyKnownNames(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("embedded")
	if err != nil {
		t.Fatal(err)
	}
	names := flows.TemplateNames()
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if !slices.Contains(names, name) {
			t.Errorf("embedded/%s is not a template of any flow", e.Name())
		}
	}
}

func TestEmbedded_Golden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		flow   string
		params string
	}{
		{"5-Day E2", flows.ChristmasSignup, `{"first_name":"Ada","business_name":"Ada & Co",
			"assessment_score":62,"red_systems":1,"weakest_system_1":"FUEL","revenue_leak_total":14500}`},
		{"noshow_recovery_email_1", flows.NoShowRecovery, `{"first_name":"Ada","business_name":"Ada & Co",
			"scheduled_time":"2025-12-01T15:00:00Z","reschedule_url":"https://example.com/r/1"}`},
		{"onboarding_phase1_email_1", flows.Onboarding, `{"first_name":"Ada","business_name":"Ada & Co",
			"payment_amount":2997,"payment_date":"2025-11-28","salon_address":"1 Main St <Unit 2>",
			"observation_dates":["2025-12-02","2025-12-03"],"start_date":"2025-12-01"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := templates.Embedded().Get(context.Background(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			var params map[string]any
			dec := json.NewDecoder(strings.NewReader(tt.params))
			dec.UseNumber()
			if err := dec.Decode(&params); err != nil {
				t.Fatal(err)
			}
			vars := flows.Variables(tt.flow, params, flows.DefaultCampaign(),
				time.Date(2025, time.November, 29, 12, 0, 0, 0, time.UTC))
			vars["unsubscribe_url"] = "https://example.com/unsubscribe?t=abc"
			r := templates.Render(tmpl, vars)
			got := "Subject: " + r.Subject + "\n\n" + r.Text + "\n"
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("rendered %s differs from %s:\n got:\n%s\nwant:\n%s", tt.name, golden, got, want)
			}
		})
	}
}
