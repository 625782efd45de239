package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"perfect/store"
)

// Message is one email handed to a Sender.
type Message struct {
	From, To, ReplyTo   string
	Subject, HTML, Text string
	Headers             map[string]string
	IdempotencyKey      string
}

// Sender delivers one message with exactly one provider call.
type Sender interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// Failure is what the engine needs to know about a failed send.
type Failure struct {
	// Permanent failures are not retried.
	Permanent bool
	// Wait is how long to wait before the next attempt.
	Wait time.Duration
	// Kind labels the failure for metrics: rate_limited, quota, server, network, rejected.
	Kind   string
	Reason string
}

// Classifier turns a send error into a Failure; attempt counts from 1.
type Classifier func(err error, attempt int, now time.Time) Failure

// errShutdown marks a send interrupted by shutdown.
var errShutdown = errors.New("interrupted by shutdown")

// dispatch sends one claimed step and records the outcome.
func (e *Engine) dispatch(ctx context.Context, s store.Step) {
	log := e.stepLog(s)
	run, s, ok := e.prepare(ctx, log, s)
	if !ok {
		return
	}
	e.sendOne(ctx, log, s, run)
}

func (e *Engine) stepLog(s store.Step) *slog.Logger {
	return e.log.With("step_id", s.ID, "flow", s.Flow, "template", s.Template, "attempt", s.Attempts)
}

// prepare runs the checks before a send (lateness, suppression) and
// renders the step once; ok is false when the step needs no send now.
func (e *Engine) prepare(ctx context.Context, log *slog.Logger, s store.Step) (store.Run, store.Step, bool) {
	start := e.Now()
	if s.Attempts == 1 {
		e.metrics.Lateness(s.Flow, start.Sub(s.DueAt))
	}
	if e.expired(s, start) {
		e.finish(ctx, log, s.ID, store.StatusExpired, "", fmt.Sprintf(
			"not sent: due %s, more than %s late", s.DueAt.Format(time.RFC3339), time.Duration(s.MaxLateness)), nil)
		return store.Run{}, s, false
	}
	run, err := e.db.GetRun(s.RunID)
	if err != nil {
		e.fail(ctx, log, s, fmt.Errorf("read run: %w", err))
		return run, s, false
	}
	if blocked, why := e.blocked(s); blocked {
		e.finish(ctx, log, s.ID, store.StatusCancelled, "", why, nil)
		return run, s, false
	}
	if s.Rendered != nil {
		return run, s, true
	}
	r, err := e.render.Render(ctx, run, s, start)
	if err != nil {
		e.retry(ctx, log, s, nil, Failure{Wait: e.renderWait(s.Attempts), Kind: "template", Reason: err.Error()})
		return run, s, false
	}
	saved, err := e.db.Update(s.ID, func(st *store.Step) error {
		st.Rendered = r
		return nil
	})
	if err != nil {
		e.retry(ctx, log, s, nil, Failure{Wait: time.Second, Kind: "store", Reason: err.Error()})
		return run, s, false
	}
	return run, saved, true
}

// sendOne makes the provider call for one prepared step.
func (e *Engine) sendOne(ctx context.Context, log *slog.Logger, s store.Step, run store.Run) {
	if e.sender == nil {
		e.finish(ctx, log, s.ID, store.StatusOutbox, "", "", &run)
		return
	}
	id, err := e.sender.Send(ctx, message(s))
	switch {
	case err == nil:
		e.metrics.Attempt(s.Flow, "sent")
		e.finish(ctx, log, s.ID, store.StatusSent, id, "", &run)
	case ctx.Err() != nil:
		e.release(log, s)
	default:
		f := e.classify(err, s.Attempts, e.Now())
		e.metrics.Attempt(s.Flow, f.Kind)
		if f.Permanent || s.Attempts >= e.maxAttempts {
			e.failed(ctx, log, s, &run, f.Reason)
			return
		}
		e.retry(ctx, log, s, &run, f)
	}
}

func message(s store.Step) Message {
	r := s.Rendered
	return Message{
		From: r.From, To: r.To, ReplyTo: r.ReplyTo, Subject: r.Subject,
		HTML: r.HTML, Text: r.Text, Headers: r.Headers, IdempotencyKey: s.ID,
	}
}

func (e *Engine) classify(err error, attempt int, now time.Time) Failure {
	if e.classifier != nil {
		return e.classifier(err, attempt, now)
	}
	return Failure{Wait: backoff(attempt, e.jitter), Kind: "error", Reason: err.Error()}
}

// backoff is the default retry wait: 30 s doubling per attempt, capped at an
// hour, with ±20% jitter.
func backoff(attempt int, jitter func() float64) time.Duration {
	d := 30 * time.Second << min(max(attempt-1, 0), 7)
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*jitter()))
}

func (e *Engine) renderWait(attempt int) time.Duration { return backoff(attempt, e.jitter) }

// expired reports whether a first attempt comes too late to be useful.
func (e *Engine) expired(s store.Step, now time.Time) bool {
	return !s.Transactional && s.MaxLateness > 0 && s.Attempts == 1 &&
		now.Sub(s.DueAt) > time.Duration(s.MaxLateness)
}

// blocked reports whether the recipient must not receive the step.
func (e *Engine) blocked(s store.Step) (bool, string) {
	if s.Transactional || e.suppressed == nil {
		return false, ""
	}
	if e.suppressed(s.Email) {
		return true, "unsubscribed"
	}
	return false, ""
}

// finish records a final outcome: sent, outbox, expired or cancelled. The
// step and its tracking rows are committed in one transaction.
func (e *Engine) finish(ctx context.Context, log *slog.Logger, id string, st store.Status, providerID, reason string, run *store.Run) {
	now := e.Now()
	tracked := false
	s, err := e.db.UpdateTracked(id, func(s *store.Step) ([]store.OutboxItem, error) {
		s.Status, s.UpdatedAt, s.ClaimedAt = st, now, nil
		switch st {
		case store.StatusSent, store.StatusOutbox:
			t := now
			s.SentAt, s.ProviderID, s.LastError = &t, providerID, ""
			if run != nil && e.tracker != nil && st == store.StatusSent {
				items := e.tracker.Attempted(*run, *s, now, nil)
				tracked = len(items) > 0
				return items, nil
			}
		default:
			s.CancelReason = reason
			s.History = append(s.History, store.Event{At: now, Action: string(st), Reason: reason})
		}
		return nil, nil
	})
	if err != nil {
		e.log.ErrorContext(ctx, "record step outcome", "step_id", id, "status", st, "err", err)
		return
	}
	if tracked {
		e.trackedHook()
	}
	e.metrics.Step(s.Flow, string(st))
	log.InfoContext(ctx, "step "+string(st), "provider_id", providerID, "reason", reason)
}

func (e *Engine) trackedHook() {
	if e.outboxFn != nil {
		e.outboxFn()
	}
}

// retry puts a step back in the due index after f.Wait.
// A failed provider call (run set) also gets its analytics row, in the
// same transaction.
func (e *Engine) retry(ctx context.Context, log *slog.Logger, s store.Step, run *store.Run, f Failure) {
	now := e.Now()
	next := now.Add(f.Wait)
	tracked := false
	_, err := e.db.UpdateTracked(s.ID, func(st *store.Step) ([]store.OutboxItem, error) {
		var items []store.OutboxItem
		if run != nil && e.tracker != nil {
			items = e.tracker.Attempted(*run, *st, now, errors.New(f.Reason))
			tracked = len(items) > 0
		}
		st.Status, st.DueAt, st.UpdatedAt, st.ClaimedAt = store.StatusPlanned, next, now, nil
		st.LastError = f.Reason
		return items, nil
	})
	if err != nil {
		e.log.ErrorContext(ctx, "record retry", "step_id", s.ID, "err", err)
		return
	}
	if tracked {
		e.trackedHook()
	}
	log.WarnContext(ctx, "send will be retried", "kind", f.Kind, "retry_at", next.Format(time.RFC3339),
		"reason", truncate(f.Reason, 200))
}

// failed records a permanent failure, with its tracking row, in one
// transaction.
func (e *Engine) failed(ctx context.Context, log *slog.Logger, s store.Step, run *store.Run, reason string) {
	now := e.Now()
	tracked := false
	st, err := e.db.UpdateTracked(s.ID, func(st *store.Step) ([]store.OutboxItem, error) {
		st.Status, st.UpdatedAt, st.ClaimedAt, st.LastError = store.StatusFailed, now, nil, reason
		if run != nil && e.tracker != nil {
			items := e.tracker.Attempted(*run, *st, now, errors.New(reason))
			tracked = len(items) > 0
			return items, nil
		}
		return nil, nil
	})
	if err != nil {
		e.log.ErrorContext(ctx, "record failure", "step_id", s.ID, "err", err)
		return
	}
	if tracked {
		e.trackedHook()
	}
	e.metrics.Step(st.Flow, string(store.StatusFailed))
	log.ErrorContext(ctx, "step failed", "reason", truncate(reason, 300))
}

func (e *Engine) fail(ctx context.Context, log *slog.Logger, s store.Step, err error) {
	e.failed(ctx, log, s, nil, err.Error())
}

// release returns a step whose send was cut short by shutdown; the next
// start re-sends it with the same idempotency key.
func (e *Engine) release(log *slog.Logger, s store.Step) {
	now := e.Now()
	_, err := e.db.Update(s.ID, func(st *store.Step) error {
		st.Status, st.UpdatedAt, st.ClaimedAt = store.StatusPlanned, now, nil
		st.LastError = errShutdown.Error()
		return nil
	})
	if err != nil {
		e.log.Error("release step", "step_id", s.ID, "err", err)
		return
	}
	log.Warn("send released at shutdown")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// MaskEmail hides most of an address for logs: "j***@example.com".
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "***"
	}
	return addr[:1] + "***" + addr[at:]
}
