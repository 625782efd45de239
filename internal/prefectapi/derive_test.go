package prefectapi

import (
	"testing"
	"time"

	"perfect/internal/prefect"
	"perfect/store"
)

func TestDerive(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	sent := t0.Add(time.Hour)
	step := func(st store.Status, due time.Duration) store.Step {
		s := store.Step{Status: st, DueAt: t0.Add(due), UpdatedAt: t0}
		if st == store.StatusSent {
			s.SentAt, s.UpdatedAt = &sent, sent
		}
		if st == store.StatusFailed {
			s.LastError = "resend 422: invalid to"
		}
		return s
	}
	cancelled := t0.Add(2 * time.Hour)
	tests := []struct {
		name     string
		v        runView
		now      time.Time
		wantType prefect.StateType
		wantName string
	}{
		{name: "all planned", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusPlanned, 24*time.Hour), step(store.StatusPlanned, 72*time.Hour)}},
			wantType: prefect.Scheduled, wantName: "Scheduled"},
		{name: "overdue", now: t0.Add(25 * time.Hour),
			v:        runView{steps: []store.Step{step(store.StatusPlanned, 24*time.Hour)}},
			wantType: prefect.Scheduled, wantName: "Late"},
		{name: "one sent, one planned", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusSent, 0), step(store.StatusPlanned, 72*time.Hour)}},
			wantType: prefect.Running, wantName: "Running"},
		{name: "being sent", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusSending, 0)}},
			wantType: prefect.Running, wantName: "Running"},
		{name: "all sent or expired", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusSent, 0), step(store.StatusExpired, 1)}},
			wantType: prefect.Completed, wantName: "Completed"},
		{name: "a failure left", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusSent, 0), step(store.StatusFailed, 1)}},
			wantType: prefect.Failed, wantName: "Failed"},
		{name: "run cancelled", now: t0,
			v: runView{run: store.Run{CancelledAt: &cancelled},
				steps: []store.Step{step(store.StatusSent, 0), step(store.StatusCancelled, 1)}},
			wantType: prefect.Cancelled, wantName: "Cancelled"},
		{name: "every email cancelled by events", now: t0,
			v:        runView{steps: []store.Step{step(store.StatusCancelled, 0)}},
			wantType: prefect.Cancelled, wantName: "Cancelled"},
		{name: "no emails", now: t0, v: runView{}, wantType: prefect.Completed, wantName: "Completed"},
		{name: "handed to prefect, pending", now: t0,
			v: runView{run: store.Run{Backend: prefect.BackendName},
				handoffs: []store.PrefectHandoff{{State: store.HandoffCreated}, {State: store.HandoffRetrying}}},
			wantType: prefect.Pending, wantName: "Pending"},
		{name: "handed to prefect, done", now: t0,
			v: runView{run: store.Run{Backend: prefect.BackendName},
				handoffs: []store.PrefectHandoff{{State: store.HandoffCreated}, {State: store.HandoffExisting}}},
			wantType: prefect.Completed, wantName: "Completed"},
		{name: "handed to prefect, refused", now: t0,
			v: runView{run: store.Run{Backend: prefect.BackendName},
				handoffs: []store.PrefectHandoff{{State: store.HandoffFailed, LastError: "409"}}},
			wantType: prefect.Failed, wantName: "Failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.v.run.CreatedAt = t0
			d := derive(tt.v, tt.now)
			if d.typ != tt.wantType || d.name != tt.wantName {
				t.Fatalf("state = %s %q, want %s %q", d.typ, d.name, tt.wantType, tt.wantName)
			}
			if (d.typ == prefect.Scheduled) != (d.scheduled != nil) {
				t.Fatalf("scheduled_time %v for a %s run", d.scheduled, d.typ)
			}
			if d.typ.Terminal() && d.end == nil {
				t.Fatal("terminal state without an end time")
			}
		})
	}
}
