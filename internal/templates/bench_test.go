package templates_test

import (
	"context"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/templates"
)

// BenchmarkRender_Templates fills one embedded template of each kind with its flow's
// variables: subject, escaped HTML body and the generated text part.
func BenchmarkRender_Templates(b *testing.B) {
	cases := []struct {
		name, template, flow string
	}{
		{"christmas-E2", "5-Day E2", flows.ChristmasSignup},
		{"noshow-1", "noshow_recovery_email_1", flows.NoShowRecovery},
		{"onboarding-1", "onboarding_phase1_email_1", flows.Onboarding},
		{"assessment-1", "email_1", flows.BusinessXAssess},
	}
	src := templates.Embedded()
	for _, c := range cases {
		tpl, err := src.Get(context.Background(), c.template)
		if err != nil {
			b.Fatalf("%s: %v", c.template, err)
		}
		vars := flowVars(c.flow)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tpl.HTML)))
			for b.Loop() {
				if out := templates.Render(tpl, vars); out.Text == "" {
					b.Fatal("empty text part")
				}
			}
		})
	}
}

// BenchmarkVariables builds the variable set of a christmas email from the
// run's params, the step before Render.
func BenchmarkVariables(b *testing.B) {
	params := map[string]any{
		"email": "ada@example.com", "first_name": "Ada", "business_name": "Ada's Salon",
		"assessment_score": 42, "red_systems": 2, "orange_systems": 1, "weakest_system_1": "GPS",
	}
	c := flows.DefaultCampaign()
	now := time.Date(2025, time.November, 29, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if v := flows.Variables(flows.ChristmasSignup, params, c, now); v["first_name"] != "Ada" {
			b.Fatalf("first_name %q", v["first_name"])
		}
	}
}
