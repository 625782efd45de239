package notion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"perfect/store"
)

// Outbox is the durable queue of tracking writes, kept by the store.
type Outbox interface {
	// Due returns up to limit items whose NextAt is not after now.
	Due(now time.Time, limit int) ([]store.OutboxItem, error)
	// Done removes an applied item.
	Done(id string) error
	// Retry records a failed attempt and makes the item due again at next.
	Retry(id string, next time.Time, lastErr string) error
	// Park keeps an item that can never succeed by itself, visible and not
	// retried automatically.
	Park(id string, lastErr string) error
}

// Drainer defaults.
const (
	DefaultDrainInterval = 5 * time.Second
	DefaultDrainBatch    = 25
	DefaultMaxAge        = 72 * time.Hour
	DefaultItemTimeout   = 5 * time.Minute
)

// Backoff bounds of failed items.
const (
	backoffBase = 5 * time.Second
	backoffCap  = 30 * time.Minute
)

// Drainer applies due outbox items to Notion, one at a time and in the
// order the outbox gives them. An applied item is Done. A permanent failure
// (validation, 401/403/404, missing configuration) parks the item. A
// retryable one schedules the item again with exponential backoff and
// jitter, never sooner than Notion's Retry-After; when the failure is
// Notion's as a whole (429, 5xx, network) the pass stops and the drainer
// holds off every item for the same backoff, so an outage of hours costs
// one request per backoff step, and every item lands when Notion returns.
type Drainer struct {
	c      *Client
	ob     Outbox
	logger *slog.Logger
	now    func() time.Time

	// Interval is the longest pause between passes of Run.
	Interval time.Duration
	// Batch is the most items one pass reads.
	Batch int
	// MaxAge parks an item that still fails, retryably, this long after
	// it was queued, so it is shown to a person instead of retried forever.
	MaxAge time.Duration
	// ItemTimeout bounds one Apply.
	ItemTimeout time.Duration
	// Jitter returns a number in [0, 1); tests fix it.
	Jitter func() float64

	wake chan struct{}
	pass sync.Mutex

	// Guarded by pass.
	holdUntil time.Time
	failures  int
}

// NewDrainer builds a drainer of ob through c. now is the clock for due
// times and backoff (time.Now when nil).
func NewDrainer(c *Client, ob Outbox, logger *slog.Logger, now func() time.Time) *Drainer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Drainer{
		c: c, ob: ob, logger: logger, now: now,
		Interval:    DefaultDrainInterval,
		Batch:       DefaultDrainBatch,
		MaxAge:      DefaultMaxAge,
		ItemTimeout: DefaultItemTimeout,
		Jitter:      rand.Float64,
		wake:        make(chan struct{}, 1),
	}
}

// Wake asks Run for a pass now, typically after queuing an item.
func (d *Drainer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run drains until ctx ends: a pass on every Wake, and at least every
// Interval. A full batch is followed at once by another pass.
func (d *Drainer) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		}

		n, err := d.DrainOnce(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			d.logger.ErrorContext(ctx, "notion outbox pass failed", slog.Any("error", err))
		}
		next := d.Interval
		if n >= d.Batch {
			next = 0
		}
		timer.Reset(next)
	}
}

// DrainOnce makes one pass over the due items and returns how many were
// applied. Notion's failures are handled (retried or parked) and logged,
// not returned; the error reports a failing outbox or a cancelled context.
// A pass already running elsewhere, or a hold after a Notion-wide failure,
// makes it return (0, nil) at once.
func (d *Drainer) DrainOnce(ctx context.Context) (int, error) {
	if !d.pass.TryLock() {
		return 0, nil
	}
	defer d.pass.Unlock()

	if d.now().Before(d.holdUntil) {
		return 0, nil
	}
	items, err := d.ob.Due(d.now(), d.Batch)
	if err != nil {
		return 0, fmt.Errorf("read due outbox items: %w", err)
	}

	applied := 0
	for _, item := range items {
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		ok, stop, err := d.handle(ctx, item)
		if err != nil {
			return applied, err
		}
		if ok {
			applied++
		}
		if stop {
			break
		}
	}
	if applied > 0 {
		d.logger.InfoContext(ctx, "notion outbox drained", slog.Int("applied", applied))
	}
	return applied, nil
}

// handle applies one item. ok says it was applied; stop ends the pass.
func (d *Drainer) handle(ctx context.Context, item store.OutboxItem) (ok, stop bool, err error) {
	op, err := Decode(item.Kind, item.Payload)
	if err != nil {
		return false, false, d.park(ctx, item, err)
	}

	itemCtx, cancel := context.WithTimeout(ctx, d.ItemTimeout)
	applyErr := d.c.Apply(itemCtx, op)
	cancel()
	if applyErr == nil {
		d.failures = 0
		if err := d.ob.Done(item.ID); err != nil {
			return true, false, fmt.Errorf("mark outbox item %s done: %w", item.ID, err)
		}
		return true, false, nil
	}

	switch {
	case ctx.Err() != nil:
		// Shutting down: the item stays due, untouched.
		return false, true, ctx.Err()
	case !Retryable(applyErr):
		return false, false, d.park(ctx, item, applyErr)
	case d.MaxAge > 0 && d.now().Sub(item.CreatedAt) > d.MaxAge:
		return false, false, d.park(ctx, item, fmt.Errorf("still failing after %s: %w", d.MaxAge, applyErr))
	}
	return false, notionWide(applyErr), d.retry(ctx, item, applyErr)
}

func (d *Drainer) retry(ctx context.Context, item store.OutboxItem, cause error) error {
	now := d.now()
	wait := Backoff(item.Attempts+1, RetryAfter(cause), d.Jitter())
	if notionWide(cause) {
		d.failures++
		d.holdUntil = now.Add(Backoff(d.failures, RetryAfter(cause), d.Jitter()))
	}
	d.logger.WarnContext(ctx, "notion write failed, retry scheduled",
		slog.String("outbox_id", item.ID), slog.String("kind", item.Kind),
		slog.Int("attempt", item.Attempts+1), slog.Duration("wait", wait), slog.Any("error", cause))
	if err := d.ob.Retry(item.ID, now.Add(wait), cause.Error()); err != nil {
		return fmt.Errorf("reschedule outbox item %s: %w", item.ID, err)
	}
	return nil
}

func (d *Drainer) park(ctx context.Context, item store.OutboxItem, cause error) error {
	d.logger.ErrorContext(ctx, "notion write parked", slog.String("outbox_id", item.ID),
		slog.String("kind", item.Kind), slog.Int("attempt", item.Attempts+1), slog.Any("error", cause))
	if err := d.ob.Park(item.ID, cause.Error()); err != nil {
		return fmt.Errorf("park outbox item %s: %w", item.ID, err)
	}
	return nil
}

// notionWide reports a failure of Notion as a whole rather than of one
// write: rate limits, overload, server errors and unreachable network.
func notionWide(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == 0 || e.Status == 429 || e.Status >= 500
}

// Backoff returns the wait before attempt+1 of a write that failed attempt
// times: 5 s doubling to at most 30 min, plus up to 20% jitter (jitter in
// [0, 1)), and never less than retryAfter.
func Backoff(attempt int, retryAfter time.Duration, jitter float64) time.Duration {
	d := backoffCap
	if shift := attempt - 1; shift < 20 {
		d = min(backoffCap, backoffBase<<max(0, shift))
	}
	d += time.Duration(float64(d) * 0.2 * jitter)
	return max(d, retryAfter)
}
