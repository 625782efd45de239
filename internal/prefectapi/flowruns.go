package prefectapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"perfect/internal/prefect"
	"perfect/store"
)

// lateAfter is when a scheduled run that has not started is "Late", as
// Prefect's default PREFECT_API_SERVICES_LATE_RUNS_AFTER_SECONDS.
const lateAfter = 15 * time.Second

// runView is a run with everything its flow run answer is derived from.
type runView struct {
	run      store.Run
	steps    []store.Step
	meta     *store.PrefectAPIRun
	handoffs []store.PrefectHandoff
}

// loadRun reads a run and what belongs to it.
func loadRun(db *store.DB, run store.Run) (runView, error) {
	v := runView{run: run}
	var err error
	if v.steps, err = db.StepsByRun(run.ID); err != nil {
		return v, fmt.Errorf("read steps of %s: %w", run.ID, err)
	}
	meta, err := db.PrefectAPIRun(run.ID)
	switch {
	case err == nil:
		v.meta = &meta
	case !errors.Is(err, store.ErrNotFound):
		return v, err
	}
	if run.Backend == prefect.BackendName {
		if v.handoffs, err = db.PrefectHandoffs(run.ID); err != nil {
			return v, fmt.Errorf("read handoffs of %s: %w", run.ID, err)
		}
	}
	return v, nil
}

// flowRunID is the UUID a run is known by.
func flowRunID(runID string) string {
	if id, ok := prefect.RunUUID(runID); ok {
		return id
	}
	return prefect.NameUUID("run:" + runID)
}

// runByFlowRunID finds a run from its flow run id.
func runByFlowRunID(db *store.DB, id string) (store.Run, error) {
	runID, err := prefect.RunIDFromUUID(id)
	if err != nil {
		return store.Run{}, store.ErrNotFound
	}
	return db.GetRun(runID)
}

func (a *API) handleFlowRun(w http.ResponseWriter, r *http.Request, b *backend) {
	run, err := runByFlowRunID(b.eng.DB(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeDetail(w, http.StatusNotFound, "Flow run not found")
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	a.writeView(w, r, b, run, http.StatusOK)
}

// writeRun answers with one run's flow run.
func (a *API) writeRun(w http.ResponseWriter, r *http.Request, b *backend, runID string, status int) {
	run, err := b.eng.DB().GetRun(runID)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	a.writeView(w, r, b, run, status)
}

func (a *API) writeView(w http.ResponseWriter, r *http.Request, b *backend, run store.Run, status int) {
	v, err := loadRun(b.eng.DB(), run)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	writeJSON(w, status, a.flowRun(v, b.eng.Now()))
}

func (a *API) internalError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "prefect api", "path", r.URL.Path, "err", err)
	writeDetail(w, http.StatusInternalServerError, "internal error")
}

// runDeployment is the deployment a run belongs to: the one it was
// created on, else its flow's.
func (a *API) runDeployment(v runView) *deployment {
	if v.meta != nil {
		if d, ok := a.byID[v.meta.DeploymentID]; ok {
			return d
		}
	}
	return a.byFlow[v.run.Flow]
}

// derived is a run's state in Prefect's terms.
type derived struct {
	typ        prefect.StateType
	name       string
	message    string
	at         time.Time
	scheduled  *time.Time
	start, end *time.Time
	expected   time.Time
}

// derive maps a run onto a Prefect state: cancelled run → CANCELLED; all
// emails planned → SCHEDULED at the next one (Late when overdue); some
// sent or one being sent → RUNNING; nothing left to send → FAILED if an
// email failed, else COMPLETED. A run handed to Prefect is PENDING until
// its flow runs exist there.
func derive(v runView, now time.Time) derived {
	d := derived{at: v.run.CreatedAt, expected: v.run.CreatedAt}
	var planned, active, failed, cancelled, done int
	var firstFail string
	for i, s := range v.steps {
		d.at = later(d.at, s.UpdatedAt)
		if i == 0 || s.DueAt.Before(d.expected) {
			d.expected = s.DueAt
		}
		if s.SentAt != nil && (d.start == nil || s.SentAt.Before(*d.start)) {
			d.start = ptr(*s.SentAt)
		}
		switch s.Status {
		case store.StatusPlanned:
			planned++
			if d.scheduled == nil || s.DueAt.Before(*d.scheduled) {
				d.scheduled = ptr(s.DueAt)
			}
		case store.StatusSending:
			active++
		case store.StatusFailed:
			failed++
			if firstFail == "" {
				firstFail = s.LastError
			}
		case store.StatusCancelled:
			cancelled++
		default:
			done++
		}
	}
	switch {
	case v.run.CancelledAt != nil:
		d.setFinal(prefect.Cancelled, *v.run.CancelledAt, v.run.CancelReason)
	case v.run.Backend == prefect.BackendName:
		d.handedOff(v.handoffs)
	case len(v.steps) == 0:
		d.setFinal(prefect.Completed, v.run.CreatedAt, "nothing to send")
		d.start = ptr(v.run.CreatedAt)
	case active > 0 || (planned > 0 && done+failed+cancelled > 0):
		d.typ, d.name, d.scheduled = prefect.Running, "Running", nil
	case planned > 0:
		d.typ, d.name = prefect.Scheduled, "Scheduled"
		if now.Sub(*d.scheduled) > lateAfter {
			d.name = "Late"
		}
	case failed > 0:
		d.setFinal(prefect.Failed, d.at, firstFail)
	case cancelled == len(v.steps):
		d.setFinal(prefect.Cancelled, d.at, "every email was cancelled")
	default:
		d.setFinal(prefect.Completed, d.at, "")
	}
	return d
}

func (d *derived) setFinal(t prefect.StateType, at time.Time, msg string) {
	d.typ, d.name, d.message, d.scheduled = t, t.DisplayName(), msg, nil
	d.at, d.end = at, ptr(at)
}

// handedOff derives the state of a run whose flow runs are on Prefect.
func (d *derived) handedOff(hs []store.PrefectHandoff) {
	created := 0
	for _, h := range hs {
		d.at = later(d.at, h.UpdatedAt)
		switch h.State {
		case store.HandoffFailed:
			d.setFinal(prefect.Failed, d.at, "prefect refused flow run "+h.Key+": "+h.LastError)
			return
		case store.HandoffCreated, store.HandoffExisting, store.HandoffCancelled:
			created++
		}
	}
	if created == len(hs) && created > 0 {
		d.setFinal(prefect.Completed, d.at, fmt.Sprintf("handed to Prefect as %d flow runs", created))
		return
	}
	d.typ, d.name, d.scheduled, d.message = prefect.Pending, "Pending", nil, "waiting for Prefect"
}

// flowRun renders a run as Prefect's FlowRun.
func (a *API) flowRun(v runView, now time.Time) prefect.FlowRun {
	d := derive(v, now)
	id := flowRunID(v.run.ID)
	dep := a.runDeployment(v)
	fr := prefect.FlowRun{
		ID: id, Created: ts(v.run.CreatedAt), Updated: ts(d.at), Name: v.run.Flow + "-" + strings.ToLower(v.run.ID),
		Parameters: v.run.Params, Context: map[string]any{}, Tags: []string{}, Labels: map[string]any{},
		EmpiricalPolicy: prefect.EmpiricalPolicy{Retries: ptr(0), RetryDelay: ptr(0), PauseKeys: []string{}},
		StateType:       &d.typ, StateName: &d.name, ExpectedStartTime: ts(d.expected),
		JobVariables: map[string]any{}, FlowID: prefect.NameUUID("flow:" + v.run.Flow),
	}
	if dep != nil {
		fr.FlowID, fr.DeploymentID = dep.flowID, &dep.id
		fr.Tags = append(fr.Tags, dep.tags...)
		pool, queue := "perfect", "default"
		fr.WorkPoolName, fr.WorkQueueName = &pool, &queue
	}
	if v.meta != nil {
		fr.Name = v.meta.Name
		if len(v.meta.Parameters) > 0 {
			fr.Parameters = v.meta.Parameters
		}
		if v.meta.IdempotencyKey != "" {
			fr.IdempotencyKey = &v.meta.IdempotencyKey
		}
		for _, t := range v.meta.Tags {
			if !slices.Contains(fr.Tags, t) {
				fr.Tags = append(fr.Tags, t)
			}
		}
	}
	if len(fr.Parameters) == 0 || string(fr.Parameters) == "null" {
		fr.Parameters = json.RawMessage("{}")
	}
	timing(&fr, d, now)
	fr.State = state(id, v.run.ID, d)
	fr.StateID = &fr.State.ID
	return fr
}

// timing fills the run-time fields.
func timing(fr *prefect.FlowRun, d derived, now time.Time) {
	fr.StartTime, fr.EndTime = tsp(d.start), tsp(d.end)
	if d.typ != prefect.Scheduled && d.typ != prefect.Pending {
		fr.RunCount = 1
	}
	if d.scheduled != nil {
		fr.NextScheduledStartTime, fr.ExpectedStartTime = ts(*d.scheduled), ts(*d.scheduled)
	}
	if d.start != nil && d.end != nil && d.end.After(*d.start) {
		fr.TotalRunTime = d.end.Sub(*d.start).Seconds()
		fr.EstimatedRunTime = fr.TotalRunTime
	}
	if d.typ == prefect.Scheduled && d.scheduled != nil && now.After(*d.scheduled) {
		fr.EstimatedStartTimeDelta = now.Sub(*d.scheduled).Seconds()
	}
}

func state(flowRunID, runID string, d derived) *prefect.State {
	var msg *string
	if d.message != "" {
		msg = &d.message
	}
	fid := flowRunID
	return &prefect.State{
		ID:        prefect.NameUUID("state:" + runID + ":" + string(d.typ) + ":" + d.name),
		Type:      d.typ,
		Name:      d.name,
		Timestamp: d.at.UTC().Truncate(time.Microsecond),
		Message:   msg,
		StateDetails: prefect.StateDetails{
			FlowRunID: &fid, ScheduledTime: tsp(d.scheduled),
		},
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func ptr[T any](v T) *T { return &v }

// ts returns t in UTC with microsecond precision, as Prefect writes times.
func ts(t time.Time) *time.Time {
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

func tsp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ts(*t)
}
