package prefecttest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Prefect API on 127.0.0.1, mounted under /api.
type Server struct {
	*httptest.Server
	t testing.TB

	// Auth, when set, is the exact Authorization header every call but
	// /api/health must carry.
	Auth string

	mu          sync.Mutex
	deployments map[string]*deployment // by id
	runs        map[string]map[string]any
	order       []string
	byKey       map[string]string // flow id + "|" + idempotency key -> run id
	secrets     map[string]any
	violations  []string
	creates     map[string]int // idempotency key -> create calls that made a run
	calls       int
	down        int    // status answered to everything while non-zero
	downAfter   string // Retry-After sent while down
	failNext    []int  // statuses for the next calls
	loseCreates int    // creates whose answer is replaced by a 502 after the run is made
}

type deployment struct {
	id, flowID, flow, name string
	contract               Contract
	tags                   []string
}

// NewServer starts a fake Prefect server that is closed with the test.
func NewServer(t testing.TB) *Server {
	s := &Server{
		t: t, deployments: map[string]*deployment{}, runs: map[string]map[string]any{},
		byKey: map[string]string{}, secrets: map[string]any{}, creates: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /api/deployments/name/{flow}/{name}", s.readDeployment)
	mux.HandleFunc("POST /api/deployments/{id}/create_flow_run", s.createFlowRun)
	mux.HandleFunc("GET /api/flow_runs/{id}", s.readFlowRun)
	mux.HandleFunc("POST /api/flow_runs/{id}/set_state", s.setState)
	mux.HandleFunc("GET /api/block_types/slug/secret/block_documents/name/{name}", s.readSecret)
	s.Server = httptest.NewServer(s.gate(mux))
	t.Cleanup(s.Close)
	return s
}

// URL is the API base, as PREFECT_API_URL would be.
func (s *Server) APIURL() string { return s.Server.URL + "/api" }

// AddDeployment registers flow/name with a parameter contract (nil
// accepts anything) and returns its id.
func (s *Server) AddDeployment(flow, name string, c Contract, tags ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &deployment{id: newUUID(), flowID: newUUID(), flow: flow, name: name, contract: c, tags: tags}
	for _, other := range s.deployments {
		if other.flow == flow {
			d.flowID = other.flowID
		}
	}
	s.deployments[d.id] = d
	return d.id
}

// AddSecret stores a Secret block whose data.value is v.
func (s *Server) AddSecret(name string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = v
}

// SetDown makes every call answer status (with Retry-After when given)
// until SetUp.
func (s *Server) SetDown(status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.downAfter = status, retryAfter
}

// SetUp ends SetDown.
func (s *Server) SetUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = 0
}

// FailNext makes the next calls answer these statuses, one each.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, statuses...)
}

// LoseCreates makes the next n creations succeed on the server but answer
// 502, as when a proxy drops the answer.
func (s *Server) LoseCreates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseCreates = n
}

// Violations returns every schema problem seen in requests.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Calls counts requests received, rejected ones included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// CreatesByKey counts, per idempotency key, the flow runs created.
func (s *Server) CreatesByKey() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.creates))
	for k, v := range s.creates {
		out[k] = v
	}
	return out
}

// FlowRuns returns the runs created, oldest first, as stored.
func (s *Server) FlowRuns() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.runs[id])
	}
	return out
}

func (s *Server) violate(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// gate applies failure injection and authentication before the routes.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls++
		status, after := s.down, s.downAfter
		if status == 0 && len(s.failNext) > 0 {
			status, after = s.failNext[0], ""
			s.failNext = s.failNext[1:]
		}
		auth := s.Auth
		s.mu.Unlock()
		if status != 0 {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			writeJSON(w, status, map[string]any{"detail": http.StatusText(status)})
			return
		}
		if auth != "" && r.URL.Path != "/api/health" && r.Header.Get("Authorization") != auth {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"exception_message": "Unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, true)
}

func (s *Server) readDeployment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.deployments {
		if d.flow == r.PathValue("flow") && d.name == r.PathValue("name") {
			writeJSON(w, http.StatusOK, d.response())
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Deployment not found"})
}

func (d *deployment) response() map[string]any {
	now := stamp(time.Now())
	m := map[string]any{}
	for _, k := range deploymentFields {
		m[k] = nil
	}
	for k, v := range map[string]any{
		"id": d.id, "created": now, "updated": now, "name": d.name, "flow_id": d.flowID,
		"paused": false, "schedules": []any{}, "job_variables": map[string]any{},
		"parameters": map[string]any{}, "tags": nonNil(d.tags), "labels": map[string]any{},
		"work_queue_name": "default", "work_pool_name": "default", "status": "READY",
		"parameter_openapi_schema": map[string]any{"type": "object", "properties": map[string]any{}},
		"enforce_parameter_schema": true, "pull_steps": []any{},
	} {
		m[k] = v
	}
	return m
}

func (s *Server) createFlowRun(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, invalid(err.Error(), nil))
		return
	}
	body, probs := CheckCreateBody(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(probs) > 0 {
		for _, p := range probs {
			s.violate("create_flow_run: %s", p)
		}
		writeJSON(w, http.StatusUnprocessableEntity, invalid(strings.Join(probs, "; "), body))
		return
	}
	d, ok := s.deployments[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Deployment not found"})
		return
	}
	params, _ := body["parameters"].(map[string]any)
	if probs := d.contract.Check(params); len(probs) > 0 {
		for _, p := range probs {
			s.violate("create_flow_run %s/%s: %s", d.flow, d.name, p)
		}
		writeJSON(w, http.StatusConflict, map[string]any{
			"detail": "Error creating flow run: Validation failed. " + strings.Join(probs, "; ")})
		return
	}
	key, _ := body["idempotency_key"].(string)
	if id, ok := s.byKey[d.flowID+"|"+key]; ok && key != "" {
		writeJSON(w, http.StatusOK, s.runs[id])
		return
	}
	run := s.newRun(d, body, params, key)
	if s.loseCreates > 0 {
		s.loseCreates--
		writeJSON(w, http.StatusBadGateway, map[string]any{"detail": "Bad Gateway"})
		return
	}
	writeJSON(w, http.StatusCreated, run)
}

func (s *Server) newRun(d *deployment, body, params map[string]any, key string) map[string]any {
	id, now := newUUID(), time.Now().UTC()
	scheduled := now
	stateName := "Scheduled"
	if st, ok := body["state"].(map[string]any); ok {
		if det, ok := st["state_details"].(map[string]any); ok {
			if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(det["scheduled_time"])); err == nil {
				scheduled = t.UTC()
			}
		}
		if n, ok := st["name"].(string); ok && n != "" {
			stateName = n
		}
	}
	run := map[string]any{}
	for _, k := range flowRunFields {
		run[k] = nil
	}
	name, _ := body["name"].(string)
	if name == "" {
		name = "fake-" + id[:8]
	}
	var keyField any
	if key != "" {
		keyField = key
		s.byKey[d.flowID+"|"+key] = id
		s.creates[key]++
	}
	for k, v := range map[string]any{
		"id": id, "created": stamp(now), "updated": stamp(now), "name": name, "flow_id": d.flowID,
		"deployment_id": d.id, "parameters": nonNilMap(params), "idempotency_key": keyField,
		"context": map[string]any{}, "tags": append(nonNil(d.tags), anyStrings(body["tags"])...),
		"labels": map[string]any{}, "run_count": 0, "expected_start_time": stamp(scheduled),
		"next_scheduled_start_time": stamp(scheduled), "total_run_time": 0.0,
		"estimated_run_time": 0.0, "estimated_start_time_delta": 0.0, "auto_scheduled": false,
		"empirical_policy": map[string]any{"max_retries": 0, "retry_delay_seconds": 0.0,
			"retries": 0, "retry_delay": 0, "pause_keys": []any{}, "resuming": false},
		"job_variables": map[string]any{},
	} {
		run[k] = v
	}
	setRunState(run, "SCHEDULED", stateName, &scheduled)
	s.runs[id] = run
	s.order = append(s.order, id)
	return run
}

func setRunState(run map[string]any, typ, name string, scheduled *time.Time) {
	sid := newUUID()
	var st any
	if scheduled != nil {
		st = stamp(*scheduled)
	}
	run["state_id"], run["state_type"], run["state_name"] = sid, typ, name
	run["state"] = map[string]any{
		"id": sid, "type": typ, "name": name, "timestamp": stamp(time.Now()), "message": nil,
		"data": nil, "state_details": map[string]any{"flow_run_id": run["id"], "scheduled_time": st},
	}
}

func (s *Server) readFlowRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.runs[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Flow run not found"})
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (s *Server) setState(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, invalid(err.Error(), nil))
		return
	}
	body, probs := CheckSetStateBody(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(probs) > 0 {
		for _, p := range probs {
			s.violate("set_state: %s", p)
		}
		writeJSON(w, http.StatusUnprocessableEntity, invalid(strings.Join(probs, "; "), body))
		return
	}
	run, ok := s.runs[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Flow run not found"})
		return
	}
	proposed := body["state"].(map[string]any)["type"]
	current := run["state_type"]
	switch {
	case current == "CANCELLED" || current == "COMPLETED" || current == "FAILED" || current == "CRASHED":
		writeJSON(w, http.StatusOK, map[string]any{"state": nil, "status": "ABORT",
			"details": map[string]any{"type": "abort_details", "reason": fmt.Sprintf("Run is already in terminal state %v.", current)}})
	case proposed == "CANCELLING" && current == "SCHEDULED":
		setRunState(run, "CANCELLED", "Cancelled", nil)
		writeJSON(w, http.StatusOK, map[string]any{"state": run["state"], "status": "REJECT",
			"details": map[string]any{"type": "reject_details", "reason": "Scheduled flow run has no infrastructure to terminate."}})
	default:
		typ := fmt.Sprint(proposed)
		setRunState(run, typ, strings.ToUpper(typ[:1])+strings.ToLower(typ[1:]), nil)
		writeJSON(w, http.StatusCreated, map[string]any{"state": run["state"], "status": "ACCEPT",
			"details": map[string]any{"type": "accept_details"}})
	}
}

func (s *Server) readSecret(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.secrets[r.PathValue("name")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Block document not found"})
		return
	}
	if r.URL.Query().Get("include_secrets") != "true" {
		s.violate("secret %s read without include_secrets=true", r.PathValue("name"))
		v = "********"
	}
	now := stamp(time.Now())
	writeJSON(w, http.StatusOK, map[string]any{
		"id": newUUID(), "created": now, "updated": now, "name": r.PathValue("name"),
		"data": map[string]any{"value": v}, "block_schema_id": newUUID(), "block_schema": nil,
		"block_type_id": newUUID(), "block_type_name": "Secret", "block_type": nil,
		"block_document_references": map[string]any{}, "is_anonymous": false,
	})
}

// invalid is Prefect's 422 body.
func invalid(msg string, body any) map[string]any {
	return map[string]any{
		"exception_message": "Invalid request received.",
		"exception_detail":  []any{map[string]any{"type": "value_error", "msg": msg}},
		"request_body":      body,
	}
}

// BasicAuth returns the Authorization header for a "user:pass" string.
func BasicAuth(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func nonNil(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func anyStrings(v any) []any {
	l, _ := v.([]any)
	return l
}
