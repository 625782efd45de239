package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"perfect/internal/engine"
	"perfect/store"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is an applier that records calls and answers with fail's error.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  func(it store.OutboxItem) error
}

func (r *recorder) apply(_ context.Context, it store.OutboxItem) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, it.ID)
	if r.fail == nil {
		return nil
	}
	return r.fail(it)
}

func (r *recorder) setFail(fail func(it store.OutboxItem) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = fail
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

type waitErr struct{ wait time.Duration }

func (e waitErr) Error() string             { return "429 rate limited" }
func (e waitErr) RetryAfter() time.Duration { return e.wait }

type outboxHarness struct {
	db      *store.DB
	clock   *fakeClock
	notion  *recorder
	discord *recorder
	ob      *engine.Outbox
}

func newOutboxHarness(t *testing.T) *outboxHarness {
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
	h := &outboxHarness{db: db, clock: &fakeClock{t: epoch}, notion: &recorder{}, discord: &recorder{}}
	h.ob = engine.NewOutbox(engine.Outbox{
		DB: db, Now: h.clock.Now, Jitter: func() float64 { return 0.5 },
		Appliers: map[string]engine.Applier{"notion.": h.notion.apply, "discord": h.discord.apply},
	})
	return h
}

// add queues items of kind, due now, with ids id-1, id-2, ...
func (h *outboxHarness) add(t *testing.T, kind string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		it := store.OutboxItem{ID: id, Kind: kind, Payload: []byte(`{}`), CreatedAt: h.clock.Now()}
		if err := h.db.AddOutbox(it); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *outboxHarness) drain(t *testing.T) int {
	t.Helper()
	n, err := h.ob.DrainOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *outboxHarness) item(t *testing.T, id string) (store.OutboxItem, bool) {
	t.Helper()
	items, err := h.db.ListOutbox(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
	}
	return store.OutboxItem{}, false
}

func TestOutbox_RetryableErrorHoldsOnlyItsService(t *testing.T) {
	t.Parallel()
	h := newOutboxHarness(t)
	h.add(t, "notion.email_sent", "a1", "a2", "a3")
	h.add(t, "discord.alert", "d1")
	h.notion.setFail(func(store.OutboxItem) error { return errors.New("notion 502") })

	if n := h.drain(t); n != 2 {
		t.Fatalf("first pass handled %d items, want 2 (one notion failure, one discord alert)", n)
	}
	if got := h.notion.count(); got != 1 {
		t.Fatalf("notion applier called %d times in the pass, want 1", got)
	}
	if got := h.discord.count(); got != 1 {
		t.Fatalf("discord applier called %d times, want 1: other services go on", got)
	}
	a1, _ := h.item(t, "a1")
	if a1.Attempts != 1 || a1.LastError != "notion 502" || !a1.NextAt.After(epoch) {
		t.Errorf("failed item %+v, want one attempt, the error and a later time", a1)
	}
	for _, id := range []string{"a2", "a3"} {
		it, ok := h.item(t, id)
		if !ok || it.Attempts != 0 || it.LastError != "" || !it.NextAt.Equal(epoch) {
			t.Errorf("held item %s = %+v, want untouched and still due", id, it)
		}
	}

	// While the hold lasts, passes leave notion alone.
	h.clock.Add(2 * time.Second)
	if n := h.drain(t); n != 0 || h.notion.count() != 1 {
		t.Fatalf("pass during the hold handled %d items, notion called %d times", n, h.notion.count())
	}

	// The hold ends (5 s); notion works again: the waiting items land, the
	// failed one waits for its own backoff.
	h.notion.setFail(nil)
	h.clock.Add(4 * time.Second)
	if n := h.drain(t); n != 2 {
		t.Fatalf("pass after the hold handled %d items, want 2", n)
	}
	for _, id := range []string{"a2", "a3"} {
		if _, ok := h.item(t, id); ok {
			t.Errorf("item %s still queued after notion recovered", id)
		}
	}
	if _, ok := h.item(t, "a1"); !ok {
		t.Error("item a1 was applied before its backoff ended")
	}
}

func TestOutbox_HoldHonoursRetryAfterAndGrows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		heldFor  time.Duration // still held this long after the failure
		freeFrom time.Duration // tried again this long after
	}{
		{name: "retry-after longer than the hold", err: waitErr{wait: 40 * time.Second},
			heldFor: 39 * time.Second, freeFrom: 41 * time.Second},
		{name: "plain error holds about 5 s", err: errors.New("notion 500"),
			heldFor: 4 * time.Second, freeFrom: 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newOutboxHarness(t)
			h.add(t, "notion.analytics", "a1", "a2")
			h.notion.setFail(func(store.OutboxItem) error { return tt.err })
			h.drain(t)

			h.clock.Add(tt.heldFor)
			h.drain(t)
			if got := h.notion.count(); got != 1 {
				t.Fatalf("notion called %d times within %s, want 1", got, tt.heldFor)
			}
			h.clock.Add(tt.freeFrom - tt.heldFor)
			h.drain(t)
			if got := h.notion.count(); got != 2 {
				t.Fatalf("notion called %d times after %s, want 2", got, tt.freeFrom)
			}
		})
	}

	t.Run("consecutive failures double the hold", func(t *testing.T) {
		t.Parallel()
		h := newOutboxHarness(t)
		h.add(t, "notion.analytics", "a1", "a2", "a3")
		h.notion.setFail(func(store.OutboxItem) error { return errors.New("notion 500") })
		h.drain(t) // a1 fails: 5 s hold
		h.clock.Add(6 * time.Second)
		h.drain(t) // a2 fails: 10 s hold
		h.clock.Add(9 * time.Second)
		h.drain(t)
		if got := h.notion.count(); got != 2 {
			t.Fatalf("notion called %d times, want 2 during the second, longer hold", got)
		}
		h.clock.Add(2 * time.Second)
		h.drain(t)
		if got := h.notion.count(); got != 3 {
			t.Fatalf("notion called %d times, want 3 after the second hold", got)
		}
	})
}

func TestOutbox_PermanentErrorParksWithoutHold(t *testing.T) {
	t.Parallel()
	h := newOutboxHarness(t)
	h.add(t, "notion.booking", "b1", "b2")
	h.notion.setFail(func(it store.OutboxItem) error {
		if it.ID == "b1" {
			return &engine.PermanentError{Err: errors.New("notion 400 validation_error")}
		}
		return nil
	})
	if n := h.drain(t); n != 2 {
		t.Fatalf("handled %d items, want 2", n)
	}
	b1, ok := h.item(t, "b1")
	if !ok || !b1.Parked || b1.LastError != "notion 400 validation_error" {
		t.Errorf("b1 = %+v, want parked with the error", b1)
	}
	if _, ok := h.item(t, "b2"); ok {
		t.Error("b2 was not applied after b1 was parked")
	}
}

// Run must not spin on a service that keeps failing: one attempt per hold,
// however often it is woken.
func TestOutbox_RunWaitsOutTheHold(t *testing.T) {
	t.Parallel()
	h := newOutboxHarness(t)
	h.add(t, "notion.email_sent", "a1", "a2", "a3")
	tried := make(chan struct{}, 10)
	h.notion.setFail(func(store.OutboxItem) error {
		tried <- struct{}{}
		return waitErr{wait: time.Second}
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ob.Run(ctx)
	}()
	<-tried
	for range 5 {
		h.ob.Wake()
	}
	// The clock is frozen, so the hold never ends: give the loop a moment
	// in which a spinning drainer would call again.
	select {
	case <-tried:
		t.Error("notion applier called again during the hold")
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-done
	if got := h.notion.count(); got != 1 {
		t.Errorf("notion called %d times, want 1", got)
	}
}
