package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
)

// TestBatch_ResentBatchHasTheSameBody: a batch whose members fell due at
// different times is sent in due order; its answer is lost after Resend
// sent it; the retry claims the members again at one due time. The retry
// must carry the same body under the batch key, so that Resend answers
// with the first answer instead of refusing it (409) and the engine
// falling back to single sends that would deliver every email twice.
func TestBatch_ResentBatchHasTheSameBody(t *testing.T) {
	h := newHarness(t, options{batchMin: 3})
	begin := h.now()
	var first []string
	for i := range 4 {
		// Later runs (larger ids) start earlier: due order is not id order.
		at := begin.Add(-time.Duration(i) * 10 * time.Second)
		planner := engine.New(engine.Config{DB: h.db, Now: func() time.Time { return at }, Testing: true})
		email := fmt.Sprintf("order%d@example.com", i)
		res, err := planner.Start(context.Background(), engine.StartRequest{Flow: flows.Onboarding,
			Email: email, Params: map[string]any{"email": email, "first_name": "Ada"}})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, res.Steps[0].ID)
	}
	// Every first email is due (+1 min), no second one (+2 min).
	h.skip(begin.Add(90 * time.Second).Sub(h.now()))
	h.rs.DropNextResponses(1)
	h.run(t)
	waitSent(t, h, first)

	for _, id := range first {
		s, _ := h.db.GetStep(id)
		n := 0
		for _, r := range h.rs.Received() {
			if r.Body.To[0] == s.Email && r.Body.Subject == s.Rendered.Subject {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s received %q %d times, want once", s.Email, s.Rendered.Subject, n)
		}
	}
	s, _ := h.db.GetStep(first[0])
	if s.BatchID == "" || h.rs.CountByKey()["batch-"+s.BatchID] != 1 {
		t.Errorf("step %s: batch %q sent %d times", s.ID, s.BatchID, h.rs.CountByKey()["batch-"+s.BatchID])
	}
}
