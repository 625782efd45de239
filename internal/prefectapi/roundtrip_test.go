package prefectapi_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/prefect"
	"perfect/internal/prefectapi"
	"perfect/store"
)

// TestAPI_PrefectClient drives perfect's API with perfect's own Prefect
// client: what works against Prefect works against perfect.
func TestAPI_PrefectClient(t *testing.T) {
	t.Parallel()
	s := newServer(t, prefectapi.Config{})
	c, err := prefect.NewClient(prefect.ClientConfig{BaseURL: s.URL + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	dep, err := c.ReadDeploymentByName(ctx, flows.ChristmasSendMail, flows.ChristmasSendMail)
	if err != nil || dep.ID != prefectapi.DeploymentID(flows.ChristmasSendMail) {
		t.Fatalf("deployment = %+v, %v", dep, err)
	}
	at := t0.Add(72 * time.Hour)
	in := prefect.FlowRunCreate{
		Name:           "christmas-send-email-x",
		Parameters:     prefect.SendEmailParameters(map[string]any{"email": "jo@example.com", "first_name": "Jo"}, 3, "URGENT"),
		IdempotencyKey: "X-e3", Tags: []string{"perfect"},
		State: &prefect.StateCreate{Type: prefect.Scheduled, Name: "Scheduled",
			StateDetails: &prefect.StateDetailsCreate{ScheduledTime: &at}},
	}
	fr, existed, err := c.CreateFlowRun(ctx, dep.ID, in)
	if err != nil || existed {
		t.Fatalf("create: existed=%v err=%v", existed, err)
	}
	again, existed, err := c.CreateFlowRun(ctx, dep.ID, in)
	if err != nil || !existed || again.ID != fr.ID {
		t.Fatalf("repeat: %s existed=%v err=%v", again.ID, existed, err)
	}
	read, err := c.ReadFlowRun(ctx, fr.ID)
	if err != nil || read.State.Type != prefect.Scheduled || !read.State.StateDetails.ScheduledTime.Equal(at) {
		t.Fatalf("read = %+v, %v", read.State, err)
	}
	res, err := c.CancelFlowRun(ctx, fr.ID, "no longer wanted")
	if err != nil || !res.Cancelled() {
		t.Fatalf("cancel = %+v, %v", res, err)
	}
}

// TestAPI_BackendToPerfect hands one perfect's emails to another perfect
// standing in for Prefect: each email arrives as one planned step at its
// time, and re-applying the outbox items creates nothing new.
func TestAPI_BackendToPerfect(t *testing.T) {
	t.Parallel()
	far := newServer(t, prefectapi.Config{})

	db, err := store.Open(filepath.Join(t.TempDir(), "near.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: t0}
	eng := engine.New(engine.Config{DB: db, Now: clk.Now})
	client, err := prefect.NewClient(prefect.ClientConfig{BaseURL: far.URL + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	routes, _ := prefect.ParseBackends("christmas-send-email=prefect")
	b := prefect.NewBackend(prefect.BackendConfig{Engine: eng, Client: client, Routes: routes})
	email := "jo@example.com"
	res, err := b.Start(context.Background(), engine.StartRequest{
		Flow: flows.ChristmasSignup, Email: email, Segment: "OPTIMIZE",
		Params: map[string]any{"email": email, "first_name": "Jo", "business_name": "your business",
			"assessment_score": 80, "red_systems": 0, "orange_systems": 0, "yellow_systems": 2,
			"green_systems": 6, "gps_score": nil, "money_score": nil, "weakest_system_1": nil,
			"weakest_system_2": nil, "strongest_system": nil, "revenue_leak_total": nil, "segment": "OPTIMIZE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := db.ListOutbox(10)
	ob := engine.NewOutbox(engine.Outbox{DB: db, Log: slog.New(slog.DiscardHandler), Now: clk.Now,
		Appliers: map[string]engine.Applier{prefect.KindPrefix: b.Apply}})
	if n, err := ob.DrainOnce(context.Background()); err != nil || n != 4 {
		t.Fatalf("drain = %d, %v", n, err)
	}
	for _, it := range items {
		if err := b.Apply(context.Background(), it); err != nil {
			t.Fatalf("re-apply %s: %v", it.ID, err)
		}
	}

	var runs []store.Run
	_ = far.db.EachRun(func(r store.Run) bool { runs = append(runs, r); return true })
	if len(runs) != 4 {
		t.Fatalf("far side has %d runs, want 4", len(runs))
	}
	wantDue := map[int]time.Time{2: t0.Add(24 * time.Hour), 3: t0.Add(72 * time.Hour),
		4: t0.Add(96 * time.Hour), 5: t0.Add(120 * time.Hour)}
	for _, r := range runs {
		steps, _ := far.db.StepsByRun(r.ID)
		if len(steps) != 1 {
			t.Fatalf("run %s has %d steps", r.ID, len(steps))
		}
		st := steps[0]
		if !st.DueAt.Equal(wantDue[st.EmailNumber]) || st.Template != legacyTemplate(st.EmailNumber) {
			t.Errorf("far step %s: %s due %s", st.ID, st.Template, st.DueAt)
		}
	}
	hs, _ := db.PrefectHandoffs(res.RunID)
	for _, h := range hs {
		if h.State != store.HandoffExisting {
			t.Errorf("handoff %s is %s after re-apply, want existing", h.Key, h.State)
		}
	}
}

func legacyTemplate(n int) string { return "5-Day E" + string(rune('0'+n)) }
