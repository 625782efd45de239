package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/store"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// mustOpen opens a store in a temp dir and checks its consistency at the end.
func mustOpen(tb testing.TB) *store.DB {
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
	return db
}

func intake(runID, email, dedupe string, dues ...time.Duration) store.Intake {
	in := store.Intake{Run: store.Run{ID: runID, Flow: "f", Email: email, DedupeKey: dedupe, CreatedAt: t0}}
	for i, d := range dues {
		in.Steps = append(in.Steps, store.Step{
			ID: fmt.Sprintf("%s-e%d", runID, i+1), RunID: runID, Flow: "f", Email: email,
			Template: "t", EmailNumber: i + 1, DueAt: t0.Add(d), Status: store.StatusPlanned,
		})
	}
	return in
}

func TestDB_CreateRun_Dedupe(t *testing.T) {
	db := mustOpen(t)
	_, dup, err := db.CreateRun(intake("R1", "A@Example.com", "k", time.Hour))
	if err != nil || dup {
		t.Fatalf("first create: dup=%v err=%v", dup, err)
	}
	got, dup, err := db.CreateRun(intake("R2", "a@example.com", "k", time.Hour))
	if err != nil || !dup || got.ID != "R1" {
		t.Fatalf("second create: got %s dup=%v err=%v, want R1 duplicate", got.ID, dup, err)
	}
	if _, err := db.GetRun("R2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("duplicate wrote a run: %v", err)
	}
	if _, err := db.CancelRun("R1", "test", "why", t0); err != nil {
		t.Fatal(err)
	}
	_, dup, err = db.CreateRun(intake("R3", "a@example.com", "k", time.Hour))
	if err != nil || dup {
		t.Fatalf("after cancel: dup=%v err=%v, want a new run", dup, err)
	}
}

func TestDB_CreateRun_ConcurrentDedupe(t *testing.T) {
	db := mustOpen(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, dup, err := db.CreateRun(intake(fmt.Sprintf("R%02d", i), "x@example.com", "same", time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			if !dup {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("created %d runs for one dedupe key, want 1", created)
	}
}

func TestDB_ClaimDue_OrderAndLimit(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "a@example.com", "", 3*time.Minute, time.Minute))
	mustCreate(t, db, intake("B", "b@example.com", "", 2*time.Minute, time.Hour))

	next, ok := db.NextDue()
	if !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextDue = %v %v, want %v", next, ok, t0.Add(time.Minute))
	}
	got, err := db.ClaimDue(t0.Add(3*time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	if ids := stepIDs(got); fmt.Sprint(ids) != "[A-e2 B-e1]" {
		t.Fatalf("claimed %v, want [A-e2 B-e1]", ids)
	}
	for _, s := range got {
		if s.Status != store.StatusSending || s.Attempts != 1 {
			t.Fatalf("claimed step %s: status %s attempts %d", s.ID, s.Status, s.Attempts)
		}
	}
	got, _ = db.ClaimDue(t0.Add(3*time.Minute), 10)
	if ids := stepIDs(got); fmt.Sprint(ids) != "[A-e1]" {
		t.Fatalf("second claim %v, want [A-e1]", ids)
	}
	got, _ = db.ClaimDue(t0.Add(3*time.Minute), 10)
	if len(got) != 0 {
		t.Fatalf("third claim %v, want none", stepIDs(got))
	}
}

func TestDB_RescueSending(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "a@example.com", "", time.Minute))
	if _, err := db.ClaimDue(t0.Add(time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	rescued, err := db.RescueSending(t0.Add(time.Hour))
	if err != nil || len(rescued) != 1 {
		t.Fatalf("rescued %d err %v", len(rescued), err)
	}
	s, _ := db.GetStep("A-e1")
	if s.Status != store.StatusPlanned || s.Attempts != 1 || !s.DueAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after rescue: %+v", s)
	}
	if got, _ := db.ClaimDue(t0.Add(time.Hour), 5); len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("rescued step not claimable again: %v", got)
	}
}

func TestDB_CancelStep_Conflict(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "a@example.com", "", time.Minute, time.Hour))
	if _, err := db.ClaimDue(t0.Add(time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelStep("A-e1", "me", "r", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel of a sending step: %v, want ErrConflict", err)
	}
	s, err := db.CancelStep("A-e2", "me", "no longer needed", t0)
	if err != nil || s.Status != store.StatusCancelled || s.CancelReason != "no longer needed" {
		t.Fatalf("cancel: %+v %v", s, err)
	}
	if len(s.History) != 1 || s.History[0].By != "me" {
		t.Fatalf("history %+v", s.History)
	}
	if _, err := db.CancelStep("nope", "me", "r", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing step: %v", err)
	}
	if got, _ := db.ClaimDue(t0.Add(2*time.Hour), 5); len(got) != 0 {
		t.Fatalf("cancelled step still due: %v", stepIDs(got))
	}
}

func TestDB_List_Indexes(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "Ann@Example.com", "", time.Minute, time.Hour))
	mustCreate(t, db, intake("B", "bob@example.com", "", time.Minute))
	if _, err := db.CancelStep("A-e2", "me", "r", t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.Filter
		want string
	}{
		{"all", store.Filter{}, "[A-e1 A-e2 B-e1]"},
		{"email any case", store.Filter{Email: "ann@example.COM"}, "[A-e1 A-e2]"},
		{"status", store.Filter{Status: store.StatusCancelled}, "[A-e2]"},
		{"email and status", store.Filter{Email: "ann@example.com", Status: store.StatusPlanned}, "[A-e1]"},
		{"run", store.Filter{RunID: "B"}, "[B-e1]"},
		{"page", store.Filter{After: "A-e1", Limit: 1}, "[A-e2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.List(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if ids := fmt.Sprint(stepIDs(got)); ids != tt.want {
				t.Fatalf("got %s, want %s", ids, tt.want)
			}
		})
	}
}

func TestDB_Stats_Counters(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "a@example.com", "", -time.Minute, time.Hour))
	if _, err := db.CancelStep("A-e2", "me", "r", t0); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.ByStatus[store.StatusPlanned] != 1 || st.ByStatus[store.StatusCancelled] != 1 || st.DueNow != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st.ByFlow["f"][store.StatusPlanned] != 1 {
		t.Fatalf("by flow %+v", st.ByFlow)
	}
}

func TestDB_Outbox(t *testing.T) {
	db := mustOpen(t)
	in := intake("A", "a@example.com", "", time.Minute)
	in.Outbox = []store.OutboxItem{
		{ID: "o1", Kind: "k", CreatedAt: t0},
		{ID: "o2", Kind: "k", CreatedAt: t0.Add(time.Second)},
	}
	mustCreate(t, db, in)
	due, err := db.DueOutbox(t0.Add(time.Second), 10)
	if err != nil || len(due) != 2 || due[0].ID != "o1" {
		t.Fatalf("due %v %v", due, err)
	}
	if err := db.RetryOutbox("o1", t0.Add(time.Hour), "boom"); err != nil {
		t.Fatal(err)
	}
	if err := db.DoneOutbox("o2"); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.DueOutbox(t0.Add(time.Minute), 10); len(due) != 0 {
		t.Fatalf("retried item due early: %v", due)
	}
	if err := db.ParkOutbox("o1", "bad request"); err != nil {
		t.Fatal(err)
	}
	st, _ := db.Stats(t0)
	if st.OutboxPending != 0 || st.OutboxParked != 1 {
		t.Fatalf("outbox stats %+v", st)
	}
	items, _ := db.ListOutbox(10)
	if len(items) != 1 || !items[0].Parked || items[0].Attempts != 2 || items[0].LastError != "bad request" {
		t.Fatalf("items %+v", items)
	}
}

func TestOpen_LockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfect.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = store.Open(path, store.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func mustCreate(tb testing.TB, db *store.DB, in store.Intake) {
	tb.Helper()
	if _, _, err := db.CreateRun(in); err != nil {
		tb.Fatal(err)
	}
}

func stepIDs(steps []store.Step) []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return ids
}

func TestDB_FullFileRefusesWholeIntake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfect.db")
	db, err := store.Open(path, store.Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	var fullAt int
	for i := range 100 {
		in := intake(fmt.Sprintf("R%03d", i), "a@example.com", "", time.Minute, time.Hour)
		in.Run.Params = []byte(fmt.Sprintf("%q", big))
		if _, _, err := db.CreateRun(in); err != nil {
			if !errors.Is(err, store.ErrFull) {
				t.Fatalf("run %d: %v, want ErrFull", i, err)
			}
			fullAt = i
			break
		}
	}
	if fullAt == 0 {
		t.Fatal("the size cap was never reached")
	}
	// The refused intake left nothing behind.
	if _, err := db.GetRun(fmt.Sprintf("R%03d", fullAt)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused run stored: %v", err)
	}
	if steps, _ := db.List(store.Filter{RunID: fmt.Sprintf("R%03d", fullAt)}); len(steps) != 0 {
		t.Fatalf("refused run left %d steps", len(steps))
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Space returns: the same intake goes through and nothing was lost.
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.CreateRun(intake(fmt.Sprintf("R%03d", fullAt), "a@example.com", "", time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := range fullAt {
		if _, err := db.GetRun(fmt.Sprintf("R%03d", i)); err != nil {
			t.Fatalf("run %d lost: %v", i, err)
		}
	}
}

func TestOpen_CorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfect.db")
	if err := os.WriteFile(path, []byte("this is not a bbolt file, just some bytes that are long enough to read"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(path, store.Options{Timeout: time.Second}); err == nil {
		t.Fatal("a corrupt file opened")
	}
}

func TestDB_PurgeFinished(t *testing.T) {
	db := mustOpen(t)
	mustCreate(t, db, intake("A", "a@example.com", "", time.Minute, time.Hour))
	old := t0.Add(-400 * 24 * time.Hour)
	if _, err := db.CancelStep("A-e1", "me", "r", old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelStep("A-e2", "me", "r", t0); err != nil {
		t.Fatal(err)
	}
	n, err := db.PurgeFinished(t0.Add(-365*24*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, err %v; want 1", n, err)
	}
	if _, err := db.GetStep("A-e1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old step still there: %v", err)
	}
	if steps, _ := db.List(store.Filter{Email: "a@example.com"}); len(steps) != 1 || steps[0].ID != "A-e2" {
		t.Fatalf("left %v", stepIDs(steps))
	}
	st, _ := db.Stats(t0)
	if st.ByStatus[store.StatusCancelled] != 1 {
		t.Fatalf("counters %v", st.ByStatus)
	}
	if _, err := db.GetRun("A"); err != nil {
		t.Fatalf("run removed: %v", err)
	}
}
