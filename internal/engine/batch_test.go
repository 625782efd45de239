package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/store"
)

// startMany plans n onboarding runs while the engine is stopped, then
// moves the clock so that every first email is due at once (a burst) and
// none of the later ones is.
func startMany(t *testing.T, h *harness, n int) []string {
	t.Helper()
	// Plan through a second engine on the same store whose clock stands
	// still, so every run starts at the same instant.
	begin := h.now()
	// Production timings: emails 1 and 2 are 1 h and 24 h after the start,
	// so retries of the first burst never meet the second one.
	planner := engine.New(engine.Config{DB: h.db, Now: func() time.Time { return begin }})
	var first []string
	for i := range n {
		email := fmt.Sprintf("c%03d@example.com", i)
		res, err := planner.Start(context.Background(), engine.StartRequest{Flow: flows.Onboarding,
			Email: email, Params: map[string]any{"email": email, "first_name": "Ada"}})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, res.Steps[0].ID)
	}
	h.skip(begin.Add(time.Hour + 30*time.Second).Sub(h.now()))
	return first
}

func waitSent(t *testing.T, h *harness, ids []string) {
	t.Helper()
	for _, id := range ids {
		h.waitStatus(t, id, store.StatusSent)
	}
}

func TestBatch_BurstGoesOutInBatches(t *testing.T) {
	h := newHarness(t, options{batchMin: 5})
	first := startMany(t, h, 30)
	h.run(t)
	waitSent(t, h, first)
	batches := map[string]bool{}
	for _, id := range first {
		s, _ := h.db.GetStep(id)
		if s.Status != store.StatusSent || s.ProviderID == "" || s.BatchID == "" {
			t.Fatalf("step %s: %s provider %q batch %q", id, s.Status, s.ProviderID, s.BatchID)
		}
		batches[s.BatchID] = true
	}
	if len(batches) != 1 {
		t.Fatalf("a burst of 30 went out in %d batches, want 1", len(batches))
	}
}

func TestBatch_RefusedBatchFallsBackToSingles(t *testing.T) {
	h := newHarness(t, options{batchMin: 5})
	h.rs.FailNext(1, http.StatusUnprocessableEntity,
		`{"statusCode":422,"name":"validation_error","message":"Invalid batch."}`, nil)
	first := startMany(t, h, 8)
	h.run(t)
	waitSent(t, h, first)
	counts := h.rs.CountByKey()
	for _, id := range first {
		if counts[id] != 1 {
			t.Fatalf("step %s sent %d times under its own key", id, counts[id])
		}
		s, _ := h.db.GetStep(id)
		if s.BatchID != "" {
			t.Fatalf("step %s still in batch %s", id, s.BatchID)
		}
	}
}

func TestBatch_RetryResendsSameBatch(t *testing.T) {
	h := newHarness(t, options{batchMin: 5})
	h.rs.FailNext(2, http.StatusInternalServerError, `{"statusCode":500,"name":"internal_server_error","message":"x"}`, nil)
	first := startMany(t, h, 6)
	h.run(t)
	waitSent(t, h, first)
	s, _ := h.db.GetStep(first[0])
	if s.Attempts != 3 {
		t.Fatalf("attempts %d, want 3", s.Attempts)
	}
	if n := h.rs.CountByKey()["batch-"+s.BatchID]; n != 1 {
		t.Fatalf("batch key sent %d times", n)
	}
	for _, id := range first {
		st, _ := h.db.GetStep(id)
		if st.BatchID != s.BatchID {
			t.Fatalf("step %s moved to batch %q from %q", id, st.BatchID, s.BatchID)
		}
	}
}

func TestBatch_CrashMidBatchResendsSameKey(t *testing.T) {
	h := newHarness(t, options{batchMin: 5})
	first := startMany(t, h, 6)
	// The response of the first batch is lost and the process dies: the
	// emails went out, the steps stay in sending.
	h.rs.DropNextResponses(1)
	claims, err := h.db.ClaimNext(h.now(), store.ClaimOptions{Max: 4, BatchMin: 5, BatchMax: 100,
		NewID: func() string { return "B1" }})
	if err != nil || len(claims) != 1 || len(claims[0].Steps) != 6 {
		t.Fatalf("%d claims, err %v", len(claims), err)
	}
	h.run(t) // rescue, then the batch is re-sent whole under the same key
	waitSent(t, h, first)
	if n := h.rs.CountByKey()["batch-B1"]; n != 1 {
		t.Fatalf("batch sent %d times", n)
	}
	for _, id := range first {
		if s, _ := h.db.GetStep(id); s.BatchID != "B1" || s.Status != store.StatusSent {
			t.Fatalf("step %s: %s batch %q", id, s.Status, s.BatchID)
		}
	}
}
