package store_test

import (
	"fmt"
	"testing"
	"time"

	"perfect/store"
)

// A step that was sent alone once (and may have reached Resend under its
// own key before a crash) must never be re-sent inside a new batch, under
// the batch's key: Resend would send it a second time.
func TestDB_ClaimNext_AttemptedStepStaysAlone(t *testing.T) {
	db := mustOpen(t)
	for i := range 5 {
		mustCreate(t, db, intake(fmt.Sprintf("R%d", i), fmt.Sprintf("r%d@example.com", i), "", time.Minute))
	}
	now := t0.Add(time.Minute)
	// R0's step is claimed alone, then the process dies mid-send.
	first, err := db.ClaimNext(now, store.ClaimOptions{Max: 1})
	if err != nil || len(first) != 1 || first[0].Steps[0].ID != "R0-e1" {
		t.Fatalf("first claim %+v, %v", first, err)
	}
	if _, err := db.RescueSending(now); err != nil {
		t.Fatal(err)
	}

	n := 0
	claims, err := db.ClaimNext(now, store.ClaimOptions{Max: 4, BatchMin: 2, BatchMax: 100,
		NewID: func() string { n++; return fmt.Sprintf("B%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	var alone, batched []string
	for _, c := range claims {
		for _, s := range c.Steps {
			if c.BatchID == "" {
				alone = append(alone, s.ID)
			} else {
				batched = append(batched, s.ID)
			}
		}
	}
	if fmt.Sprint(alone) != "[R0-e1]" || len(batched) != 4 {
		t.Fatalf("alone %v batched %v, want R0-e1 alone and the 4 fresh steps in a batch", alone, batched)
	}
	for _, c := range claims {
		if c.BatchID == "" && len(c.Steps) != 1 {
			t.Fatalf("a claim without batch holds %d steps", len(c.Steps))
		}
	}
}
