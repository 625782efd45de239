package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchEpoch is the creation time of the first run the benchmarks write.
var benchEpoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// benchParams is the stored params of a christmas signup, as the engine
// writes them.
var benchParams = json.RawMessage(`{"assessment_score":42,"business_name":"Ada's Salon",` +
	`"email":"ada@example.com","first_name":"Ada","gps_score":null,"green_systems":0,"money_score":null,` +
	`"orange_systems":1,"red_systems":2,"revenue_leak_total":null,"segment":"CRITICAL",` +
	`"weakest_system_1":"GPS","weakest_system_2":null,"yellow_systems":1}`)

// benchDelays are the christmas-signup emails E2..E5 (production timings).
var benchDelays = []time.Duration{24 * time.Hour, 72 * time.Hour, 96 * time.Hour, 120 * time.Hour}

// benchIntake is what one christmas signup writes: a run with a dedupe key
// and four planned steps. Ids sort in creation order, as ULIDs do.
func benchIntake(i int64, created time.Time) Intake {
	runID := fmt.Sprintf("01BENCH%019d", i)
	email := fmt.Sprintf("load-%010d@example.com", i)
	in := Intake{Run: Run{
		ID: runID, Flow: "christmas-signup-handler", Email: email,
		DedupeKey: "christmas-signup-handler|" + email + "|Christmas 2025",
		CreatedAt: created, Params: benchParams, Backend: "embedded", Source: "/webhook/christmas-signup",
	}}
	for n, d := range benchDelays {
		in.Steps = append(in.Steps, Step{
			ID: fmt.Sprintf("%s-e%d", runID, n+2), RunID: runID, Flow: in.Run.Flow, Email: email,
			Template: fmt.Sprintf("5-Day E%d", n+2), EmailNumber: n + 2, DueAt: created.Add(d),
			Status: StatusPlanned, MaxLateness: Duration(24 * time.Hour), CreatedAt: created, UpdatedAt: created,
		})
	}
	return in
}

func openBench(b *testing.B, noSync bool) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "perfect.db"), Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// BenchmarkCreateRun commits one christmas signup (a run and four steps)
// with fsync on. "update" is one bolt.Update per intake, the floor of one
// fsync per request; "batch" is CreateRun (group commit: a lone intake
// commits at once, concurrent ones share a transaction) called by 1, 8 or
// 64 goroutines at once.
func BenchmarkCreateRun(b *testing.B) {
	b.Run("update/goroutines=1", func(b *testing.B) {
		db := openBench(b, false)
		var i int64
		b.ReportAllocs()
		for b.Loop() {
			i++
			in := benchIntake(i, benchEpoch)
			if err := db.bolt.Update(func(tx *bolt.Tx) error { return writeIntake(tx, in) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		delay time.Duration
		g     int
	}{{0, 1}, {0, 8}, {0, 64}} {
		name := fmt.Sprintf("batch/goroutines=%d", c.g)
		if c.delay > 0 {
			name = fmt.Sprintf("batch-delay=%s/goroutines=%d", c.delay, c.g)
		}
		g := c.g
		b.Run(name, func(b *testing.B) {
			db := openBench(b, false)
			if c.delay > 0 {
				db.bolt.MaxBatchDelay = c.delay
			}
			var next atomic.Int64
			b.ReportAllocs()
			// RunParallel starts parallelism×GOMAXPROCS goroutines.
			b.SetParallelism(max(1, g/max(1, runtime.GOMAXPROCS(0))))
			if g == 1 {
				for b.Loop() {
					if _, _, err := db.CreateRun(benchIntake(next.Add(1), benchEpoch)); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := db.CreateRun(benchIntake(next.Add(1), benchEpoch)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// bigStores are the store sizes of BenchmarkDue, in planned steps. The
// largest is built only when PERFECT_BENCH_BIG is set and -short is not.
var bigStores = []struct {
	name  string
	steps int
	big   bool
}{
	{"steps=1k", 1_000, false},
	{"steps=100k", 100_000, false},
	{"steps=1M", 1_000_000, true},
}

// fillPlanned writes runs of four planned steps until the store holds n
// planned steps, in transactions of 10,000 runs with fsync off. Run i was
// created i seconds after benchEpoch, so every step is due in the future of
// benchDueNow but the runs span months.
func fillPlanned(b *testing.B, db *DB, n int) {
	b.Helper()
	const perTx = 10_000
	runs := int64(n / len(benchDelays))
	for start := int64(0); start < runs; start += perTx {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+perTx, runs); i++ {
				if err := writeIntake(tx, benchIntake(i, benchEpoch.Add(time.Duration(i)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchDueNow is the clock of BenchmarkDue: after the due pool, before the
// first planned step.
var benchDueNow = benchEpoch.Add(time.Hour)

// addDuePool writes n planned steps due before benchDueNow, with fsync off
// for the time of the write (setup, not measured).
func addDuePool(b *testing.B, db *DB, seq *int64, n int) {
	b.Helper()
	db.bolt.NoSync = true
	defer func() { db.bolt.NoSync = false }()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for range n {
			*seq++
			id := fmt.Sprintf("01DUEPOOL%017d-e2", *seq)
			s := Step{ID: id, RunID: id[:26], Flow: "christmas-signup-handler",
				Email: fmt.Sprintf("due-%d@example.com", *seq), Template: "5-Day E2", EmailNumber: 2,
				DueAt: benchEpoch.Add(-time.Duration(*seq) * time.Millisecond), Status: StatusPlanned,
				CreatedAt: benchEpoch, UpdatedAt: benchEpoch}
			if err := putStep(tx, nil, &s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDue picks due work from stores of 1k, 100k and 1M planned steps
// (the 1M store only with PERFECT_BENCH_BIG=1). Each store is built once,
// with fsync off; the measured operations run with fsync on.
//
//	NextDue   the scheduler's look at the due index (read-only)
//	ClaimDue  claim the next due step: one durable write transaction
//	ListEmail the steps of one contact through the email index (queue ls --email)
func BenchmarkDue(b *testing.B) {
	for _, size := range bigStores {
		b.Run(size.name, func(b *testing.B) {
			if size.big && (testing.Short() || os.Getenv("PERFECT_BENCH_BIG") == "") {
				b.Skip("set PERFECT_BENCH_BIG=1 (and drop -short) to build a store of this size")
			}
			db := openBench(b, true)
			start := time.Now()
			fillPlanned(b, db, size.steps)
			var seq int64
			addDuePool(b, db, &seq, 1000)
			db.bolt.NoSync = false
			if err := db.bolt.Sync(); err != nil {
				b.Fatal(err)
			}
			b.Logf("built %d planned steps in %s, file %d MB", size.steps, time.Since(start).Round(time.Millisecond),
				db.Size()>>20)

			b.Run("NextDue", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, ok := db.NextDue(); !ok {
						b.Fatal("nothing planned")
					}
				}
			})
			b.Run("ClaimDue", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					got, err := db.ClaimDue(benchDueNow, 1)
					if err == nil && len(got) == 0 {
						b.StopTimer()
						addDuePool(b, db, &seq, 1000)
						b.StartTimer()
						got, err = db.ClaimDue(benchDueNow, 1)
					}
					if err != nil || len(got) != 1 {
						b.Fatalf("claimed %d: %v", len(got), err)
					}
				}
			})
			b.Run("ListEmail", func(b *testing.B) {
				runs := int64(size.steps / len(benchDelays))
				var i int64
				b.ReportAllocs()
				for b.Loop() {
					i = (i + 7919) % runs
					got, err := db.List(Filter{Email: fmt.Sprintf("load-%010d@example.com", i)})
					if err != nil || len(got) != len(benchDelays) {
						b.Fatalf("listed %d: %v", len(got), err)
					}
				}
			})
		})
	}
}
