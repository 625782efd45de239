package prefectapi_test

import (
	"slices"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
	"perfect/internal/prefectapi"
)

func TestAPI_Filter(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	create := func(flow string, body map[string]any) prefect.FlowRun {
		t.Helper()
		code, raw := s.call(t, "POST", createPath(flow), body)
		if code != 201 {
			t.Fatalf("create %s = %d %s", flow, code, raw)
		}
		return decode[prefect.FlowRun](t, raw)
	}
	signup := create(flows.ChristmasSignup, websiteBody("a@example.com")) // first email at +24 h
	send := create(flows.ChristmasSendMail, map[string]any{
		"parameters": map[string]any{"email": "b@example.com", "email_number": 4},
		"state": map[string]any{"type": "SCHEDULED",
			"state_details": map[string]any{"scheduled_time": t0.Add(2 * time.Hour).Format(time.RFC3339)}},
	})
	noshow := create(flows.NoShowRecovery, map[string]any{"parameters": map[string]any{
		"email": "c@example.com", "first_name": "C", "business_name": "Cuts",
		"calendly_event_uri": "https://calendly.example/e/1", "scheduled_time": "2026-12-01T08:00:00Z"}}) // +5 min
	s.call(t, "POST", "/api/flow_runs/"+noshow.ID+"/set_state", map[string]any{"state": map[string]any{"type": "CANCELLED"}})

	tests := []struct {
		name string
		body any
		want []string
	}{
		{name: "all, newest id first", body: map[string]any{}, want: []string{noshow.ID, send.ID, signup.ID}},
		{name: "empty body", body: "", want: []string{noshow.ID, send.ID, signup.ID}},
		{name: "by deployment", body: map[string]any{"flow_runs": map[string]any{
			"deployment_id": map[string]any{"any_": []string{prefectapi.DeploymentID(flows.ChristmasSendMail)}}}},
			want: []string{send.ID}},
		{name: "by deployment name", body: map[string]any{"deployments": map[string]any{
			"name": map[string]any{"any_": []string{flows.ChristmasSignup}}}}, want: []string{signup.ID}},
		{name: "scheduled, by expected start", body: map[string]any{"sort": "EXPECTED_START_TIME_ASC",
			"flow_runs": map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"SCHEDULED", "PENDING"}}}}},
			want: []string{send.ID, signup.ID}},
		{name: "not cancelled", body: map[string]any{"flow_runs": map[string]any{
			"state": map[string]any{"type": map[string]any{"not_any_": []string{"CANCELLED"}}}}},
			want: []string{send.ID, signup.ID}},
		{name: "expected before", body: map[string]any{"flow_runs": map[string]any{
			"expected_start_time": map[string]any{"before_": t0.Add(3 * time.Hour).Format(time.RFC3339)}}},
			want: []string{noshow.ID, send.ID}},
		{name: "expected after", body: map[string]any{"flow_runs": map[string]any{
			"expected_start_time": map[string]any{"after_": t0.Add(3 * time.Hour).Format(time.RFC3339)}}},
			want: []string{signup.ID}},
		{name: "or_", body: map[string]any{"flow_runs": map[string]any{"operator": "or_",
			"id": map[string]any{"any_": []string{signup.ID}}, "name": map[string]any{"like_": "NOSHOW"}}},
			want: []string{noshow.ID, signup.ID}},
		{name: "limit and offset", body: map[string]any{"limit": 1, "offset": 1}, want: []string{send.ID}},
		{name: "offset past the end", body: map[string]any{"offset": 10}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, raw := s.call(t, "POST", "/api/flow_runs/filter", tt.body)
			if code != 200 {
				t.Fatalf("filter = %d %s", code, raw)
			}
			runs := decode[[]prefect.FlowRun](t, raw)
			got := []string{}
			for _, fr := range runs {
				got = append(got, fr.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("answers follow the FlowRun schema", func(t *testing.T) {
		_, raw := s.call(t, "POST", "/api/flow_runs/filter", map[string]any{})
		for _, fr := range decode[[]jsonObject](t, raw) {
			if probs := prefecttest.CheckFlowRunStrict(fr); len(probs) > 0 {
				t.Fatalf("%s: %v", fr, probs)
			}
		}
	})

	for _, bad := range []map[string]any{
		{"limit": 500},
		{"sort": "RANDOM"},
		{"task_runs": map[string]any{"name": map[string]any{"any_": []string{"x"}}}},
		{"flow_runs": map[string]any{"parent_flow_run_id": map[string]any{}}},
	} {
		if code, raw := s.call(t, "POST", "/api/flow_runs/filter", bad); code != 422 {
			t.Errorf("filter %v = %d %s, want 422", bad, code, raw)
		}
	}
}

// jsonObject keeps one element of a JSON array as raw bytes.
type jsonObject []byte

func (j *jsonObject) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}
