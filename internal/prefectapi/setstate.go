package prefectapi

import (
	"errors"
	"fmt"
	"net/http"

	"perfect/internal/prefect"
	"perfect/store"
)

// setStateRequest is the body of POST /flow_runs/{id}/set_state.
type setStateRequest struct {
	State *stateRequest `json:"state"`
	Force bool          `json:"force"`
}

// cancelActor is who perfect records as cancelling through this API.
const cancelActor = "prefect-api"

// handleSetState cancels a run. CANCELLING and CANCELLED both cancel every
// email not sent yet, at once: perfect has no worker to wind down. As
// Prefect does for a scheduled run without infrastructure, a CANCELLING
// proposal is answered REJECT with the Cancelled state that was set
// instead; a CANCELLED proposal is ACCEPTed. Other states are ABORTed:
// perfect's engine moves its runs itself.
func (a *API) handleSetState(w http.ResponseWriter, r *http.Request, b *backend) {
	db := b.eng.DB()
	run, err := runByFlowRunID(db, r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeDetail(w, http.StatusNotFound, "Flow run not found")
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	var req setStateRequest
	if errs := decodeStrict(body, &req); len(errs) > 0 {
		writeInvalid(w, body, errs...)
		return
	}
	if req.State == nil || !req.State.Type.Valid() {
		writeInvalid(w, body, fieldError("enum", "Input should be a StateType", nil, "state", "type"))
		return
	}
	v, err := loadRun(db, run)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	now := b.eng.Now()
	current := derive(v, now)
	proposed := req.State.Type
	switch {
	case current.typ.Terminal():
		writeJSON(w, http.StatusOK, abort(fmt.Sprintf("Run is already in terminal state %s.", current.typ)))
		return
	case proposed != prefect.Cancelling && proposed != prefect.Cancelled:
		writeJSON(w, http.StatusOK, abort("perfect only accepts CANCELLING or CANCELLED for its runs; "+
			"its engine moves them otherwise."))
		return
	}
	if err := a.cancel(r, b, run, deref(req.State.Message)); err != nil {
		a.internalError(w, r, err)
		return
	}
	a.answerCancelled(w, r, b, run.ID, proposed, current.typ)
}

func (a *API) cancel(r *http.Request, b *backend, run store.Run, message string) error {
	reason := message
	if reason == "" {
		reason = "cancelled through the Prefect API"
	}
	if run.Backend == prefect.BackendName && a.cfg.CancelRun != nil {
		return a.cfg.CancelRun(r.Context(), run.ID, cancelActor, reason)
	}
	steps, err := b.eng.DB().CancelRun(run.ID, cancelActor, reason, b.eng.Now())
	if err != nil {
		return fmt.Errorf("cancel run %s: %w", run.ID, err)
	}
	a.log.InfoContext(r.Context(), "run cancelled through prefect api", "run_id", run.ID, "steps", len(steps))
	return nil
}

func (a *API) answerCancelled(w http.ResponseWriter, r *http.Request, b *backend, runID string, proposed, was prefect.StateType) {
	db := b.eng.DB()
	run, err := db.GetRun(runID)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	v, err := loadRun(db, run)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	st := a.flowRun(v, b.eng.Now()).State
	res := prefect.OrchestrationResult{State: st, Status: prefect.Accept,
		Details: prefect.OrchestrationDetail{Type: "accept_details"}}
	status := http.StatusCreated
	if proposed == prefect.Cancelling {
		reason := "Scheduled flow run has no infrastructure to terminate."
		if was != prefect.Scheduled {
			reason = "perfect has no infrastructure to terminate; the emails not sent yet were cancelled."
		}
		res.Status, res.Details, status = prefect.Reject,
			prefect.OrchestrationDetail{Type: "reject_details", Reason: reason}, http.StatusOK
	}
	writeJSON(w, status, res)
}

func abort(reason string) prefect.OrchestrationResult {
	return prefect.OrchestrationResult{Status: prefect.Abort,
		Details: prefect.OrchestrationDetail{Type: "abort_details", Reason: reason}}
}
