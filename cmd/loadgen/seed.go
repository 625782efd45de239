package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"perfect/flows"
	"perfect/internal/webhook"
	"perfect/store"
)

// signupBody is the legacy christmas-signup payload (the critical-segment
// contact of the legacy test data) with a unique address.
func signupBody(prefix string, i int) []byte {
	return fmt.Appendf(nil, `{"email":"%s-%d@example.com","first_name":"Critical","business_name":"Critical Test Salon",`+
		`"assessment_score":35,"red_systems":3,"orange_systems":2,"yellow_systems":1,"green_systems":0,`+
		`"gps_score":25,"money_score":30,"weakest_system_1":"GPS","weakest_system_2":"Money","revenue_leak_total":52000}`,
		prefix, i)
}

// seeded is one christmas signup written by seedSignups.
type seeded struct {
	Email string
	// E2 is the due time of its first planned email (5-Day E2).
	E2 time.Time
}

// seedSignups writes n christmas signups to the data file at path as the
// webhook would (validated params, dedupe key, four planned emails, one
// transaction each), run i created at created(i) so its emails fall due at
// created(i)+24 h, +72 h, +96 h and +120 h. fsync is off: this is setup.
// The intakes are written by many goroutines at once, so bbolt's group
// commit writes hundreds per transaction.
func seedSignups(path, prefix string, n int, created func(i int) time.Time) ([]seeded, error) {
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	f, err := signupIntakeFlow()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	out := make([]seeded, n)
	idx := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 512 {
		wg.Go(func() {
			for i := range idx {
				in, err := signupIntake(f, prefix, i, created(i))
				if err == nil {
					_, _, err = db.CreateRun(in)
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("seed run %d: %w", i, err):
					default:
					}
					continue
				}
				out[i] = seeded{Email: in.Run.Email, E2: in.Steps[0].DueAt}
			}
		})
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		_ = db.Close()
		return nil, err
	default:
	}
	return out, db.Close()
}

func signupIntakeFlow() (*flows.Flow, error) {
	f, ok := flows.ByName(flows.ChristmasSignup)
	if !ok {
		return nil, fmt.Errorf("flow %s not defined", flows.ChristmasSignup)
	}
	return f, nil
}

// signupIntake plans one christmas signup the way engine.Start does, at
// the given creation time.
func signupIntake(f *flows.Flow, prefix string, i int, now time.Time) (store.Intake, error) {
	req, err := webhook.DecodeChristmasSignup(signupBody(prefix, i))
	if err != nil {
		return store.Intake{}, err
	}
	params := req.Params()
	segment, _ := params["segment"].(string)
	raw, err := json.Marshal(params)
	if err != nil {
		return store.Intake{}, err
	}
	run := store.Run{
		ID: ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String(), Flow: f.Name, Email: req.Email,
		DedupeKey: f.Name + "|" + store.Key(req.Email) + "|" + flows.CampaignChristmas,
		CreatedAt: now, Params: raw, Backend: "embedded", Source: "/webhook/christmas-signup",
	}
	in := store.Intake{Run: run}
	for _, p := range f.Plan(now, now, false, segment) {
		in.Steps = append(in.Steps, store.Step{
			ID: flows.StepID(run.ID, p.Number), RunID: run.ID, Flow: f.Name, Email: req.Email,
			Template: p.Template, EmailNumber: p.Number, DueAt: p.DueAt, Status: store.StatusPlanned,
			MaxLateness: store.Duration(f.MaxLateness), CreatedAt: now, UpdatedAt: now,
		})
	}
	if len(in.Steps) == 0 {
		return store.Intake{}, fmt.Errorf("flow %s planned nothing", f.Name)
	}
	return in, nil
}
