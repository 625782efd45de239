// Package engine runs perfect's sequences: it plans a flow's emails into the
// store when a webhook arrives, and a single scheduler loop sends each one
// when it is due.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"perfect/flows"
	"perfect/store"
)

// Trigger starts a flow for one contact. The embedded engine and the
// Prefect adapter both implement it, so each flow can run on either.
type Trigger interface {
	Start(ctx context.Context, req StartRequest) (Result, error)
}

// StartRequest is one start of a flow.
type StartRequest struct {
	Flow  string
	Email string
	// Params are the webhook's values after validation and defaults; they are
	// stored with the run and rendered into every email.
	Params map[string]any
	// Meeting is the anchor of BeforeMeeting flows.
	Meeting time.Time
	// Segment picks segment-specific templates.
	Segment string
	// DedupeKey makes a second start with the same key a duplicate while
	// the first run is not cancelled. Empty means no dedupe.
	DedupeKey string
	// Source says where the start came from (a webhook path, the Prefect API).
	Source string
}

// Result says what a start did.
type Result struct {
	RunID     string
	Duplicate bool
	Steps     []store.Step
	Backend   string
}

// Tracker turns engine events into outbox items for an external tracker
// such as Notion. Its methods must not do I/O: the items are stored in the
// same transaction as the change and applied later.
type Tracker interface {
	Started(run store.Run, steps []store.Step) []store.OutboxItem
	Attempted(run store.Run, step store.Step, at time.Time, sendErr error) []store.OutboxItem
}

// ErrUnknownFlow is returned for a flow name that flows does not define.
var ErrUnknownFlow = errors.New("unknown flow")

// Engine is the embedded backend: planning, scheduling and dispatch.
type Engine struct {
	db       *store.DB
	now      func() time.Time
	speed    float64
	log      *slog.Logger
	testing  bool
	campaign flows.Campaign
	sender   Sender
	render   *Renderer
	tracker  Tracker
	outboxFn func() // wakes the outbox drainer after tracking items are stored

	workers      int
	maxAttempts  int
	shutdownWait time.Duration
	claimLimit   int
	metrics      Metrics
	classifier   Classifier
	suppressed   func(email string) bool
	windows      map[string]flows.Window
	lateness     map[string]time.Duration
	batchMin     int
	batchMax     int
	defaultLoc   *time.Location

	wake    chan struct{}
	freed   chan struct{}
	idMu    sync.Mutex
	entropy *ulid.MonotonicEntropy
	jitter  func() float64
}

// Config wires an Engine.
type Config struct {
	DB  *store.DB
	Now func() time.Time
	// Speed is how many times faster than real time Now runs (test clocks).
	Speed    float64
	Logger   *slog.Logger
	Testing  bool
	Campaign flows.Campaign
	// Sender sends emails; nil runs in outbox mode.
	Sender   Sender
	Renderer *Renderer
	Tracker  Tracker
	// OnTracked is called after tracking items were stored.
	OnTracked func()
	// Workers bounds concurrent sends (default 4).
	Workers int
	// MaxAttempts before a retryable error fails the step (default 8).
	MaxAttempts int
	// ShutdownWait is how long in-flight sends may run after shutdown starts.
	ShutdownWait time.Duration
	Metrics      Metrics
	// Classify turns send errors into retry decisions.
	Classify Classifier
	// Suppressed reports addresses that must not receive nurture emails.
	Suppressed func(email string) bool
	// Windows are per-flow daily send windows in the contact's time zone
	// (params "time_zone"), or DefaultLocation when none is known.
	Windows         map[string]flows.Window
	DefaultLocation *time.Location
	// Lateness overrides a flow's MaxLateness (0: never expire).
	Lateness map[string]time.Duration
	// BatchMin is how many steps must be due at once before they go out
	// through Resend's batch endpoint (when the Sender is a BatchSender);
	// zero disables batches. BatchMax caps a batch (Resend allows 100).
	BatchMin int
	BatchMax int
}

// New returns an engine; call Run to start the scheduler.
func New(cfg Config) *Engine {
	e := &Engine{
		db: cfg.DB, now: cfg.Now, speed: cfg.Speed, log: cfg.Logger, testing: cfg.Testing,
		campaign: cfg.Campaign, sender: cfg.Sender, render: cfg.Renderer,
		tracker: cfg.Tracker, outboxFn: cfg.OnTracked,
		workers: cfg.Workers, maxAttempts: cfg.MaxAttempts,
		shutdownWait: cfg.ShutdownWait, metrics: cfg.Metrics,
		classifier: cfg.Classify, suppressed: cfg.Suppressed,
		windows: cfg.Windows, defaultLoc: cfg.DefaultLocation, lateness: cfg.Lateness,
		batchMin: cfg.BatchMin, batchMax: cfg.BatchMax,
		wake: make(chan struct{}, 1), freed: make(chan struct{}, 1),
		entropy: ulid.Monotonic(rand.Reader, 0),
		jitter:  randFloat,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.workers <= 0 {
		e.workers = 4
	}
	if e.maxAttempts <= 0 {
		e.maxAttempts = 8
	}
	if e.shutdownWait <= 0 {
		e.shutdownWait = 20 * time.Second
	}
	e.claimLimit = e.workers
	if e.batchMax <= 1 || e.batchMax > 100 {
		e.batchMax = 100
	}
	if e.defaultLoc == nil {
		e.defaultLoc = time.UTC
	}
	if e.metrics == nil {
		e.metrics = nopMetrics{}
	}
	return e
}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.now().UTC() }

// Testing reports whether TESTING_MODE timings are in use.
func (e *Engine) Testing() bool { return e.testing }

// OutboxMode reports whether emails are recorded instead of sent.
func (e *Engine) OutboxMode() bool { return e.sender == nil }

// DB returns the store.
func (e *Engine) DB() *store.DB { return e.db }

// NewID returns a new sortable id.
func (e *Engine) NewID() string {
	e.idMu.Lock()
	defer e.idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), e.entropy).String()
}

// Start plans a flow's emails and stores the run and its steps in one
// transaction. It implements Trigger for the embedded backend.
func (e *Engine) Start(ctx context.Context, req StartRequest) (Result, error) {
	f, ok := flows.ByName(req.Flow)
	if !ok {
		return Result{}, fmt.Errorf("%w: %s", ErrUnknownFlow, req.Flow)
	}
	params, err := json.Marshal(req.Params)
	if err != nil {
		return Result{}, fmt.Errorf("encode params: %w", err)
	}
	now := e.Now()
	run := store.Run{
		ID: e.NewID(), Flow: f.Name, Email: req.Email, DedupeKey: req.DedupeKey,
		CreatedAt: now, Params: params, Backend: "embedded", Source: req.Source,
	}
	anchor := now
	if f.Anchor == flows.BeforeMeeting {
		anchor = req.Meeting.UTC()
	}
	// An address that unsubscribed still gets its run recorded, with every
	// marketing email cancelled, so the queue shows why nothing was sent.
	suppressed := !f.Transactional && e.suppressed != nil && e.suppressed(req.Email)
	lateness := f.MaxLateness
	if d, ok := e.lateness[f.Name]; ok {
		lateness = d
	}
	var steps []store.Step
	for _, p := range f.Plan(anchor, now, e.testing, req.Segment) {
		s := store.Step{
			ID: flows.StepID(run.ID, p.Number), RunID: run.ID, Flow: f.Name,
			Email: req.Email, Template: p.Template, EmailNumber: p.Number,
			DueAt: e.inWindow(f.Name, p.DueAt, req.Params), Status: store.StatusPlanned,
			Transactional: f.Transactional, MaxLateness: store.Duration(lateness),
			CreatedAt: now, UpdatedAt: now,
		}
		if suppressed {
			s.Status, s.CancelReason = store.StatusCancelled, "unsubscribed"
			s.History = []store.Event{{At: now, Action: "cancelled", By: "suppression list", Reason: "unsubscribed"}}
		}
		steps = append(steps, s)
	}
	in := store.Intake{Run: run, Steps: steps}
	if e.tracker != nil {
		in.Outbox = e.tracker.Started(run, steps)
	}
	got, dup, err := e.db.CreateRun(in)
	if err != nil {
		return Result{}, fmt.Errorf("store run: %w", err)
	}
	if dup {
		existing, err := e.db.StepsByRun(got.ID)
		if err != nil {
			return Result{}, fmt.Errorf("read duplicate run: %w", err)
		}
		return Result{RunID: got.ID, Duplicate: true, Steps: existing, Backend: "embedded"}, nil
	}
	e.Wake()
	if len(in.Outbox) > 0 && e.outboxFn != nil {
		e.outboxFn()
	}
	e.log.InfoContext(ctx, "run planned", "run_id", run.ID, "flow", f.Name,
		"email", MaskEmail(req.Email), "steps", len(steps))
	return Result{RunID: run.ID, Steps: steps, Backend: "embedded"}, nil
}

// inWindow moves a due time into the flow's send window, if it has one.
func (e *Engine) inWindow(flow string, due time.Time, params map[string]any) time.Time {
	w, ok := e.windows[flow]
	if !ok {
		return due
	}
	loc := e.defaultLoc
	if tz, _ := params["time_zone"].(string); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	return w.Next(due, loc)
}

// Wake makes the scheduler look at the due index again, for example after
// a step was planned earlier than everything before it.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
