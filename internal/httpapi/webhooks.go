package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/webhook"
	"perfect/store"
)

// acceptedFields are added to every accepted answer.
type started struct {
	RunID     string `json:"run_id"`
	Duplicate bool   `json:"duplicate"`
	Steps     int    `json:"steps_planned"`
}

// decodeError answers a decoder error: 422 with FastAPI's body, or the
// handler-level 4xx of the legacy server.
func decodeError(w http.ResponseWriter, err error) {
	var ve *webhook.ValidationError
	var br *webhook.BadRequest
	switch {
	case errors.As(err, &ve):
		writeJSON(w, http.StatusUnprocessableEntity, ve)
	case errors.As(err, &br):
		writeDetail(w, br.Status, br.Message)
	default:
		writeDetail(w, http.StatusBadRequest, err.Error())
	}
}

// start hands a request to its flow's trigger and answers 503 when the
// run could not be stored, so the sender retries.
func (s *Server) start(w http.ResponseWriter, r *http.Request, b *Backend, req engine.StartRequest) (engine.Result, bool) {
	var t engine.Trigger = b.Engine
	if b.Triggers != nil {
		t = b.Triggers(req.Flow)
	}
	res, err := t.Start(r.Context(), req)
	if err != nil {
		s.log.ErrorContext(r.Context(), "start flow", "flow", req.Flow, "err", err)
		s.lastWriteErr.Store(&writeFailure{At: s.now().UTC(), Err: err.Error()})
		w.Header().Set("Retry-After", "30")
		writeDetail(w, errorStatus(err), "could not store the request, try again: "+err.Error())
		return res, false
	}
	s.lastWriteErr.Store(nil)
	if !res.Duplicate && b.Lifecycle != nil {
		b.Lifecycle.Started(r.Context(), req, res)
	}
	return res, true
}

// accept starts a flow and answers 200 with the legacy fields plus the
// run's; on a store failure start has answered already.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, b *Backend, req engine.StartRequest, answer map[string]any) {
	res, ok := s.start(w, r, b, req)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, merge(answer, res))
}

// writeFailure is the last webhook that could not be stored, for /health.
type writeFailure struct {
	At  time.Time `json:"at"`
	Err string    `json:"error"`
}

func merge(base map[string]any, st engine.Result) map[string]any {
	base["run_id"] = st.RunID
	base["duplicate"] = st.Duplicate
	planned := 0
	if !st.Duplicate {
		for _, s := range st.Steps {
			if s.Status == store.StatusPlanned {
				planned++
			}
		}
	}
	base["steps_planned"] = planned
	return base
}

func dedupe(flow, email string, extra ...string) string {
	k := flow + "|" + store.Key(email)
	for _, e := range extra {
		k += "|" + e
	}
	return k
}

func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodeSignup(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.BusinessXSignup, Email: req.Email, Params: req.Params(), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "Signup received and being processed",
		"email": req.Email, "timestamp": s.timestamp(),
	})
}

func (s *Server) handleAssessment(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodeAssessment(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	segment := flows.Segment(req.RedSystems, req.OrangeSystems)
	res, ok := s.start(w, r, b, engine.StartRequest{
		Flow: flows.BusinessXAssess, Email: req.Email, Params: req.Params(), Segment: segment,
		DedupeKey: dedupe(flows.BusinessXAssess, req.Email), Source: r.URL.Path,
	})
	if !ok {
		return
	}
	if segment == "CRITICAL" && !res.Duplicate && s.OnCritical != nil {
		s.OnCritical(r.Context(), req.Email, req.RedSystems)
	}
	writeJSON(w, http.StatusOK, merge(map[string]any{
		"status": "accepted", "message": "Assessment received and email sequence will begin shortly",
		"email": req.Email, "segment": segment, "timestamp": s.timestamp(),
	}, res))
}

func (s *Server) handleChristmasSignup(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodeChristmasSignup(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	params := req.Params()
	segment, _ := params["segment"].(string)
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.ChristmasSignup, Email: req.Email, Params: params, Segment: segment,
		DedupeKey: dedupe(flows.ChristmasSignup, req.Email, flows.CampaignChristmas), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "Christmas signup received and email sequence will begin shortly",
		"email": req.Email, "campaign": flows.CampaignChristmas, "timestamp": s.timestamp(),
	})
}

func (s *Server) handleCalcom(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodeCalcom(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	if req.Event != "BOOKING_CREATED" {
		if b.Lifecycle != nil && b.Lifecycle.CalcomEvent(r.Context(), req) {
			writeJSON(w, http.StatusOK, map[string]any{
				"status": "processed", "event": req.Event, "message": "Booking change applied",
			})
			return
		}
		s.log.InfoContext(r.Context(), "cal.com event ignored", "event", req.Event)
		writeJSON(w, http.StatusOK, map[string]any{
			"status": "ignored", "event": req.Event, "message": "Only booking created, rescheduled and cancelled events are processed",
		})
		return
	}
	key := req.UID
	if key == "" {
		key = req.StartTime.UTC().Format("2006-01-02T15:04:05Z")
	}
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.PreCallPrep, Email: req.Email, Params: req.Params(), Meeting: req.StartTime,
		DedupeKey: dedupe(flows.PreCallPrep, req.Email, key), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "Booking received and pre-call sequence will begin shortly",
		"email": req.Email, "meeting_time": req.StartTimeRaw, "timestamp": s.timestamp(),
	})
}

func (s *Server) handleNoShow(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	if webhook.IsCalendlyEnvelope(body) {
		s.handleCalendly(w, r, b, body)
		return
	}
	req, err := webhook.DecodeNoShow(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.NoShowRecovery, Email: req.Email, Params: req.Params(),
		DedupeKey: dedupe(flows.NoShowRecovery, req.Email), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "No-show recovery sequence will begin shortly",
		"email": req.Email, "campaign": flows.CampaignTraditional,
	})
}

func (s *Server) handlePostCall(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodePostCall(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.PostCallMaybe, Email: req.Email, Params: req.Params(),
		DedupeKey: dedupe(flows.PostCallMaybe, req.Email), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "Post-call follow-up sequence will begin shortly",
		"email": req.Email, "call_outcome": req.CallOutcome, "campaign": flows.CampaignTraditional,
	})
}

func (s *Server) handleOnboarding(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	req, err := webhook.DecodeOnboarding(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	if !req.PaymentConfirmed {
		// decisions §4: an unpaid onboarding is refused, not "accepted".
		writeJSON(w, http.StatusUnprocessableEntity, &webhook.ValidationError{Detail: []webhook.FieldError{{
			Type: "value_error", Loc: []any{"body", "payment_confirmed"},
			Msg: "Value error, payment must be confirmed to start onboarding", Input: false,
		}}})
		return
	}
	s.accept(w, r, b, engine.StartRequest{
		Flow: flows.Onboarding, Email: req.Email, Params: req.Params(),
		DedupeKey: dedupe(flows.Onboarding, req.Email), Source: r.URL.Path,
	}, map[string]any{
		"status": "accepted", "message": "Onboarding welcome sequence will begin shortly",
		"email": req.Email, "payment_amount": pythonFloat(req.PaymentAmount),
		"campaign": flows.CampaignTraditional,
	})
}

// pythonFloat writes a float the way the legacy server did: 2997 as 2997.0.
func pythonFloat(v float64) json.RawMessage {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if v == float64(int64(v)) && v < 1e16 && v > -1e16 {
		s = strconv.FormatFloat(v, 'f', 1, 64)
	}
	return json.RawMessage(s)
}
