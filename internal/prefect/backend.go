package prefect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/store"
)

// Outbox item kinds applied by Backend.Apply. Register Apply under the
// prefix "prefect." on the engine's outbox drainer.
const (
	KindPrefix        = "prefect."
	KindCreateFlowRun = "prefect.create_flow_run"
	KindCancelFlowRun = "prefect.cancel_flow_run"
)

// BackendName is the store.Run.Backend of runs handed to Prefect.
const BackendName = "prefect"

// BackendConfig wires a Backend.
type BackendConfig struct {
	// Engine gives the store, ids, clock and testing mode; its scheduler
	// never sees the emails handed to Prefect, because no step is stored
	// for them.
	Engine *engine.Engine
	Client *Client
	Routes Routes
	// Tracker, when set, records the runs this backend plans (SendEmail
	// mode) in the external tracker, so the legacy sender finds the
	// contact's Email Sequence record. Handler mode does not use it: the
	// legacy handler writes its own records.
	Tracker engine.Tracker
	// OnQueued wakes the outbox drainer after items were stored.
	OnQueued func()
	Logger   *slog.Logger
}

// Backend runs flows on Prefect. It implements engine.Trigger: Start
// stores the run (Backend "prefect") and one outbox item per flow run to
// create, in one transaction; Apply creates the flow runs from the outbox.
//
// Emails handed to Prefect are not stored as steps, so the embedded
// scheduler cannot send them too. Each is recorded as a store.PrefectHandoff
// instead (listed by `perfect prefect runs`), keyed by the step id it would
// have had, which is also its Prefect idempotency key.
type Backend struct {
	eng      *engine.Engine
	db       *store.DB
	client   *Client
	routes   Routes
	tracker  engine.Tracker
	onQueued func()
	log      *slog.Logger

	mu     sync.Mutex
	health Health
}

// Health is what /health can show about the Prefect backend.
type Health struct {
	Routes      string     `json:"routes"`
	LastOK      *time.Time `json:"last_ok,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// Failing is true while the most recent call to Prefect failed.
	Failing bool `json:"failing"`
}

// NewBackend returns a backend.
func NewBackend(cfg BackendConfig) *Backend {
	b := &Backend{
		eng: cfg.Engine, db: cfg.Engine.DB(), client: cfg.Client, routes: cfg.Routes,
		tracker: cfg.Tracker, onQueued: cfg.OnQueued, log: cfg.Logger,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.health.Routes = cfg.Routes.String()
	return b
}

// Triggers returns the per-flow choice of trigger for the webhook server:
// this backend for flows routed to Prefect, embedded for the others.
func (b *Backend) Triggers(embedded engine.Trigger) func(flow string) engine.Trigger {
	return func(flow string) engine.Trigger {
		if b.routes.Mode(flow) == Embedded {
			return embedded
		}
		return b
	}
}

// createPayload is the payload of a KindCreateFlowRun outbox item. It is
// complete: applying it needs nothing but the deployment lookup.
type createPayload struct {
	RunID         string         `json:"run_id"`
	Deployment    string         `json:"deployment"`
	Key           string         `json:"idempotency_key"`
	Name          string         `json:"name"`
	EmailNumber   int            `json:"email_number,omitempty"`
	ScheduledTime *time.Time     `json:"scheduled_time,omitempty"`
	Parameters    map[string]any `json:"parameters"`
	Tags          []string       `json:"tags,omitempty"`
}

// cancelPayload is the payload of a KindCancelFlowRun outbox item.
type cancelPayload struct {
	RunID     string `json:"run_id"`
	Key       string `json:"key"`
	FlowRunID string `json:"flow_run_id"`
	Reason    string `json:"reason,omitempty"`
}

// runTag marks every flow run perfect creates, for filtering in Prefect.
const runTag = "perfect"

// Start stores the run and queues its flow runs. It does no network I/O,
// so a Prefect outage never slows a webhook down.
func (b *Backend) Start(ctx context.Context, req engine.StartRequest) (engine.Result, error) {
	f, ok := flows.ByName(req.Flow)
	if !ok {
		return engine.Result{}, fmt.Errorf("%w: %s", engine.ErrUnknownFlow, req.Flow)
	}
	mode := b.routes.Mode(f.Name)
	if mode == Embedded {
		return engine.Result{}, fmt.Errorf("flow %s is not routed to prefect", f.Name)
	}
	params, err := json.Marshal(req.Params)
	if err != nil {
		return engine.Result{}, fmt.Errorf("encode params: %w", err)
	}
	now := b.eng.Now()
	run := store.Run{
		ID: b.eng.NewID(), Flow: f.Name, Email: req.Email, DedupeKey: req.DedupeKey,
		CreatedAt: now, Params: params, Backend: BackendName, Source: req.Source,
	}
	steps, payloads := b.plan(f, mode, run, req, now)
	in := store.Intake{Run: run}
	for _, p := range payloads {
		it, err := b.item(KindCreateFlowRun, p.Key, p, now)
		if err != nil {
			return engine.Result{}, err
		}
		in.Outbox = append(in.Outbox, it)
	}
	if mode == SendEmail && b.tracker != nil {
		in.Outbox = append(in.Outbox, b.tracker.Started(run, steps)...)
	}
	got, dup, err := b.db.CreateRun(in)
	if err != nil {
		return engine.Result{}, fmt.Errorf("store run: %w", err)
	}
	if dup {
		return engine.Result{RunID: got.ID, Duplicate: true, Backend: got.Backend}, nil
	}
	b.recordPending(ctx, run.ID, payloads, now)
	b.wake()
	b.log.InfoContext(ctx, "run handed to prefect", "run_id", run.ID, "flow", f.Name,
		"mode", mode.String(), "email", engine.MaskEmail(req.Email), "flow_runs", len(payloads))
	return engine.Result{RunID: run.ID, Steps: steps, Backend: BackendName}, nil
}

// plan returns the emails of a SendEmail run (not stored: for the tracker
// and the caller's count) and the flow runs to create.
func (b *Backend) plan(f *flows.Flow, mode Mode, run store.Run, req engine.StartRequest, now time.Time) ([]store.Step, []createPayload) {
	if mode == Handler {
		return nil, []createPayload{{
			RunID: run.ID, Deployment: f.Name + "/" + f.Name, Key: run.ID,
			Name:       f.Name + "-" + strings.ToLower(run.ID),
			Parameters: HandlerParameters(f.Name, req.Params), Tags: []string{runTag},
		}}
	}
	anchor := now
	if f.Anchor == flows.BeforeMeeting {
		anchor = req.Meeting.UTC()
	}
	var steps []store.Step
	var payloads []createPayload
	for _, p := range f.Plan(anchor, now, b.eng.Testing(), req.Segment) {
		id := flows.StepID(run.ID, p.Number)
		due := p.DueAt
		steps = append(steps, store.Step{
			ID: id, RunID: run.ID, Flow: f.Name, Email: req.Email, Template: p.Template,
			EmailNumber: p.Number, DueAt: due, Status: store.StatusPlanned,
			CreatedAt: now, UpdatedAt: now,
		})
		payloads = append(payloads, createPayload{
			RunID: run.ID, Deployment: SendEmailDeployment, Key: id,
			Name:        flows.ChristmasSendMail + "-" + strings.ToLower(id),
			EmailNumber: p.Number, ScheduledTime: &due,
			Parameters: SendEmailParameters(req.Params, p.Number, req.Segment),
			Tags:       []string{runTag},
		})
	}
	return steps, payloads
}

func (b *Backend) item(kind, key string, payload any, now time.Time) (store.OutboxItem, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return store.OutboxItem{}, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	return store.OutboxItem{
		ID: b.eng.NewID(), Kind: kind, Payload: raw, CreatedAt: now, NextAt: now,
	}, nil
}

// recordPending writes the handoffs of a new run. They are a view for
// people: the outbox items are the durable truth, so a failure here is
// only logged.
func (b *Backend) recordPending(ctx context.Context, runID string, ps []createPayload, now time.Time) {
	hs := make([]store.PrefectHandoff, 0, len(ps))
	for _, p := range ps {
		hs = append(hs, store.PrefectHandoff{
			RunID: runID, Key: p.Key, Deployment: p.Deployment, EmailNumber: p.EmailNumber,
			ScheduledTime: p.ScheduledTime, State: store.HandoffPending, UpdatedAt: now,
		})
	}
	if err := b.db.PutPrefectHandoffs(hs...); err != nil {
		b.log.ErrorContext(ctx, "record prefect handoffs", "run_id", runID, "err", err)
	}
}

func (b *Backend) wake() {
	if b.onQueued != nil {
		b.onQueued()
	}
}

// Apply performs one outbox item of a KindPrefix kind; it has the
// signature of engine.Applier. Errors that retrying cannot fix are
// *engine.PermanentError; a rate limit or outage returns an error whose
// RetryAfter the drainer honours.
func (b *Backend) Apply(ctx context.Context, it store.OutboxItem) error {
	switch it.Kind {
	case KindCreateFlowRun:
		var p createPayload
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			return &engine.PermanentError{Err: fmt.Errorf("decode %s: %w", it.Kind, err)}
		}
		return b.applyCreate(ctx, it, p)
	case KindCancelFlowRun:
		var p cancelPayload
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			return &engine.PermanentError{Err: fmt.Errorf("decode %s: %w", it.Kind, err)}
		}
		return b.applyCancel(ctx, it, p)
	}
	return &engine.PermanentError{Err: fmt.Errorf("unknown outbox kind %q", it.Kind)}
}

func (b *Backend) applyCreate(ctx context.Context, it store.OutboxItem, p createPayload) error {
	h := store.PrefectHandoff{
		RunID: p.RunID, Key: p.Key, Deployment: p.Deployment, EmailNumber: p.EmailNumber,
		ScheduledTime: p.ScheduledTime, Attempts: it.Attempts + 1,
	}
	run, err := b.db.GetRun(p.RunID)
	if err != nil {
		return &engine.PermanentError{Err: fmt.Errorf("read run of %s: %w", p.Key, err)}
	}
	if run.CancelledAt != nil {
		h.State = store.HandoffSkipped
		b.putHandoff(ctx, h)
		return nil
	}
	fr, existed, err := b.create(ctx, p, &h)
	if err != nil {
		return b.failed(ctx, h, err)
	}
	h.FlowRunID, h.State = fr.ID, store.HandoffCreated
	if existed {
		h.State = store.HandoffExisting
	}
	b.putHandoff(ctx, h)
	b.log.InfoContext(ctx, "prefect flow run created", "run_id", p.RunID, "key", p.Key,
		"flow_run_id", fr.ID, "existing", existed)
	return b.cancelIfRunCancelled(ctx, h)
}

// create resolves the deployment and creates the flow run.
func (b *Backend) create(ctx context.Context, p createPayload, h *store.PrefectHandoff) (FlowRun, bool, error) {
	flow, name, _ := strings.Cut(p.Deployment, "/")
	dep, err := b.client.ReadDeploymentByName(ctx, flow, name)
	if err != nil {
		return FlowRun{}, false, fmt.Errorf("resolve deployment %s: %w", p.Deployment, err)
	}
	h.DeploymentID = dep.ID
	in := FlowRunCreate{Name: p.Name, Parameters: p.Parameters, Tags: p.Tags, IdempotencyKey: p.Key}
	if p.ScheduledTime != nil {
		at := p.ScheduledTime.UTC()
		in.State = &StateCreate{Type: Scheduled, Name: "Scheduled",
			StateDetails: &StateDetailsCreate{ScheduledTime: &at}}
	}
	fr, existed, err := b.client.CreateFlowRun(ctx, dep.ID, in)
	if err != nil {
		return FlowRun{}, false, fmt.Errorf("create flow run %s: %w", p.Key, err)
	}
	b.ok()
	return fr, existed, nil
}

// cancelIfRunCancelled covers a cancel that raced with the creation: the
// run was cancelled while its flow run was being created.
func (b *Backend) cancelIfRunCancelled(ctx context.Context, h store.PrefectHandoff) error {
	run, err := b.db.GetRun(h.RunID)
	if err != nil || run.CancelledAt == nil {
		return nil
	}
	return b.queueCancels(ctx, []store.PrefectHandoff{h}, run.CancelReason)
}

// failed records a failed attempt and classifies the error for the drainer.
func (b *Backend) failed(ctx context.Context, h store.PrefectHandoff, err error) error {
	b.fail(err)
	h.LastError = err.Error()
	h.State = store.HandoffRetrying
	permanent := false
	if e := AsError(err); e != nil && e.Permanent() {
		permanent = true
		h.State = store.HandoffFailed
	}
	b.putHandoff(ctx, h)
	if permanent {
		return &engine.PermanentError{Err: err}
	}
	return err
}

func (b *Backend) putHandoff(ctx context.Context, h store.PrefectHandoff) {
	h.UpdatedAt = b.eng.Now()
	if err := b.db.PutPrefectHandoffs(h); err != nil {
		b.log.ErrorContext(ctx, "record prefect handoff", "run_id", h.RunID, "key", h.Key, "err", err)
	}
}

func (b *Backend) applyCancel(ctx context.Context, it store.OutboxItem, p cancelPayload) error {
	res, err := b.client.CancelFlowRun(ctx, p.FlowRunID, cancelMessage(p.Reason))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return &engine.PermanentError{Err: err}
		}
		b.fail(err)
		if e := AsError(err); e != nil && e.Permanent() {
			return &engine.PermanentError{Err: err}
		}
		return err
	}
	b.ok()
	hs, err := b.db.PrefectHandoffs(p.RunID)
	if err != nil {
		return fmt.Errorf("read handoffs of %s: %w", p.RunID, err)
	}
	for _, h := range hs {
		if h.Key != p.Key {
			continue
		}
		if res.Cancelled() {
			h.State = store.HandoffCancelled
		}
		h.LastError = ""
		if !res.Cancelled() {
			h.LastError = "cancel " + strings.ToLower(res.Status) + ": " + res.Details.Reason
		}
		h.Attempts = it.Attempts + 1
		b.putHandoff(ctx, h)
	}
	return nil
}

func cancelMessage(reason string) string {
	if reason == "" {
		return "Cancelled by perfect"
	}
	return "Cancelled by perfect: " + reason
}

// CancelRun cancels a run handed to Prefect: locally at once (flow runs
// not yet created will not be), and on Prefect through the outbox for the
// flow runs already created.
func (b *Backend) CancelRun(ctx context.Context, runID, by, reason string) error {
	if _, err := b.db.CancelRun(runID, by, reason, b.eng.Now()); err != nil {
		return fmt.Errorf("cancel run %s: %w", runID, err)
	}
	hs, err := b.db.PrefectHandoffs(runID)
	if err != nil {
		return fmt.Errorf("read handoffs of %s: %w", runID, err)
	}
	return b.queueCancels(ctx, hs, reason)
}

// CancelContact cancels the contact's live runs handed to Prefect for
// which match returns true, as CancelRun does for each; the lifecycle
// rules (a booking cancels nurture emails, …) reach Prefect runs this way,
// since those runs have no local steps. It returns how many it cancelled.
func (b *Backend) CancelContact(ctx context.Context, email string, match func(store.Run) bool, by, reason string) (int, error) {
	runs, err := b.db.RunsByEmail(email)
	if err != nil {
		return 0, fmt.Errorf("read runs of contact: %w", err)
	}
	n := 0
	for _, r := range runs {
		if r.Backend != BackendName || r.CancelledAt != nil || !match(r) {
			continue
		}
		if err := b.CancelRun(ctx, r.ID, by, reason); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (b *Backend) queueCancels(ctx context.Context, hs []store.PrefectHandoff, reason string) error {
	now := b.eng.Now()
	var items []store.OutboxItem
	for _, h := range hs {
		if h.FlowRunID == "" || h.State == store.HandoffCancelled {
			continue
		}
		it, err := b.item(KindCancelFlowRun, h.Key, cancelPayload{
			RunID: h.RunID, Key: h.Key, FlowRunID: h.FlowRunID, Reason: reason,
		}, now)
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil
	}
	if err := b.db.AddOutbox(items...); err != nil {
		return fmt.Errorf("queue prefect cancels: %w", err)
	}
	b.log.InfoContext(ctx, "prefect cancels queued", "count", len(items))
	b.wake()
	return nil
}

// Health returns the backend's last known state.
func (b *Backend) Health() Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

func (b *Backend) ok() {
	now := b.eng.Now()
	b.mu.Lock()
	b.health.LastOK, b.health.Failing = &now, false
	b.mu.Unlock()
}

func (b *Backend) fail(err error) {
	now := b.eng.Now()
	b.mu.Lock()
	b.health.LastError, b.health.LastErrorAt, b.health.Failing = err.Error(), &now, true
	b.mu.Unlock()
}
