package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/templates"
	"perfect/store"
)

// soakContacts reads SOAK_CONTACTS (make soak runs 10,000); 1,000 keeps
// make test fast.
func soakContacts(t *testing.T) int {
	t.Helper()
	v := os.Getenv("SOAK_CONTACTS")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("SOAK_CONTACTS=%q: want a positive number", v)
	}
	return n
}

// countingSender stands in for Resend: it counts each message by its
// step's idempotency key, whether it came alone or in a batch. Its map is
// sized up front with fixed-size keys, so that its own growth does not
// show in the heap the test measures.
type countingSender struct {
	mu     sync.Mutex
	byStep map[stepKey]int32
	calls  int
}

type stepKey [32]byte

func keyOf(id string) (k stepKey) {
	copy(k[:], id)
	return k
}

func newCountingSender(capacity int) *countingSender {
	return &countingSender{byStep: make(map[stepKey]int32, capacity)}
}

func (c *countingSender) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.byStep[keyOf(id)])
}

func (c *countingSender) Send(_ context.Context, m engine.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.byStep[keyOf(m.IdempotencyKey)]++
	return "re-" + m.IdempotencyKey, nil
}

func (c *countingSender) SendBatch(_ context.Context, msgs []engine.Message, _ string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		c.byStep[keyOf(m.IdempotencyKey)]++
		ids[i] = "re-" + m.IdempotencyKey
	}
	return ids, nil
}

// simClock is a clock the test moves by hand.
type simClock struct{ t atomic.Int64 }

func newSimClock(at time.Time) *simClock {
	c := &simClock{}
	c.t.Store(at.UnixNano())
	return c
}

func (c *simClock) Now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *simClock) Add(d time.Duration) { c.t.Add(int64(d)) }

// soakFlows are the sequences the contacts go through, in turn.
var soakFlows = []struct {
	flow, segment string
}{
	{flows.ChristmasSignup, "CRITICAL"}, {flows.NoShowRecovery, ""}, {flows.PostCallMaybe, ""},
	{flows.Onboarding, ""}, {flows.PreCallPrep, ""}, {flows.BusinessXSignup, ""},
	{flows.BusinessXAssess, "URGENT"}, {flows.BusinessXAssess, "OPTIMIZE"},
}

// memSample is the heap in use after a collection, and the goroutines.
type memSample struct {
	day        int
	heap       uint64
	goroutines int
}

func sample(day int) memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{day: day, heap: ms.HeapInuse, goroutines: runtime.NumGoroutine()}
}

// TestSoak_MonthOfSequences runs SOAK_CONTACTS contacts through every
// sequence with production timings over a simulated month: the contacts
// arrive in daily waves over three weeks, the clock moves in 30-minute
// ticks and each tick is sent before the next. It checks that every
// planned email was sent exactly once and none is left planned, late or
// failed, and that the heap in use and the goroutines stay flat once the
// pipeline is full.
func TestSoak_MonthOfSequences(t *testing.T) {
	contacts := soakContacts(t)
	// Durability is not under test here: fsync off keeps a month of
	// commits fast.
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	clock := newSimClock(start)
	sender := newCountingSender(contacts * 5)
	eng := engine.New(engine.Config{
		DB: db, Now: clock.Now, Speed: 1e6, Campaign: flows.DefaultCampaign(),
		Sender: sender, BatchMin: 10, Logger: slog.New(slog.DiscardHandler),
		Renderer: &engine.Renderer{Templates: templates.Embedded(), Campaign: flows.DefaultCampaign(),
			From: "Soak <sender@example.com>"},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	const days, waves, tick = 30, 21, 30 * time.Minute
	perWave := (contacts + waves - 1) / waves
	var samples []memSample
	began, planned := time.Now(), 0
	for day := range days {
		if day < waves {
			planned += startWave(t, eng, clock.Now(), day*perWave, min(perWave, contacts-day*perWave))
		}
		for range int(24 * time.Hour / tick) {
			clock.Add(tick)
			eng.Wake()
			waitTick(t, db, clock.Now())
		}
		samples = append(samples, sample(day))
	}

	checkSoakSends(t, db, sender, planned, clock.Now())
	checkFlat(t, samples)
	first, last := samples[0], samples[len(samples)-1]
	t.Logf("soak: %d contacts, %d emails in %d provider calls over %d simulated days in %s; "+
		"heap in use %.1f MB on day 1, %.1f MB on day %d; goroutines %d then %d",
		contacts, planned, sender.calls, days, time.Since(began).Round(time.Millisecond),
		float64(first.heap)/(1<<20), float64(last.heap)/(1<<20), last.day+1, first.goroutines, last.goroutines)
}

// startWave starts n contacts at once (one group commit), from contact
// number from on, and returns how many emails they planned.
func startWave(t *testing.T, eng *engine.Engine, now time.Time, from, n int) int {
	t.Helper()
	var wg sync.WaitGroup
	var planned atomic.Int64
	for i := from; i < from+n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := soakFlows[i%len(soakFlows)]
			email := fmt.Sprintf("soak-%05d@example.com", i)
			res, err := eng.Start(context.Background(), engine.StartRequest{
				Flow: f.flow, Email: email, Segment: f.segment, Meeting: now.Add(4 * 24 * time.Hour),
				Params:    map[string]any{"email": email, "first_name": "Soak", "segment": f.segment},
				DedupeKey: f.flow + "|" + email,
			})
			if err != nil {
				t.Error(err)
				return
			}
			planned.Add(int64(len(res.Steps)))
		}()
	}
	wg.Wait()
	return int(planned.Load())
}

// waitTick waits until nothing due at now is planned or being sent.
func waitTick(t *testing.T, db *store.DB, now time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := db.Stats(now)
		if err != nil {
			t.Fatal(err)
		}
		if st.DueNow == 0 && st.ByStatus[store.StatusSending] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("at %s: %d due, %d sending after 30 s", now, st.DueNow, st.ByStatus[store.StatusSending])
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// checkSoakSends requires every step sent exactly once, none left.
func checkSoakSends(t *testing.T, db *store.DB, sender *countingSender, planned int, now time.Time) {
	t.Helper()
	st, err := db.Stats(now)
	if err != nil {
		t.Fatal(err)
	}
	if st.ByStatus[store.StatusSent] != planned || len(st.ByStatus) != 1 {
		t.Errorf("steps by status %v, want all %d sent", st.ByStatus, planned)
	}
	steps, err := db.List(store.Filter{Limit: planned + 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if n := sender.count(s.ID); n != 1 {
			t.Errorf("step %s (%s) sent %d times", s.ID, s.Template, n)
		}
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.byStep) != planned {
		t.Errorf("%d steps reached the sender, %d were planned", len(sender.byStep), planned)
	}
}

// checkFlat compares the last week with the second: the heap in use may
// not grow by more than a quarter plus 2 MB, the goroutines by more
// than 10.
func checkFlat(t *testing.T, samples []memSample) {
	t.Helper()
	peak := func(from, to int) memSample {
		var m memSample
		for _, s := range samples[from:to] {
			m.heap, m.goroutines = max(m.heap, s.heap), max(m.goroutines, s.goroutines)
		}
		return m
	}
	early, late := peak(7, 14), peak(len(samples)-7, len(samples))
	if late.heap > early.heap+early.heap/4+2<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", early.heap, late.heap)
	}
	if late.goroutines > early.goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", early.goroutines, late.goroutines)
	}
	for _, s := range samples {
		t.Logf("day %2d: heap in use %6.1f MB, %d goroutines", s.day+1, float64(s.heap)/(1<<20), s.goroutines)
	}
}
