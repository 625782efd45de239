package prefect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
	"perfect/store"
)

// rig is a backend on a real store and engine, talking to a fake Prefect.
type rig struct {
	db      *store.DB
	eng     *engine.Engine
	clk     *clock
	srv     *prefecttest.Server
	backend *prefect.Backend
	outbox  *engine.Outbox
	sendID  string
}

func newRig(tb testing.TB, routes string, testing bool) *rig {
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
	r := &rig{db: db, clk: newClock(t0), srv: prefecttest.NewServer(tb)}
	r.sendID = r.srv.AddDeployment(flows.ChristmasSendMail, flows.ChristmasSendMail, prefecttest.SendEmailContract)
	for flow, c := range prefecttest.HandlerContracts {
		r.srv.AddDeployment(flow, flow, c)
	}
	r.eng = engine.New(engine.Config{DB: db, Now: r.clk.Now, Testing: testing})
	rt, err := prefect.ParseBackends(routes)
	if err != nil {
		tb.Fatal(err)
	}
	client := newClient(tb, r.srv.APIURL(), func(c *prefect.ClientConfig) { c.Now = r.clk.Now })
	r.backend = prefect.NewBackend(prefect.BackendConfig{Engine: r.eng, Client: client, Routes: rt})
	r.outbox = engine.NewOutbox(engine.Outbox{
		DB: db, Log: slog.New(slog.DiscardHandler), Now: r.clk.Now,
		Appliers: map[string]engine.Applier{prefect.KindPrefix: r.backend.Apply},
		Jitter:   func() float64 { return 0.5 },
	})
	return r
}

func (r *rig) drain(tb testing.TB) int {
	tb.Helper()
	n, err := r.outbox.DrainOnce(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func signupRequest(email string) engine.StartRequest {
	return engine.StartRequest{
		Flow: flows.ChristmasSignup, Email: email, Segment: "URGENT",
		Params: map[string]any{
			"email": email, "first_name": "Jo", "business_name": "your business",
			"assessment_score": 61, "red_systems": 1, "orange_systems": 0, "yellow_systems": 4,
			"green_systems": 3, "gps_score": nil, "money_score": 40, "weakest_system_1": "GPS",
			"weakest_system_2": nil, "strongest_system": nil, "revenue_leak_total": nil,
			"segment": "URGENT",
		},
		DedupeKey: flows.ChristmasSignup + "|" + store.Key(email) + "|" + flows.CampaignChristmas,
		Source:    "/webhook/christmas-signup",
	}
}

func TestBackend_SendEmail(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	res, err := r.backend.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != "prefect" || len(res.Steps) != 4 {
		t.Fatalf("result = %+v, want 4 planned emails on prefect", res)
	}
	run, err := r.db.GetRun(res.RunID)
	if err != nil || run.Backend != "prefect" {
		t.Fatalf("stored run = %+v, %v", run, err)
	}
	if steps, _ := r.db.StepsByRun(res.RunID); len(steps) != 0 {
		t.Fatalf("%d local steps stored: the embedded scheduler would send them too", len(steps))
	}
	if r.srv.Calls() != 0 {
		t.Fatal("Start called Prefect on the request path")
	}

	if n := r.drain(t); n != 4 {
		t.Fatalf("drained %d items, want 4", n)
	}
	runs := r.srv.FlowRuns()
	if len(runs) != 4 {
		t.Fatalf("%d flow runs created, want 4", len(runs))
	}
	wantDue := []time.Duration{24 * time.Hour, 72 * time.Hour, 96 * time.Hour, 120 * time.Hour}
	for i, fr := range runs {
		n := i + 2
		if fr["idempotency_key"] != flows.StepID(res.RunID, n) || fr["deployment_id"] != r.sendID {
			t.Errorf("run %d: key %v deployment %v", n, fr["idempotency_key"], fr["deployment_id"])
		}
		want := t0.Add(wantDue[i])
		st := fr["state"].(map[string]any)["state_details"].(map[string]any)["scheduled_time"]
		if got, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(st)); !got.Equal(want) {
			t.Errorf("run %d scheduled at %v, want %s", n, st, want)
		}
		p := fr["parameters"].(map[string]any)
		if p["email_number"] != float64(n) || p["segment"] != "URGENT" || p["first_name"] != "Jo" {
			t.Errorf("run %d parameters = %v", n, p)
		}
	}
	if v := r.srv.Violations(); len(v) > 0 {
		t.Fatalf("schema violations: %v", v)
	}
	hs, err := r.db.PrefectHandoffs(res.RunID)
	if err != nil || len(hs) != 4 {
		t.Fatalf("handoffs = %v, %v", hs, err)
	}
	for _, h := range hs {
		if h.State != store.HandoffCreated || h.FlowRunID == "" || h.DeploymentID != r.sendID {
			t.Errorf("handoff %+v, want created with a flow run id", h)
		}
	}
}

func TestBackend_Duplicate(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	first, err := r.backend.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.backend.Start(context.Background(), signupRequest("JO@example.com"))
	if err != nil || !second.Duplicate || second.RunID != first.RunID {
		t.Fatalf("second start = %+v, %v; want duplicate of %s", second, err, first.RunID)
	}
	if n := r.drain(t); n != 4 {
		t.Fatalf("drained %d, want 4 (the duplicate queues nothing)", n)
	}
}

func TestBackend_Handler(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-noshow-recovery-handler=prefect", false)
	req := engine.StartRequest{
		Flow: flows.NoShowRecovery, Email: "sam@example.com",
		Params: map[string]any{
			"email": "sam@example.com", "first_name": "Sam", "business_name": "Sam Cuts",
			"calendly_event_uri": "https://calendly.example/events/1", "scheduled_time": "2026-12-01T15:00:00Z",
			"event_type": "Discovery Call - $2997 Diagnostic", "reschedule_url": nil,
		},
		DedupeKey: flows.NoShowRecovery + "|sam@example.com",
	}
	res, err := r.backend.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	runs := r.srv.FlowRuns()
	if len(runs) != 1 || runs[0]["idempotency_key"] != res.RunID {
		t.Fatalf("flow runs = %v, want one keyed by the run id", runs)
	}
	if v := r.srv.Violations(); len(v) > 0 {
		t.Fatalf("schema violations: %v", v)
	}
}

// TestBackend_PrefectDown: while Prefect answers 503 the start stays
// local and fast, the outbox retries, and once Prefect is back every
// email gets exactly one flow run, even when an answer is lost.
func TestBackend_PrefectDown(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", true)
	r.srv.SetDown(503, "1")

	var runIDs []string
	for i := range 3 {
		begin := time.Now()
		res, err := r.backend.Start(context.Background(), signupRequest(fmt.Sprintf("p%d@example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(begin); d > time.Second {
			t.Fatalf("start took %s while Prefect was down", d)
		}
		runIDs = append(runIDs, res.RunID)
	}
	if r.srv.Calls() != 0 {
		t.Fatal("a start called Prefect")
	}

	for range 3 {
		r.drain(t)
		r.clk.Add(time.Hour)
	}
	if created := r.srv.FlowRuns(); len(created) != 0 {
		t.Fatalf("%d runs created while down", len(created))
	}
	if h := r.backend.Health(); !h.Failing || h.LastError == "" {
		t.Fatalf("health = %+v, want failing with the error", h)
	}
	hs, _ := r.db.PrefectHandoffs(runIDs[0])
	if len(hs) == 0 || hs[0].State != store.HandoffRetrying || hs[0].LastError == "" {
		t.Fatalf("handoff while down = %+v, want retrying with the error", hs)
	}
	items, _ := r.db.ListOutbox(100)
	attempted := 0
	for _, it := range items {
		if it.Parked {
			t.Fatalf("outbox item %s parked during an outage", it.ID)
		}
		if it.Attempts > 0 {
			attempted++
		}
	}
	if len(items) != 12 || attempted == 0 {
		t.Fatalf("%d items, %d attempted; want 12 pending, retried", len(items), attempted)
	}

	r.srv.SetUp()
	r.srv.LoseCreates(2)
	for range 5 {
		r.clk.Add(2 * time.Hour)
		r.drain(t)
	}
	byKey := r.srv.CreatesByKey()
	if len(byKey) != 12 {
		t.Fatalf("%d keys created, want 12 (3 runs × 4 emails)", len(byKey))
	}
	for k, n := range byKey {
		if n != 1 {
			t.Errorf("key %s created %d times", k, n)
		}
	}
	if items, _ := r.db.ListOutbox(100); len(items) != 0 {
		t.Fatalf("%d outbox items left", len(items))
	}
	existing := 0
	for _, id := range runIDs {
		hs, _ := r.db.PrefectHandoffs(id)
		for _, h := range hs {
			if h.State == store.HandoffExisting {
				existing++
			}
		}
	}
	if existing != 2 {
		t.Fatalf("%d handoffs found their run by idempotency key, want the 2 lost answers", existing)
	}
	if h := r.backend.Health(); h.Failing {
		t.Fatalf("health = %+v after recovery", h)
	}
	if v := r.srv.Violations(); len(v) > 0 {
		t.Fatalf("schema violations: %v", v)
	}
}

func TestBackend_MissingDeploymentParks(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	client := newClient(t, prefecttest.NewServer(t).APIURL(), nil) // knows no deployment
	rt, _ := prefect.ParseBackends("christmas-send-email=prefect")
	b := prefect.NewBackend(prefect.BackendConfig{Engine: r.eng, Client: client, Routes: rt})
	r.outbox.Appliers[prefect.KindPrefix] = b.Apply
	res, err := b.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	items, _ := r.db.ListOutbox(10)
	if len(items) != 4 || !items[0].Parked {
		t.Fatalf("outbox = %+v, want 4 parked items", items)
	}
	hs, _ := r.db.PrefectHandoffs(res.RunID)
	if hs[0].State != store.HandoffFailed {
		t.Fatalf("handoff = %+v, want failed", hs[0])
	}
}

func TestBackend_CancelRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	res, err := r.backend.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	if err := r.backend.CancelRun(context.Background(), res.RunID, "admin", "unsubscribed"); err != nil {
		t.Fatal(err)
	}
	if n := r.drain(t); n != 4 {
		t.Fatalf("drained %d cancels, want 4", n)
	}
	for _, fr := range r.srv.FlowRuns() {
		if fr["state_type"] != "CANCELLED" {
			t.Errorf("flow run %v is %v, want CANCELLED", fr["id"], fr["state_type"])
		}
	}
	hs, _ := r.db.PrefectHandoffs(res.RunID)
	for _, h := range hs {
		if h.State != store.HandoffCancelled {
			t.Errorf("handoff %s is %s, want cancelled", h.Key, h.State)
		}
	}
	if v := r.srv.Violations(); len(v) > 0 {
		t.Fatalf("schema violations: %v", v)
	}
}

func TestBackend_CancelledBeforeCreation(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	res, err := r.backend.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.backend.CancelRun(context.Background(), res.RunID, "admin", "typo"); err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	if n := len(r.srv.FlowRuns()); n != 0 {
		t.Fatalf("%d flow runs created for a cancelled run", n)
	}
	hs, _ := r.db.PrefectHandoffs(res.RunID)
	states := make([]string, 0, len(hs))
	for _, h := range hs {
		states = append(states, h.State)
	}
	if slices.ContainsFunc(states, func(s string) bool { return s != store.HandoffSkipped }) {
		t.Fatalf("handoff states = %v, want all skipped", states)
	}
}

func TestBackend_CancelContact(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	res, err := r.backend.Start(context.Background(), signupRequest("jo@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	r.drain(t)
	nurture := func(run store.Run) bool {
		f, ok := flows.ByName(run.Flow)
		return ok && f.Nurture
	}
	n, err := r.backend.CancelContact(context.Background(), "JO@example.com", nurture, "lifecycle", "booked a call")
	if err != nil || n != 1 {
		t.Fatalf("cancelled %d, %v; want 1", n, err)
	}
	if run, _ := r.db.GetRun(res.RunID); run.CancelledAt == nil || run.CancelReason != "booked a call" {
		t.Fatalf("run = %+v, want cancelled", run)
	}
	r.drain(t)
	for _, fr := range r.srv.FlowRuns() {
		if fr["state_type"] != "CANCELLED" {
			t.Fatalf("flow run %v is %v, want CANCELLED", fr["id"], fr["state_type"])
		}
	}
	if n, _ := r.backend.CancelContact(context.Background(), "jo@example.com", nurture, "lifecycle", "again"); n != 0 {
		t.Fatalf("second call cancelled %d, want 0", n)
	}
}

func TestBackend_Triggers(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	pick := r.backend.Triggers(r.eng)
	if pick(flows.ChristmasSignup) != engine.Trigger(r.backend) {
		t.Error("christmas-signup-handler should go to the prefect backend")
	}
	if pick(flows.PostCallMaybe) != engine.Trigger(r.eng) {
		t.Error("christmas-postcall-maybe-handler should stay embedded")
	}
}

func TestBackend_TrackerGetsPlannedEmails(t *testing.T) {
	t.Parallel()
	r := newRig(t, "christmas-send-email=prefect", false)
	tr := &recordingTracker{}
	rt, _ := prefect.ParseBackends("christmas-send-email=prefect")
	b := prefect.NewBackend(prefect.BackendConfig{Engine: r.eng, Client: newClient(t, r.srv.APIURL(), nil),
		Routes: rt, Tracker: tr})
	if _, err := b.Start(context.Background(), signupRequest("jo@example.com")); err != nil {
		t.Fatal(err)
	}
	if tr.started != 4 {
		t.Fatalf("tracker saw %d planned emails, want 4", tr.started)
	}
	items, _ := r.db.ListOutbox(20)
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
	}
	if kinds["test.track"] != 1 || kinds[prefect.KindCreateFlowRun] != 4 {
		t.Fatalf("outbox kinds = %v", kinds)
	}
}

type recordingTracker struct{ started int }

func (r *recordingTracker) Started(run store.Run, steps []store.Step) []store.OutboxItem {
	r.started = len(steps)
	payload, _ := json.Marshal(map[string]string{"run": run.ID})
	return []store.OutboxItem{{ID: run.ID + "-track", Kind: "test.track", Payload: payload,
		CreatedAt: run.CreatedAt, NextAt: run.CreatedAt.Add(time.Hour)}}
}

func (r *recordingTracker) Attempted(store.Run, store.Step, time.Time, error) []store.OutboxItem {
	return nil
}
