// Package prefectapi answers the part of Prefect's REST API that callers of
// the legacy system use, under /api, so a website or script that created
// flow runs on Prefect can create them on perfect instead. Runs created this
// way are ordinary runs of perfect's engine, visible in the queue; their
// flow run ids are the run ids seen as UUIDs.
package prefectapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"perfect/internal/engine"
	"perfect/internal/prefect"
	"perfect/internal/webhook"
)

// Config configures the API.
type Config struct {
	Logger *slog.Logger
	// DeploymentIDs overrides the derived deployment id per flow (see
	// ParseDeploymentIDs).
	DeploymentIDs map[string]string
	// AuthString "user:pass", when set, makes every route except
	// /api/health demand basic auth, as a Prefect server with
	// PREFECT_SERVER_API_AUTH_STRING does.
	AuthString string
	// MaxBody caps request bodies (default 1 MiB).
	MaxBody int64
	// OnStarted runs after a new run was started through the API, for the
	// lifecycle rules the webhooks also apply.
	OnStarted func(ctx context.Context, req engine.StartRequest, res engine.Result)
	// CancelRun cancels a run whose Backend is "prefect" (wire
	// prefect.Backend.CancelRun); nil cancels such runs locally only.
	CancelRun func(ctx context.Context, runID, by, reason string) error
}

// API is the Prefect-compatible HTTP API.
type API struct {
	cfg     Config
	log     *slog.Logger
	deps    []*deployment
	byID    map[string]*deployment
	byFlow  map[string]*deployment
	started time.Time
	state   atomic.Pointer[backend]
	// createMu serialises creations, so two requests with one idempotency
	// key cannot both start a run.
	createMu sync.Mutex
}

type backend struct {
	eng      *engine.Engine
	triggers func(flow string) engine.Trigger
}

// New returns the API. It answers 503 until SetBackend is called.
func New(cfg Config) *API {
	a := &API{cfg: cfg, log: cfg.Logger, byID: map[string]*deployment{}, byFlow: map[string]*deployment{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.cfg.MaxBody <= 0 {
		a.cfg.MaxBody = 1 << 20
	}
	a.deps = buildDeployments(cfg.DeploymentIDs)
	for _, d := range a.deps {
		a.byID[d.id], a.byFlow[d.flow] = d, d
	}
	a.started = time.Now().UTC().Truncate(time.Microsecond)
	return a
}

// SetBackend makes the API ready: runs are read from the engine's store and
// started through triggers (the engine itself when triggers is nil).
func (a *API) SetBackend(e *engine.Engine, triggers func(flow string) engine.Trigger) {
	if triggers == nil {
		triggers = func(string) engine.Trigger { return e }
	}
	a.state.Store(&backend{eng: e, triggers: triggers})
}

// Route is a mux pattern (Go 1.22 syntax) and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns the API's routes, for mounting on the service's mux.
func (a *API) Routes() []Route {
	return []Route{
		{"GET /api/health", http.HandlerFunc(a.handleHealth)},
		{"GET /api/deployments/name/{flow}/{deployment}", a.guard(a.handleDeploymentByName)},
		{"GET /api/deployments/{id}", a.guard(a.handleDeployment)},
		{"POST /api/deployments/{id}/create_flow_run", a.guard(a.handleCreateFlowRun)},
		{"GET /api/flow_runs/{id}", a.guard(a.handleFlowRun)},
		{"POST /api/flow_runs/filter", a.guard(a.handleFilter)},
		{"POST /api/flow_runs/{id}/set_state", a.guard(a.handleSetState)},
	}
}

// Handler serves the routes on a mux of their own, answering unknown /api
// paths with 404 {"detail":"Not Found"}.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range a.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
	return mux
}

// guard checks auth and readiness before a handler that needs the store.
func (a *API) guard(h func(w http.ResponseWriter, r *http.Request, b *backend)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"exception_message": "Unauthorized"})
			return
		}
		b := a.state.Load()
		if b == nil {
			w.Header().Set("Retry-After", "5")
			writeDetail(w, http.StatusServiceUnavailable, "starting: data file not open yet")
			return
		}
		h(w, r, b)
	})
}

func (a *API) authorized(r *http.Request) bool {
	if a.cfg.AuthString == "" {
		return true
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(a.cfg.AuthString))
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) == 1
}

func (a *API) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, true)
}

func (a *API) handleDeploymentByName(w http.ResponseWriter, r *http.Request, _ *backend) {
	d, ok := a.byFlow[r.PathValue("flow")]
	if !ok || r.PathValue("deployment") != d.flow {
		writeDetail(w, http.StatusNotFound, "Deployment not found")
		return
	}
	writeJSON(w, http.StatusOK, d.response(a.started))
}

func (a *API) handleDeployment(w http.ResponseWriter, r *http.Request, _ *backend) {
	d, ok := a.deployment(r.PathValue("id"))
	if !ok {
		writeDetail(w, http.StatusNotFound, "Deployment not found")
		return
	}
	writeJSON(w, http.StatusOK, d.response(a.started))
}

// deployment finds a deployment by id in any UUID spelling.
func (a *API) deployment(id string) (*deployment, bool) {
	canon, err := prefect.CanonicalUUID(id)
	if err != nil {
		return nil, false
	}
	d, ok := a.byID[canon]
	return d, ok
}

// readBody reads a JSON body within MaxBody; it answers errors itself.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeDetail(w, http.StatusRequestEntityTooLarge, "request body too large")
		return nil, false
	case err != nil:
		writeDetail(w, http.StatusBadRequest, "could not read request body")
		return nil, false
	}
	return body, true
}

// invalidRequest is Prefect's 422 body.
type invalidRequest struct {
	ExceptionMessage string               `json:"exception_message"`
	ExceptionDetail  []webhook.FieldError `json:"exception_detail"`
	RequestBody      any                  `json:"request_body"`
}

// writeInvalid answers 422 in Prefect's shape. body is the request as
// received: decoded JSON when it parses, else the raw text.
func writeInvalid(w http.ResponseWriter, body []byte, detail ...webhook.FieldError) {
	var parsed any
	if err := json.Unmarshal(body, &parsed); err != nil {
		parsed = string(body)
	}
	for i := range detail {
		if detail[i].Loc == nil {
			detail[i].Loc = []any{"body"}
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, invalidRequest{
		ExceptionMessage: "Invalid request received.", ExceptionDetail: detail, RequestBody: parsed,
	})
}

func fieldError(typ, msg string, input any, loc ...any) webhook.FieldError {
	return webhook.FieldError{Type: typ, Loc: append([]any{"body"}, loc...), Msg: msg, Input: input}
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
