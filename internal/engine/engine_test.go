package engine_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/delivery"
	"perfect/internal/engine"
	"perfect/internal/resend"
	"perfect/internal/resend/resendtest"
	"perfect/internal/templates"
	"perfect/store"
)

var epoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// speed makes one real millisecond a simulated second, so TESTING_MODE
// minutes pass in tens of milliseconds and backoffs of minutes in less
// than a second, without sleeping in the tests.
const speed = 1000

type harness struct {
	offset atomic.Int64 // extra simulated time, see skip
	db     *store.DB
	eng    *engine.Engine
	rs     *resendtest.Server
	now    func() time.Time
	cancel context.CancelFunc
	done   chan error
}

type options struct {
	outbox       bool
	shutdownWait time.Duration
	batchMin     int
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		db.Close()
	})
	anchor := time.Now()
	h := &harness{db: db}
	now := func() time.Time {
		return epoch.Add(time.Duration(h.offset.Load()) + time.Duration(float64(time.Since(anchor))*speed))
	}
	h.now = now
	var sender engine.Sender
	if !o.outbox {
		h.rs = resendtest.NewServer(t)
		h.rs.SetClock(now)
		c, err := resend.New(resend.Config{APIKey: "re_test", BaseURL: h.rs.URL, RatePerSecond: 1000, Burst: 100,
			Timeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		sender = delivery.Sender{Client: c}
	}
	h.eng = engine.New(engine.Config{
		DB: db, Now: now, Speed: speed, Testing: true, Campaign: flows.DefaultCampaign(),
		Sender: sender, Classify: delivery.Classify, MaxAttempts: 4, ShutdownWait: o.shutdownWait,
		BatchMin: o.batchMin,
		Renderer: &engine.Renderer{Templates: templates.Embedded(), Campaign: flows.DefaultCampaign(),
			From: "Test <sender@example.com>"},
		Logger: slog.New(slog.DiscardHandler),
	})
	return h
}

// skip moves the simulated clock forward at once.
func (h *harness) skip(d time.Duration) { h.offset.Add(int64(d)) }

func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.eng.Run(ctx) }()
	t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *harness) start(t *testing.T, flow, email string) engine.Result {
	t.Helper()
	res, err := h.eng.Start(context.Background(), engine.StartRequest{
		Flow: flow, Email: email, Params: map[string]any{"email": email, "first_name": "Ada"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitStatus polls the store until the step reaches one of the statuses.
func (h *harness) waitStatus(t *testing.T, id string, want ...store.Status) store.Step {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := h.db.GetStep(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if s.Status == w {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %s is %s (last error %q), want %v", id, s.Status, s.LastError, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEngine_SendsEachStepOnceWhenDue(t *testing.T) {
	h := newHarness(t, options{})
	res := h.start(t, flows.NoShowRecovery, "ada@example.com")
	h.run(t)
	if !h.rs.WaitFor(3, 10*time.Second) {
		t.Fatalf("received %d of 3", len(h.rs.Received()))
	}
	for i, r := range h.rs.Received() {
		s := res.Steps[i]
		if r.Key != s.ID {
			t.Errorf("email %d key %q, want %q", i, r.Key, s.ID)
		}
		if r.At.Before(s.DueAt) {
			t.Errorf("%s sent at %s before due %s", s.ID, r.At, s.DueAt)
		}
		if got := h.waitStatus(t, s.ID, store.StatusSent); got.ProviderID != r.ID || got.SentAt == nil {
			t.Errorf("%s: provider id %q sent_at %v, want %q", s.ID, got.ProviderID, got.SentAt, r.ID)
		}
		if !strings.Contains(r.Body.HTML, "Ada") || r.Body.Text == "" {
			t.Errorf("%s: body not rendered from params: %q", s.ID, r.Body.HTML)
		}
	}
}

func TestEngine_RetriesServerErrorsWithSameKey(t *testing.T) {
	h := newHarness(t, options{})
	h.rs.FailNext(2, http.StatusInternalServerError, `{"statusCode":500,"name":"internal_server_error","message":"boom"}`, nil)
	res := h.start(t, flows.Onboarding, "ada@example.com")
	h.run(t)
	s := h.waitStatus(t, res.Steps[0].ID, store.StatusSent)
	if s.Attempts != 3 {
		t.Fatalf("attempts %d, want 3", s.Attempts)
	}
	if n := h.rs.CountByKey()[s.ID]; n != 1 {
		t.Fatalf("key sent %d times", n)
	}
}

func TestEngine_PermanentErrorFailsWithProviderMessage(t *testing.T) {
	h := newHarness(t, options{})
	h.rs.FailNext(1, http.StatusUnprocessableEntity,
		`{"statusCode":422,"name":"validation_error","message":"Invalid from field."}`, nil)
	res := h.start(t, flows.Onboarding, "ada@example.com")
	h.run(t)
	s := h.waitStatus(t, res.Steps[0].ID, store.StatusFailed)
	if !strings.Contains(s.LastError, "Invalid from field.") || s.Attempts != 1 {
		t.Fatalf("failed step: attempts %d error %q", s.Attempts, s.LastError)
	}
	st, _ := h.db.Stats(h.now())
	if st.ByStatus[store.StatusFailed] != 1 {
		t.Fatalf("failed not counted: %v", st.ByStatus)
	}
}

func TestEngine_RateLimitWaitsForRetryAfter(t *testing.T) {
	h := newHarness(t, options{})
	hdr := http.Header{"Retry-After": {"600"}}
	h.rs.FailNext(1, http.StatusTooManyRequests,
		`{"statusCode":429,"name":"rate_limit_exceeded","message":"Too many requests"}`, hdr)
	res := h.start(t, flows.Onboarding, "ada@example.com")
	h.run(t)
	s := h.waitStatus(t, res.Steps[0].ID, store.StatusSent)
	first := res.Steps[0].DueAt
	for _, r := range h.rs.Received() {
		if r.Key == s.ID && r.At.Sub(first) < 10*time.Minute {
			t.Fatalf("re-sent %s after the 429, want at least the 600 s of Retry-After", r.At.Sub(first))
		}
	}
	if s.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", s.Attempts)
	}
}

func TestEngine_QuotaWaitsForNextUTCDay(t *testing.T) {
	h := newHarness(t, options{})
	h.rs.FailNext(1, http.StatusTooManyRequests,
		`{"statusCode":429,"name":"daily_quota_exceeded","message":"You have reached your daily email sending quota."}`, nil)
	res := h.start(t, flows.Onboarding, "ada@example.com")
	h.run(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _ := h.db.GetStep(res.Steps[0].ID)
		if s.Attempts == 1 && s.Status == store.StatusPlanned {
			midnight := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
			if s.DueAt.Before(midnight) {
				t.Fatalf("quota retry due %s, want after %s", s.DueAt, midnight)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEngine_OutboxModeRecordsRenderedEmail(t *testing.T) {
	h := newHarness(t, options{outbox: true})
	res := h.start(t, flows.ChristmasSignup, "ada@example.com")
	h.run(t)
	for _, st := range res.Steps {
		s := h.waitStatus(t, st.ID, store.StatusOutbox)
		if s.Rendered == nil || s.Rendered.Subject == "" || s.Rendered.To != "ada@example.com" || s.SentAt == nil {
			t.Fatalf("outbox step %+v", s)
		}
	}
}

func TestEngine_ExpiresLateNurtureButNotOnboarding(t *testing.T) {
	h := newHarness(t, options{outbox: true})
	nurture := h.start(t, flows.ChristmasSignup, "ada@example.com")
	onboard := h.start(t, flows.Onboarding, "ada@example.com")
	// The service was down for two days: a new engine starts 48 h later.
	h.eng = engine.New(engine.Config{DB: h.db, Now: func() time.Time { return h.now().Add(48 * time.Hour) },
		Speed: speed, Testing: true, Renderer: &engine.Renderer{Templates: templates.Embedded(),
			Campaign: flows.DefaultCampaign()}, Logger: slog.New(slog.DiscardHandler)})
	h.run(t)
	for _, st := range nurture.Steps {
		s := h.waitStatus(t, st.ID, store.StatusExpired, store.StatusOutbox)
		if s.Status != store.StatusExpired || !strings.Contains(s.CancelReason, "late") {
			t.Errorf("nurture step %s: %s %q", s.ID, s.Status, s.CancelReason)
		}
	}
	for _, st := range onboard.Steps {
		if s := h.waitStatus(t, st.ID, store.StatusExpired, store.StatusOutbox); s.Status != store.StatusOutbox {
			t.Errorf("onboarding step %s: %s", s.ID, s.Status)
		}
	}
}

func TestEngine_RescuesStepLeftSendingWithSameKey(t *testing.T) {
	h := newHarness(t, options{})
	res := h.start(t, flows.Onboarding, "ada@example.com")
	// A previous process claimed the step and died mid-send.
	if _, err := h.db.ClaimDue(h.now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	s := h.waitStatus(t, res.Steps[0].ID, store.StatusSent)
	if s.Attempts != 2 || h.rs.CountByKey()[s.ID] != 1 {
		t.Fatalf("attempts %d sends %d", s.Attempts, h.rs.CountByKey()[s.ID])
	}
}

func TestEngine_ShutdownReleasesHeldSend(t *testing.T) {
	h := newHarness(t, options{shutdownWait: 50 * time.Millisecond})
	release := h.rs.Pause()
	res := h.start(t, flows.Onboarding, "ada@example.com")
	h.run(t)
	if !h.rs.WaitHeld(1, 5*time.Second) {
		t.Fatal("send never reached the fake")
	}
	h.stop()
	release()
	s, _ := h.db.GetStep(res.Steps[0].ID)
	if s.Status != store.StatusPlanned || s.Rendered == nil {
		t.Fatalf("after shutdown: %s rendered=%v", s.Status, s.Rendered != nil)
	}
	h.run(t)
	h.waitStatus(t, s.ID, store.StatusSent)
	if n := h.rs.CountByKey()[s.ID]; n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

func TestEngine_ConcurrentStartsDedupe(t *testing.T) {
	h := newHarness(t, options{outbox: true})
	var wg sync.WaitGroup
	runs := make(chan engine.Result, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.eng.Start(context.Background(), engine.StartRequest{
				Flow: flows.NoShowRecovery, Email: "ada@example.com", DedupeKey: "k"})
			if err != nil {
				t.Error(err)
			}
			runs <- res
		}()
	}
	wg.Wait()
	close(runs)
	fresh := 0
	for r := range runs {
		if !r.Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d fresh runs, want 1", fresh)
	}
}
