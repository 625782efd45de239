package prefectapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
	"perfect/internal/prefectapi"
	"perfect/store"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// server is perfect's Prefect API on a real store and engine.
type server struct {
	*httptest.Server
	db  *store.DB
	eng *engine.Engine
	clk *clock
	api *prefectapi.API
}

func newServer(tb testing.TB, cfg prefectapi.Config) *server {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Check(); err != nil {
			tb.Errorf("consistency check: %v", err)
		}
		db.Close()
	})
	s := &server{db: db, clk: &clock{t: t0}}
	s.eng = engine.New(engine.Config{DB: db, Now: s.clk.Now})
	s.api = prefectapi.New(cfg)
	s.api.SetBackend(s.eng, nil)
	s.Server = httptest.NewServer(s.api.Handler())
	tb.Cleanup(s.Close)
	return s
}

// call sends a request and decodes the JSON answer.
func (s *server) call(tb testing.TB, method, path string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, out
}

func decode[T any](tb testing.TB, raw []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func createPath(flow string) string {
	return "/api/deployments/" + prefectapi.DeploymentID(flow) + "/create_flow_run"
}

// websiteBody is what the legacy website posted (legacy §11.2): a run name
// and the christmas-signup fields, no state.
func websiteBody(email string) map[string]any {
	return map[string]any{
		"name": "christmas-signup-1764403200",
		"parameters": map[string]any{
			"email": email, "first_name": "Jo", "business_name": "Jo's Salon",
			"assessment_score": 52, "red_systems": 2, "orange_systems": 1,
			"yellow_systems": 3, "green_systems": 2, "gps_score": 45, "money_score": 38,
			"weakest_system_1": "GPS", "weakest_system_2": "Money", "revenue_leak_total": 14700,
		},
	}
}

func TestAPI_Health(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	code, body := s.call(t, "GET", "/api/health", nil)
	if code != 200 || strings.TrimSpace(string(body)) != "true" {
		t.Fatalf("health = %d %s", code, body)
	}
}

func TestAPI_NotReady(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(prefectapi.New(prefectapi.Config{}).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/api/deployments/name/christmas-send-email/christmas-send-email")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status = %d, want 503 with Retry-After before the store is open", resp.StatusCode)
	}
}

func TestAPI_Deployments(t *testing.T) {
	t.Parallel()
	custom := "0f8fad5b-d9cb-469f-a165-70867728950e"
	s := newServer(t, prefectapi.Config{DeploymentIDs: map[string]string{flows.ChristmasSignup: custom}})
	offered := []string{flows.ChristmasSignup, flows.NoShowRecovery, flows.PostCallMaybe, flows.Onboarding,
		flows.PreCallPrep, flows.BusinessXSignup, flows.BusinessXAssess, flows.ChristmasSendMail}
	for _, flow := range offered {
		t.Run(flow, func(t *testing.T) {
			code, body := s.call(t, "GET", "/api/deployments/name/"+flow+"/"+flow, nil)
			if code != 200 {
				t.Fatalf("by name: %d %s", code, body)
			}
			if probs := prefecttest.CheckDeployment(body); len(probs) > 0 {
				t.Fatalf("deployment answer: %v", probs)
			}
			d := decode[prefect.Deployment](t, body)
			want := prefectapi.DeploymentID(flow)
			if flow == flows.ChristmasSignup {
				want = custom
			}
			if d.ID != want || d.Name != flow {
				t.Fatalf("id %s name %s, want %s %s", d.ID, d.Name, want, flow)
			}
			code, body = s.call(t, "GET", "/api/deployments/"+strings.ToUpper(want), nil)
			if code != 200 || decode[prefect.Deployment](t, body).ID != want {
				t.Fatalf("by id: %d %s", code, body)
			}
		})
	}
	tests := []struct{ name, path string }{
		{name: "unknown flow", path: "/api/deployments/name/christmas-precall-reminder/christmas-precall-reminder"},
		{name: "legacy numbered deployment", path: "/api/deployments/name/christmas-send-email/christmas-email-1"},
		{name: "unknown id", path: "/api/deployments/" + prefect.NameUUID("nothing")},
		{name: "not a uuid", path: "/api/deployments/christmas-send-email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.call(t, "GET", tt.path, nil)
			if code != 404 || strings.TrimSpace(string(body)) != `{"detail":"Deployment not found"}` {
				t.Fatalf("got %d %s", code, body)
			}
		})
	}
}

// TestAPI_WebsiteSignupThenCancel posts what the legacy website posted to
// Prefect, sees the 5-day sequence planned in the store, then cancels the
// run as `prefect flow-run cancel` would and sees its emails cancelled.
func TestAPI_WebsiteSignupThenCancel(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	code, body := s.call(t, "POST", createPath(flows.ChristmasSignup), websiteBody("Jo@Example.com"))
	if code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	if probs := prefecttest.CheckFlowRunStrict(body); len(probs) > 0 {
		t.Fatalf("flow run answer: %v", probs)
	}
	fr := decode[prefect.FlowRun](t, body)
	if fr.Name != "christmas-signup-1764403200" || *fr.DeploymentID != prefectapi.DeploymentID(flows.ChristmasSignup) {
		t.Fatalf("name %q deployment %v", fr.Name, *fr.DeploymentID)
	}
	e2 := t0.Add(24 * time.Hour)
	if fr.State.Type != prefect.Scheduled || !fr.State.StateDetails.ScheduledTime.Equal(e2) {
		t.Fatalf("state = %s at %v, want SCHEDULED at %s", fr.State.Type, fr.State.StateDetails.ScheduledTime, e2)
	}

	runID, err := prefect.RunIDFromUUID(fr.ID)
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.db.GetRun(runID)
	if err != nil || run.Flow != flows.ChristmasSignup || run.Email != "Jo@example.com" {
		t.Fatalf("run = %+v, %v", run, err)
	}
	steps, err := s.db.StepsByRun(runID)
	if err != nil || len(steps) != 4 {
		t.Fatalf("steps = %d, %v; want E2..E5", len(steps), err)
	}
	for i, st := range steps {
		if st.EmailNumber != i+2 || st.Template != "5-Day E"+string(rune('2'+i)) || st.Status != store.StatusPlanned {
			t.Errorf("step %d = %s %s %s", i, st.ID, st.Template, st.Status)
		}
	}

	code, body = s.call(t, "POST", "/api/flow_runs/"+fr.ID+"/set_state",
		map[string]any{"state": map[string]any{"type": "CANCELLING", "message": "customer asked"}, "force": false})
	if code != 200 {
		t.Fatalf("set_state = %d %s", code, body)
	}
	if probs := prefecttest.CheckOrchestrationResult(body); len(probs) > 0 {
		t.Fatalf("orchestration result: %v", probs)
	}
	res := decode[prefect.OrchestrationResult](t, body)
	if res.Status != prefect.Reject || res.State.Type != prefect.Cancelled || !res.Cancelled() ||
		res.Details.Reason != "Scheduled flow run has no infrastructure to terminate." {
		t.Fatalf("result = %+v, want REJECT with Cancelled", res)
	}
	steps, _ = s.db.StepsByRun(runID)
	for _, st := range steps {
		if st.Status != store.StatusCancelled || st.CancelReason != "customer asked" {
			t.Errorf("step %s is %s (%q), want cancelled", st.ID, st.Status, st.CancelReason)
		}
	}

	code, body = s.call(t, "GET", "/api/flow_runs/"+fr.ID, nil)
	if got := decode[prefect.FlowRun](t, body); code != 200 || got.State.Type != prefect.Cancelled {
		t.Fatalf("after cancel: %d %s", code, body)
	}
	code, body = s.call(t, "POST", "/api/flow_runs/"+fr.ID+"/set_state",
		map[string]any{"state": map[string]any{"type": "CANCELLING"}})
	if res := decode[prefect.OrchestrationResult](t, body); code != 200 || res.Status != prefect.Abort {
		t.Fatalf("second cancel = %d %s, want ABORT", code, body)
	}
}

func TestAPI_SetState_CancelledIsAccepted(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	_, body := s.call(t, "POST", createPath(flows.ChristmasSignup), websiteBody("jo@example.com"))
	fr := decode[prefect.FlowRun](t, body)
	code, body := s.call(t, "POST", "/api/flow_runs/"+fr.ID+"/set_state",
		map[string]any{"state": map[string]any{"type": "CANCELLED"}})
	res := decode[prefect.OrchestrationResult](t, body)
	if code != 201 || res.Status != prefect.Accept || res.State.Type != prefect.Cancelled {
		t.Fatalf("set_state CANCELLED = %d %s", code, body)
	}
	code, body = s.call(t, "POST", "/api/flow_runs/"+prefect.NameUUID("x")+"/set_state",
		map[string]any{"state": map[string]any{"type": "CANCELLED"}})
	if code != 404 || strings.TrimSpace(string(body)) != `{"detail":"Flow run not found"}` {
		t.Fatalf("unknown run = %d %s", code, body)
	}
}

func TestAPI_SetState_OtherStatesAbort(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	_, body := s.call(t, "POST", createPath(flows.ChristmasSignup), websiteBody("jo@example.com"))
	fr := decode[prefect.FlowRun](t, body)
	code, body := s.call(t, "POST", "/api/flow_runs/"+fr.ID+"/set_state",
		map[string]any{"state": map[string]any{"type": "RUNNING"}})
	if res := decode[prefect.OrchestrationResult](t, body); code != 200 || res.Status != prefect.Abort || res.State != nil {
		t.Fatalf("RUNNING = %d %s, want ABORT", code, body)
	}
	steps, _ := s.db.StepsByRun(mustRunID(t, fr.ID))
	if steps[0].Status != store.StatusPlanned {
		t.Fatal("an aborted proposal changed the run")
	}
}

func mustRunID(tb testing.TB, uuid string) string {
	tb.Helper()
	id, err := prefect.RunIDFromUUID(uuid)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestAPI_CreateFlowRun_Idempotency(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	body := websiteBody("jo@example.com")
	body["idempotency_key"] = "website-42"
	code1, raw1 := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
	code2, raw2 := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
	fr1, fr2 := decode[prefect.FlowRun](t, raw1), decode[prefect.FlowRun](t, raw2)
	if code1 != 201 || code2 != 200 || fr1.ID != fr2.ID {
		t.Fatalf("creates = %d %s / %d %s, want 201 then 200 with one id", code1, fr1.ID, code2, fr2.ID)
	}
	if fr1.IdempotencyKey == nil || *fr1.IdempotencyKey != "website-42" {
		t.Fatalf("idempotency_key = %v", fr1.IdempotencyKey)
	}

	// Another key for the same contact is the webhook's duplicate: the
	// existing run, 200; the new key then leads to it too.
	body["idempotency_key"] = "website-43"
	code3, raw3 := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
	code4, raw4 := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
	if code3 != 200 || code4 != 200 || decode[prefect.FlowRun](t, raw3).ID != fr1.ID || decode[prefect.FlowRun](t, raw4).ID != fr1.ID {
		t.Fatalf("duplicate = %d / %d, want 200 with run %s", code3, code4, fr1.ID)
	}
	runs := 0
	_ = s.db.EachRun(func(store.Run) bool { runs++; return true })
	if runs != 1 {
		t.Fatalf("%d runs stored, want 1", runs)
	}

	// The key of a cancelled run still returns that run, as Prefect's keys
	// never expire.
	s.call(t, "POST", "/api/flow_runs/"+fr1.ID+"/set_state", map[string]any{"state": map[string]any{"type": "CANCELLED"}})
	body["idempotency_key"] = "website-42"
	code5, raw5 := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
	if fr := decode[prefect.FlowRun](t, raw5); code5 != 200 || fr.ID != fr1.ID || fr.State.Type != prefect.Cancelled {
		t.Fatalf("key of a cancelled run = %d %s", code5, raw5)
	}
}

func TestAPI_CreateFlowRun_Concurrent(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	body := websiteBody("jo@example.com")
	body["idempotency_key"] = "same"
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			_, raw := s.call(t, "POST", createPath(flows.ChristmasSignup), body)
			ids[i] = decode[prefect.FlowRun](t, raw).ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids = %v, want one", ids)
		}
	}
}

func TestAPI_CreateFlowRun_Invalid(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	future := t0.Add(48 * time.Hour).Format(time.RFC3339)
	withParams := func(flow string, p map[string]any) map[string]any {
		b := map[string]any{"parameters": p}
		return b
	}
	signup := websiteBody("jo@example.com")["parameters"].(map[string]any)
	with := func(k string, v any) map[string]any {
		p := map[string]any{}
		for kk, vv := range signup {
			p[kk] = vv
		}
		p[k] = v
		return p
	}
	tests := []struct {
		name    string
		flow    string
		body    any
		wantLoc string
		wantTyp string
	}{
		{name: "unknown field", flow: flows.ChristmasSignup,
			body: map[string]any{"parameters": signup, "flow_id": "x"}, wantLoc: "body.flow_id", wantTyp: "extra_forbidden"},
		{name: "score out of bounds", flow: flows.ChristmasSignup,
			body: withParams(flows.ChristmasSignup, with("assessment_score", 150)), wantLoc: "body.parameters.assessment_score"},
		{name: "missing email", flow: flows.ChristmasSignup,
			body:    withParams(flows.ChristmasSignup, map[string]any{"first_name": "Jo", "assessment_score": 3}),
			wantLoc: "body.parameters.email", wantTyp: "missing"},
		{name: "malformed json", flow: flows.ChristmasSignup, body: `{"parameters": {`, wantTyp: "json_invalid"},
		{name: "running state", flow: flows.ChristmasSignup,
			body: map[string]any{"parameters": signup, "state": map[string]any{"type": "RUNNING"}}, wantLoc: "body.state.type"},
		{name: "unknown state field", flow: flows.ChristmasSignup,
			body:    map[string]any{"parameters": signup, "state": map[string]any{"type": "SCHEDULED", "when": 1}},
			wantLoc: "body.state.when", wantTyp: "extra_forbidden"},
		{name: "future start of a handler", flow: flows.ChristmasSignup,
			body: map[string]any{"parameters": signup, "state": map[string]any{"type": "SCHEDULED",
				"state_details": map[string]any{"scheduled_time": future}}},
			wantLoc: "body.state.state_details.scheduled_time"},
		{name: "unpaid onboarding", flow: flows.Onboarding,
			body: withParams(flows.Onboarding, map[string]any{"email": "a@example.com", "first_name": "A",
				"business_name": "B", "payment_confirmed": false, "payment_amount": 2997, "payment_date": "2026-12-01"}),
			wantLoc: "body.parameters.payment_confirmed"},
		{name: "send-email extra key", flow: flows.ChristmasSendMail,
			body: withParams(flows.ChristmasSendMail, map[string]any{"email": "a@example.com", "email_number": 2,
				"template_id": "noshow_recovery_email_1"}), wantLoc: "body.parameters.template_id", wantTyp: "extra_forbidden"},
		{name: "send-email null first_name", flow: flows.ChristmasSendMail,
			body: withParams(flows.ChristmasSendMail, map[string]any{"email": "a@example.com", "email_number": 2,
				"first_name": nil}), wantLoc: "body.parameters.first_name", wantTyp: "string_type"},
		{name: "send-email number out of range", flow: flows.ChristmasSendMail,
			body:    withParams(flows.ChristmasSendMail, map[string]any{"email": "a@example.com", "email_number": 7}),
			wantLoc: "body.parameters.email_number"},
		{name: "pre-call bad time", flow: flows.PreCallPrep,
			body: withParams(flows.PreCallPrep, map[string]any{"email": "a@example.com", "name": "A B",
				"meeting_time": "next tuesday"}), wantLoc: "body.parameters.meeting_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, raw := s.call(t, "POST", createPath(tt.flow), tt.body)
			if code != 422 {
				t.Fatalf("status = %d %s, want 422", code, raw)
			}
			var got struct {
				ExceptionMessage string `json:"exception_message"`
				ExceptionDetail  []struct {
					Type string `json:"type"`
					Loc  []any  `json:"loc"`
				} `json:"exception_detail"`
				RequestBody any `json:"request_body"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.ExceptionMessage != "Invalid request received." || len(got.ExceptionDetail) == 0 || got.RequestBody == nil {
				t.Fatalf("body = %s, want Prefect's 422 shape", raw)
			}
			found := false
			for _, d := range got.ExceptionDetail {
				loc := make([]string, len(d.Loc))
				for i, l := range d.Loc {
					loc[i] = strings.Trim(string(mustJSON(t, l)), `"`)
				}
				if (tt.wantLoc == "" || strings.Join(loc, ".") == tt.wantLoc) && (tt.wantTyp == "" || d.Type == tt.wantTyp) {
					found = true
				}
			}
			if !found {
				t.Fatalf("detail = %s, want loc %q type %q", raw, tt.wantLoc, tt.wantTyp)
			}
		})
	}
	runs := 0
	_ = s.db.EachRun(func(store.Run) bool { runs++; return true })
	if runs != 0 {
		t.Fatalf("%d runs stored by refused requests", runs)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestAPI_SendEmailScheduled(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.FixedZone("EST", -5*3600))
	body := map[string]any{
		"parameters": map[string]any{"email": "jo@example.com", "email_number": 3, "first_name": "Jo",
			"segment": "URGENT", "assessment_score": 61, "gps_score": nil, "weakest_system_1": "GPS"},
		"state": map[string]any{"type": "SCHEDULED", "name": "Scheduled",
			"state_details": map[string]any{"scheduled_time": at.Format(time.RFC3339)}},
		"idempotency_key": "R1-e3", "tags": []string{"perfect"}, "context": map[string]any{},
	}
	code, raw := s.call(t, "POST", createPath(flows.ChristmasSendMail), body)
	if code != 201 {
		t.Fatalf("create = %d %s", code, raw)
	}
	if probs := prefecttest.CheckFlowRunStrict(raw); len(probs) > 0 {
		t.Fatalf("flow run answer: %v", probs)
	}
	fr := decode[prefect.FlowRun](t, raw)
	steps, _ := s.db.StepsByRun(mustRunID(t, fr.ID))
	if len(steps) != 1 || steps[0].Template != "5-Day E3" || !steps[0].DueAt.Equal(at) || steps[0].DueAt.Location() != time.UTC {
		t.Fatalf("steps = %+v, want 5-Day E3 due %s in UTC", steps, at.UTC())
	}
	if !strings.Contains(strings.Join(fr.Tags, ","), "perfect") || *fr.DeploymentID != prefectapi.DeploymentID(flows.ChristmasSendMail) {
		t.Fatalf("tags %v deployment %v", fr.Tags, *fr.DeploymentID)
	}
	// The same email number for the same contact without a key is the
	// legacy "already planned" case: the existing run, 200.
	delete(body, "idempotency_key")
	code, raw = s.call(t, "POST", createPath(flows.ChristmasSendMail), body)
	if code != 200 || decode[prefect.FlowRun](t, raw).ID != fr.ID {
		t.Fatalf("repeat = %d %s", code, raw)
	}
}

func TestAPI_PreCall(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	meeting := t0.Add(96 * time.Hour)
	code, raw := s.call(t, "POST", createPath(flows.PreCallPrep), map[string]any{"parameters": map[string]any{
		"email": "Sam@Example.com", "name": "Sam Doe", "meeting_time": meeting.Format(time.RFC3339)}})
	if code != 201 {
		t.Fatalf("create = %d %s", code, raw)
	}
	steps, _ := s.db.StepsByRun(mustRunID(t, decode[prefect.FlowRun](t, raw).ID))
	if len(steps) != 3 || !steps[0].DueAt.Equal(meeting.Add(-72*time.Hour)) {
		t.Fatalf("steps = %+v, want three reminders from 72 h before", steps)
	}
}

func TestAPI_Auth(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{AuthString: "website:s3cret"})
	if code, _ := s.call(t, "GET", "/api/health", nil); code != 200 {
		t.Fatalf("health = %d, want 200 without auth", code)
	}
	code, body := s.call(t, "GET", "/api/deployments/name/christmas-send-email/christmas-send-email", nil)
	if code != 401 || strings.TrimSpace(string(body)) != `{"exception_message":"Unauthorized"}` {
		t.Fatalf("without auth = %d %s", code, body)
	}
	c, err := prefect.NewClient(prefect.ClientConfig{BaseURL: s.URL + "/api", AuthString: "website:s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDeploymentByName(t.Context(), "christmas-send-email", "christmas-send-email"); err != nil {
		t.Fatalf("with auth: %v", err)
	}
}

func TestParseDeploymentIDs(t *testing.T) {
	t.Parallel()
	u1, u2 := "0f8fad5b-d9cb-469f-a165-70867728950e", "7C9E6679-7425-40DE-944B-E07FC1F90AE7"
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "two", in: "christmas-signup-handler=" + u1 + ", christmas-send-email/christmas-send-email=" + u2,
			want: map[string]string{flows.ChristmasSignup: u1, flows.ChristmasSendMail: strings.ToLower(u2)}},
		{name: "unknown", in: "christmas-email-1=" + u1, wantErr: "unknown deployment"},
		{name: "other deployment name", in: "christmas-send-email/christmas-email-1=" + u1, wantErr: "not christmas-send-email/christmas-email-1"},
		{name: "bad uuid", in: "christmas-signup-handler=123", wantErr: "not a UUID"},
		{name: "shared id", in: "christmas-signup-handler=" + u1 + ",christmas-send-email=" + u1, wantErr: "same id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prefectapi.ParseDeploymentIDs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %s, want %s", k, got[k], v)
				}
			}
		})
	}
}
