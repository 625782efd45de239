package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"perfect/store"
)

// Applier performs one outbox item against its external service.
type Applier func(ctx context.Context, it store.OutboxItem) error

// PermanentError marks an outbox failure that retrying will not fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RetryAfterError carries a wait the service asked for.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// Outbox pass limits.
const (
	// outboxBatch is the most items one pass applies.
	outboxBatch = 50
	// outboxScan is the most due items one pass reads, so that items of a
	// service that works are found behind those of one on hold.
	outboxScan = 1000
	// outboxIdle is the longest pause between passes.
	outboxIdle = 30 * time.Second
)

// Hold bounds: after a retryable failure a service is left alone for
// holdBase, doubling with each failure in a row up to holdCap, and never
// less than the Retry-After it asked for.
const (
	holdBase = 5 * time.Second
	holdCap  = 5 * time.Minute
)

// Outbox applies stored tracking writes in order, one at a time, retrying
// with backoff, so an outage of the tracker delays rows but loses none.
//
// Items are grouped by the applier prefix of their kind ("notion.",
// "discord"). A retryable failure puts that service on hold: the failed item
// is rescheduled with its own backoff, and the other items of the same
// prefix are left untouched until the hold ends, while items of other
// services go on. During an outage each hold therefore costs one attempt,
// not one per queued item.
type Outbox struct {
	DB    *store.DB
	Log   *slog.Logger
	Now   func() time.Time
	Speed float64
	// Appliers by item kind prefix ("notion.", "discord").
	Appliers map[string]Applier
	// Classify reports whether an error is permanent and how long to wait.
	Classify func(err error) (permanent bool, wait time.Duration)
	Jitter   func() float64

	wake  chan struct{}
	holds *holds
}

// holds are the services on hold, by applier prefix.
type holds struct {
	mu sync.Mutex
	by map[string]hold
}

// hold is a service left alone after a retryable failure.
type hold struct {
	until    time.Time
	failures int // retryable failures in a row
}

// NewOutbox returns a drainer; call Run.
func NewOutbox(o Outbox) *Outbox {
	o.wake = make(chan struct{}, 1)
	o.holds = &holds{by: map[string]hold{}}
	if o.Jitter == nil {
		o.Jitter = randFloat
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &o
}

// Wake makes the drainer look for due items now.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run drains until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := o.DrainOnce(ctx)
		if err != nil && ctx.Err() == nil {
			o.Log.ErrorContext(ctx, "outbox drain", "err", err)
		}
		if n > 0 {
			continue
		}
		wait := o.idleWait()
		if o.Speed > 1 {
			wait = time.Duration(float64(wait) / o.Speed)
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-time.After(wait):
		}
	}
}

// DrainOnce applies the items due now, skipping those of a service on
// hold; it returns how many it handled (applied, rescheduled or parked).
func (o *Outbox) DrainOnce(ctx context.Context) (int, error) {
	items, err := o.DB.DueOutbox(o.Now(), outboxScan)
	if err != nil {
		return 0, err
	}
	handled := 0
	for _, it := range items {
		if ctx.Err() != nil || handled >= outboxBatch {
			break
		}
		prefix, apply := o.applier(it.Kind)
		if apply != nil && o.held(prefix, o.Now()) {
			continue
		}
		if err := o.applyOne(ctx, it, prefix, apply); err != nil {
			return handled, err
		}
		if ctx.Err() == nil {
			handled++
		}
	}
	return handled, nil
}

func (o *Outbox) applyOne(ctx context.Context, it store.OutboxItem, prefix string, apply Applier) error {
	if apply == nil {
		return o.DB.ParkOutbox(it.ID, "no applier for kind "+it.Kind)
	}
	err := apply(ctx, it)
	if err == nil {
		o.release(prefix)
		return o.DB.DoneOutbox(it.ID)
	}
	if ctx.Err() != nil {
		return nil
	}
	permanent, wait := o.classify(err, it.Attempts+1)
	if permanent {
		o.Log.ErrorContext(ctx, "outbox item parked", "outbox_id", it.ID, "kind", it.Kind, "err", err)
		return o.DB.ParkOutbox(it.ID, err.Error())
	}
	until := o.hold(prefix, retryAfter(err))
	o.Log.WarnContext(ctx, "outbox item will be retried", "outbox_id", it.ID, "kind", it.Kind,
		"attempt", it.Attempts+1, "wait", wait.String(), "service_hold_until", until.Format(time.RFC3339),
		"err", err)
	return o.DB.RetryOutbox(it.ID, o.Now().Add(wait), err.Error())
}

// applier returns the applier of a kind and the prefix it is registered
// under; the longest matching prefix wins.
func (o *Outbox) applier(kind string) (string, Applier) {
	var best string
	var found Applier
	for prefix, a := range o.Appliers {
		if (kind == prefix || strings.HasPrefix(kind, prefix)) && (found == nil || len(prefix) > len(best)) {
			best, found = prefix, a
		}
	}
	return best, found
}

// held reports whether the service of prefix is on hold at now.
func (o *Outbox) held(prefix string, now time.Time) bool {
	return now.Before(o.holdEnd(prefix))
}

// holdEnd is when the hold of prefix ends (zero when there is none).
func (o *Outbox) holdEnd(prefix string) time.Time {
	o.holds.mu.Lock()
	defer o.holds.mu.Unlock()
	return o.holds.by[prefix].until
}

// hold puts the service of prefix on hold after a retryable failure and
// returns when the hold ends.
func (o *Outbox) hold(prefix string, asked time.Duration) time.Time {
	o.holds.mu.Lock()
	defer o.holds.mu.Unlock()
	h := o.holds.by[prefix]
	h.failures++
	d := min(holdBase<<min(h.failures-1, 16), holdCap)
	d = time.Duration(float64(d) * (0.8 + 0.4*o.Jitter()))
	h.until = o.Now().Add(max(d, asked))
	o.holds.by[prefix] = h
	return h.until
}

// release ends the hold of prefix after a success.
func (o *Outbox) release(prefix string) {
	o.holds.mu.Lock()
	defer o.holds.mu.Unlock()
	delete(o.holds.by, prefix)
}

// idleWait is how long Run may sleep: until the next item is due, or its
// service's hold ends, and at most outboxIdle. A Wake cuts it short.
func (o *Outbox) idleWait() time.Duration {
	now := o.Now()
	items, err := o.DB.DueOutbox(now.Add(outboxIdle), outboxScan)
	if err != nil {
		return time.Second
	}
	wait := outboxIdle
	for _, it := range items {
		at := it.NextAt
		if prefix, apply := o.applier(it.Kind); apply != nil {
			if end := o.holdEnd(prefix); end.After(at) {
				at = end
			}
		}
		wait = min(wait, at.Sub(now))
	}
	return max(wait, 10*time.Millisecond)
}

func (o *Outbox) classify(err error, attempt int) (bool, time.Duration) {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true, 0
	}
	wait := backoff(attempt, o.Jitter)
	if o.Classify != nil {
		var permanent bool
		var w time.Duration
		if permanent, w = o.Classify(err); permanent {
			return true, 0
		}
		wait = max(wait, w)
	}
	return false, max(wait, retryAfter(err))
}

// retryAfter returns the wait err asks for, or 0.
func retryAfter(err error) time.Duration {
	var ra RetryAfterError
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}
