package prefectapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/prefect"
	"perfect/internal/webhook"
	"perfect/store"
)

// createRequest is Prefect's DeploymentFlowRunCreate. perfect uses state,
// name, parameters, tags and idempotency_key; it accepts and ignores the
// fields that steer Prefect's workers.
type createRequest struct {
	State                    json.RawMessage `json:"state"`
	Name                     *string         `json:"name"`
	Parameters               json.RawMessage `json:"parameters"`
	EnforceParameterSchema   *bool           `json:"enforce_parameter_schema"`
	Context                  map[string]any  `json:"context"`
	InfrastructureDocumentID *string         `json:"infrastructure_document_id"`
	EmpiricalPolicy          map[string]any  `json:"empirical_policy"`
	Tags                     []string        `json:"tags"`
	IdempotencyKey           *string         `json:"idempotency_key"`
	ParentTaskRunID          *string         `json:"parent_task_run_id"`
	WorkQueueName            *string         `json:"work_queue_name"`
	JobVariables             map[string]any  `json:"job_variables"`
	Labels                   map[string]any  `json:"labels"`
}

// stateRequest is Prefect's StateCreate.
type stateRequest struct {
	Type         prefect.StateType          `json:"type"`
	Name         *string                    `json:"name"`
	Message      *string                    `json:"message"`
	Data         any                        `json:"data"`
	StateDetails map[string]json.RawMessage `json:"state_details"`
}

// startSlack is how far in the future a handler flow's scheduled_time may
// be: handler flows start at once, as the website's runs did.
const startSlack = time.Minute

func (a *API) handleCreateFlowRun(w http.ResponseWriter, r *http.Request, b *backend) {
	d, ok := a.deployment(r.PathValue("id"))
	if !ok {
		writeDetail(w, http.StatusNotFound, "Deployment not found")
		return
	}
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	now := b.eng.Now()
	req, at, errs := parseCreate(body, now)
	if len(errs) == 0 && d.flow != flows.ChristmasSendMail && at.After(now.Add(startSlack)) {
		errs = append(errs, fieldError("value_error", "perfect starts "+d.flow+" at once; a future "+
			"scheduled_time is supported only for "+flows.ChristmasSendMail, nil,
			"state", "state_details", "scheduled_time"))
	}
	if len(errs) > 0 {
		writeInvalid(w, body, errs...)
		return
	}

	a.createMu.Lock()
	defer a.createMu.Unlock()
	key := deref(req.IdempotencyKey)
	if key != "" {
		if runID, err := b.eng.DB().PrefectRunByKey(d.id, key); err == nil {
			a.writeRun(w, r, b, runID, http.StatusOK)
			return
		}
	}
	res, errs, err := a.start(r.Context(), b, d, req.Parameters, at, r.URL.Path)
	switch {
	case len(errs) > 0:
		writeInvalid(w, body, errs...)
		return
	case err != nil:
		a.log.ErrorContext(r.Context(), "start flow from prefect api", "flow", d.flow, "err", err)
		w.Header().Set("Retry-After", "30")
		writeDetail(w, http.StatusServiceUnavailable, "could not store the flow run, try again")
		return
	}
	if err := a.remember(b, d, req, res, key, now); err != nil {
		a.log.ErrorContext(r.Context(), "record prefect api run", "run_id", res.RunID, "err", err)
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	a.writeRun(w, r, b, res.RunID, status)
}

// parseCreate decodes the body and returns when the run should start.
func parseCreate(body []byte, now time.Time) (createRequest, time.Time, []webhook.FieldError) {
	var req createRequest
	if !json.Valid(body) {
		return req, now, []webhook.FieldError{fieldError("json_invalid", "JSON decode error", string(body))}
	}
	if errs := decodeStrict(body, &req); len(errs) > 0 {
		return req, now, errs
	}
	if len(req.Parameters) == 0 || string(req.Parameters) == "null" {
		req.Parameters = json.RawMessage("{}")
	}
	if len(req.State) == 0 || string(req.State) == "null" {
		return req, now, nil
	}
	var st stateRequest
	if errs := decodeStrict(req.State, &st, "state"); len(errs) > 0 {
		return req, now, errs
	}
	at, errs := st.startTime(now)
	return req, at, errs
}

// startTime checks a proposed initial state; only SCHEDULED and PENDING
// make sense for a run that has not started.
func (st stateRequest) startTime(now time.Time) (time.Time, []webhook.FieldError) {
	if !st.Type.Valid() {
		return now, []webhook.FieldError{fieldError("enum", "Input should be 'SCHEDULED', 'PENDING', "+
			"'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'PAUSED' or 'CANCELLING'",
			string(st.Type), "state", "type")}
	}
	if st.Type != prefect.Scheduled && st.Type != prefect.Pending {
		return now, []webhook.FieldError{fieldError("value_error",
			"perfect creates runs as SCHEDULED or PENDING only", string(st.Type), "state", "type")}
	}
	raw, ok := st.StateDetails["scheduled_time"]
	if !ok || string(raw) == "null" {
		return now, nil
	}
	at, err := parseTime(raw)
	if err != nil {
		return now, []webhook.FieldError{fieldError("datetime_from_date_parsing",
			"Input should be a valid datetime", raw, "state", "state_details", "scheduled_time")}
	}
	return at, nil
}

// parseTime reads an ISO 8601 time; a time with no offset is UTC, as
// Prefect reads it.
func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q", s)
}

// start validates the parameters like the flow's webhook and starts the
// run. It returns field errors for a 422, or an error when the run could
// not be stored.
func (a *API) start(ctx context.Context, b *backend, d *deployment, params []byte, at time.Time, source string) (engine.Result, []webhook.FieldError, error) {
	if d.flow == flows.ChristmasSendMail {
		return a.startSendEmail(ctx, b, params, at, source)
	}
	req, err := startRequest(d.flow, params)
	if err != nil {
		return engine.Result{}, paramErrors(err), nil
	}
	req.Source = source
	res, err := b.triggers(d.flow).Start(ctx, req)
	if err != nil {
		return engine.Result{}, nil, err
	}
	if !res.Duplicate && a.cfg.OnStarted != nil {
		a.cfg.OnStarted(ctx, req, res)
	}
	return res, nil, nil
}

// startRequest decodes the parameters with the decoder of the flow's
// webhook and builds the start exactly as the webhook does, dedupe key
// included.
func startRequest(flow string, params []byte) (engine.StartRequest, error) {
	switch flow {
	case flows.ChristmasSignup:
		c, err := webhook.DecodeChristmasSignup(params)
		if err != nil {
			return engine.StartRequest{}, err
		}
		return engine.StartRequest{Flow: flow, Email: c.Email, Params: c.Params(), Segment: c.Segment(),
			DedupeKey: dedupe(flow, c.Email, flows.CampaignChristmas)}, nil
	case flows.NoShowRecovery:
		n, err := webhook.DecodeNoShow(params)
		if err != nil {
			return engine.StartRequest{}, err
		}
		return engine.StartRequest{Flow: flow, Email: n.Email, Params: n.Params(), DedupeKey: dedupe(flow, n.Email)}, nil
	case flows.PostCallMaybe:
		p, err := webhook.DecodePostCall(params)
		if err != nil {
			return engine.StartRequest{}, err
		}
		return engine.StartRequest{Flow: flow, Email: p.Email, Params: p.Params(), DedupeKey: dedupe(flow, p.Email)}, nil
	case flows.Onboarding:
		return onboardingRequest(params)
	case flows.BusinessXSignup:
		s, err := webhook.DecodeSignup(params)
		if err != nil {
			return engine.StartRequest{}, err
		}
		return engine.StartRequest{Flow: flow, Email: s.Email, Params: s.Params()}, nil
	case flows.BusinessXAssess:
		as, err := webhook.DecodeAssessment(params)
		if err != nil {
			return engine.StartRequest{}, err
		}
		return engine.StartRequest{Flow: flow, Email: as.Email, Params: as.Params(), Segment: as.Segment(),
			DedupeKey: dedupe(flow, as.Email)}, nil
	case flows.PreCallPrep:
		return preCallRequest(params)
	}
	return engine.StartRequest{}, fmt.Errorf("%w: %s", engine.ErrUnknownFlow, flow)
}

func onboardingRequest(params []byte) (engine.StartRequest, error) {
	o, err := webhook.DecodeOnboarding(params)
	if err != nil {
		return engine.StartRequest{}, err
	}
	if !o.PaymentConfirmed {
		// decisions §4: an unpaid onboarding is refused, as the webhook does.
		return engine.StartRequest{}, &webhook.ValidationError{Detail: []webhook.FieldError{{
			Type: "value_error", Loc: []any{"body", "payment_confirmed"},
			Msg: "Value error, payment must be confirmed to start onboarding", Input: false,
		}}}
	}
	return engine.StartRequest{Flow: flows.Onboarding, Email: o.Email, Params: o.Params(),
		DedupeKey: dedupe(flows.Onboarding, o.Email)}, nil
}

// preCallRequest reads the legacy pre-call flow's parameters (email, name,
// meeting_time); its webhook body is Cal.com's envelope instead.
func preCallRequest(params []byte) (engine.StartRequest, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(params, &p); err != nil {
		return engine.StartRequest{}, &webhook.ValidationError{Detail: []webhook.FieldError{
			fieldError("dict_type", "Input should be a valid dictionary", nil)}}
	}
	var errs []webhook.FieldError
	email, name, meeting := requiredString(p, "email", &errs), requiredString(p, "name", &errs),
		requiredString(p, "meeting_time", &errs)
	if email != "" {
		norm, err := webhook.NormalizeEmail(email)
		if err != nil {
			errs = append(errs, fieldError("value_error", "value is not a valid email address: "+emailReason(err), email, "email"))
		}
		email = norm
	}
	at, err := parseTime(p["meeting_time"])
	if meeting != "" && err != nil {
		errs = append(errs, fieldError("datetime_from_date_parsing", "Input should be a valid datetime", meeting, "meeting_time"))
	}
	if len(errs) > 0 {
		return engine.StartRequest{}, &webhook.ValidationError{Detail: errs}
	}
	return engine.StartRequest{
		Flow: flows.PreCallPrep, Email: email, Meeting: at,
		Params:    map[string]any{"email": email, "name": name, "meeting_time": meeting},
		DedupeKey: dedupe(flows.PreCallPrep, email, at.UTC().Format("2006-01-02T15:04:05Z")),
	}, nil
}

func requiredString(p map[string]json.RawMessage, key string, errs *[]webhook.FieldError) string {
	raw, ok := p[key]
	if !ok {
		*errs = append(*errs, fieldError("missing", "Field required", nil, key))
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		*errs = append(*errs, fieldError("string_type", "Input should be a valid string", raw, key))
		return ""
	}
	return s
}

func emailReason(err error) string {
	var ee *webhook.EmailError
	if errors.As(err, &ee) {
		return ee.Reason
	}
	return err.Error()
}

// paramErrors turns a webhook decoder's error into field errors located
// under "parameters".
func paramErrors(err error) []webhook.FieldError {
	var ve *webhook.ValidationError
	var br *webhook.BadRequest
	switch {
	case errors.As(err, &ve):
		out := make([]webhook.FieldError, len(ve.Detail))
		for i, fe := range ve.Detail {
			loc := fe.Loc
			if len(loc) > 0 && loc[0] == "body" {
				loc = loc[1:]
			}
			fe.Loc = append([]any{"body", "parameters"}, loc...)
			out[i] = fe
		}
		return out
	case errors.As(err, &br):
		return []webhook.FieldError{fieldError("value_error", br.Message, nil, "parameters")}
	}
	return []webhook.FieldError{fieldError("value_error", err.Error(), nil, "parameters")}
}

// dedupe follows the webhooks' convention: flow|lower-cased email|extra.
func dedupe(flow, email string, extra ...string) string {
	k := flow + "|" + store.Key(email)
	for _, e := range extra {
		k += "|" + e
	}
	return k
}

// startSendEmail plans one email of the 5-day sequence at the requested
// time: what a christmas-send-email flow run did. The run belongs to the
// christmas-signup-handler flow (its template, tracking and lifecycle
// rules); it is deduplicated per contact and email number, as the legacy
// sender skipped an email already sent.
func (a *API) startSendEmail(ctx context.Context, b *backend, params []byte, at time.Time, source string) (engine.Result, []webhook.FieldError, error) {
	p, email, n, errs := checkSendEmail(params)
	if len(errs) > 0 {
		return engine.Result{}, errs, nil
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return engine.Result{}, nil, fmt.Errorf("encode params: %w", err)
	}
	f, _ := flows.ByName(flows.ChristmasSignup)
	now := b.eng.Now()
	run := store.Run{
		ID: b.eng.NewID(), Flow: f.Name, Email: email, CreatedAt: now, Params: raw,
		DedupeKey: dedupe(flows.ChristmasSendMail, email, fmt.Sprint(n)),
		Backend:   "embedded", Source: source,
	}
	step := store.Step{
		ID: flows.StepID(run.ID, n), RunID: run.ID, Flow: f.Name, Email: email,
		Template: fmt.Sprintf("5-Day E%d", n), EmailNumber: n, DueAt: at.UTC(),
		Status: store.StatusPlanned, Transactional: f.Transactional,
		MaxLateness: store.Duration(f.MaxLateness), CreatedAt: now, UpdatedAt: now,
	}
	got, dup, err := b.eng.DB().CreateRun(store.Intake{Run: run, Steps: []store.Step{step}})
	if err != nil {
		return engine.Result{}, nil, fmt.Errorf("store run: %w", err)
	}
	if dup {
		return engine.Result{RunID: got.ID, Duplicate: true, Backend: got.Backend}, nil, nil
	}
	b.eng.Wake()
	a.log.InfoContext(ctx, "email planned from prefect api", "run_id", run.ID,
		"email", engine.MaskEmail(email), "email_number", n, "due_at", step.DueAt.Format(time.RFC3339))
	return engine.Result{RunID: run.ID, Steps: []store.Step{step}, Backend: "embedded"}, nil, nil
}

// checkSendEmail validates christmas-send-email parameters against the
// legacy closed set: any other key is refused (it failed the legacy run),
// first_name, business_name and segment must be strings (errata 1), the
// other optional keys may be null. email_number must be 1 to 5, the emails
// the legacy sender had templates for.
func checkSendEmail(params []byte) (map[string]any, string, int, []webhook.FieldError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(params, &raw); err != nil {
		return nil, "", 0, []webhook.FieldError{fieldError("dict_type", "Input should be a valid dictionary", nil, "parameters")}
	}
	sig := map[string]prefect.ParamSpec{}
	for _, p := range prefect.SendEmailSignature() {
		sig[p.Name] = p
	}
	var errs []webhook.FieldError
	out := map[string]any{}
	for _, k := range sortedKeys(raw) {
		spec, ok := sig[k]
		if !ok {
			errs = append(errs, fieldError("extra_forbidden", "Extra inputs are not permitted", raw[k], "parameters", k))
			continue
		}
		v, fe := checkParam(spec, raw[k])
		if fe != nil {
			errs = append(errs, *fe)
			continue
		}
		out[k] = v
	}
	for _, k := range []string{"email", "email_number"} {
		if _, ok := raw[k]; !ok {
			errs = append(errs, fieldError("missing", "Field required", nil, "parameters", k))
		}
	}
	email, n := checkEmailAndNumber(out, &errs)
	return out, email, n, errs
}

func checkParam(spec prefect.ParamSpec, raw json.RawMessage) (any, *webhook.FieldError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		fe := fieldError("json_invalid", "JSON decode error", nil, "parameters", spec.Name)
		return nil, &fe
	}
	switch {
	case v == nil && spec.Nullable:
		return nil, nil
	case spec.Integer:
		if n, ok := v.(json.Number); ok && isInteger(n) {
			return n, nil
		}
		fe := fieldError("int_type", "Input should be a valid integer", v, "parameters", spec.Name)
		return nil, &fe
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	fe := fieldError("string_type", "Input should be a valid string", v, "parameters", spec.Name)
	return nil, &fe
}

func isInteger(n json.Number) bool {
	if _, err := n.Int64(); err == nil {
		return true
	}
	f, err := n.Float64()
	return err == nil && f == math.Trunc(f) && !strings.ContainsAny(string(n), "eE")
}

func checkEmailAndNumber(out map[string]any, errs *[]webhook.FieldError) (string, int) {
	var email string
	if s, ok := out["email"].(string); ok {
		norm, err := webhook.NormalizeEmail(s)
		if err != nil {
			*errs = append(*errs, fieldError("value_error", "value is not a valid email address: "+emailReason(err), s, "parameters", "email"))
		}
		email, out["email"] = norm, norm
	}
	var n int
	if num, ok := out["email_number"].(json.Number); ok {
		f, _ := num.Float64()
		n = int(f)
		if f < 1 || f > 5 {
			*errs = append(*errs, webhook.FieldError{Type: "less_than_equal", Loc: []any{"body", "parameters", "email_number"},
				Msg: "Input should be between 1 and 5 (the 5-Day E1 to E5 templates)", Input: num})
		}
		out["email_number"] = n
	}
	return email, n
}

// remember records what the run itself does not hold: the name, tags,
// parameters as sent and the idempotency key.
func (a *API) remember(b *backend, d *deployment, req createRequest, res engine.Result, key string, now time.Time) error {
	db := b.eng.DB()
	if res.Duplicate {
		if key == "" {
			return nil
		}
		return db.PutPrefectAPIKey(d.id, key, res.RunID)
	}
	name := deref(req.Name)
	if name == "" {
		name = d.flow + "-" + strings.ToLower(res.RunID)
	}
	return db.PutPrefectAPIRun(store.PrefectAPIRun{
		RunID: res.RunID, DeploymentID: d.id, Name: name, IdempotencyKey: key,
		Tags: req.Tags, Parameters: req.Parameters, CreatedAt: now,
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
