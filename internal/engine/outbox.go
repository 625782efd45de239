package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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

// Outbox applies stored tracking writes in order, one at a time, retrying
// with backoff, so an outage of the tracker delays rows but loses none.
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

	wake chan struct{}
}

// NewOutbox returns a drainer; call Run.
func NewOutbox(o Outbox) *Outbox {
	o.wake = make(chan struct{}, 1)
	if o.Jitter == nil {
		o.Jitter = randFloat
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
		wait := 30 * time.Second
		if next, ok := o.DB.NextOutbox(); ok {
			wait = min(max(next.Sub(o.Now()), 10*time.Millisecond), wait)
		}
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

// DrainOnce applies the items due now; it returns how many it handled.
func (o *Outbox) DrainOnce(ctx context.Context) (int, error) {
	items, err := o.DB.DueOutbox(o.Now(), 50)
	if err != nil {
		return 0, err
	}
	for i, it := range items {
		if ctx.Err() != nil {
			return i, nil
		}
		if err := o.applyOne(ctx, it); err != nil {
			return i, err
		}
	}
	return len(items), nil
}

func (o *Outbox) applyOne(ctx context.Context, it store.OutboxItem) error {
	apply := o.applier(it.Kind)
	if apply == nil {
		return o.DB.ParkOutbox(it.ID, "no applier for kind "+it.Kind)
	}
	err := apply(ctx, it)
	if err == nil {
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
	o.Log.WarnContext(ctx, "outbox item will be retried", "outbox_id", it.ID, "kind", it.Kind,
		"attempt", it.Attempts+1, "wait", wait.String(), "err", err)
	return o.DB.RetryOutbox(it.ID, o.Now().Add(wait), err.Error())
}

func (o *Outbox) applier(kind string) Applier {
	for prefix, a := range o.Appliers {
		if kind == prefix || strings.HasPrefix(kind, prefix) {
			return a
		}
	}
	return nil
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
	var ra RetryAfterError
	if errors.As(err, &ra) {
		wait = max(wait, ra.RetryAfter())
	}
	return false, wait
}
