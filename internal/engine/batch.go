package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"perfect/store"
)

// BatchSender sends up to 100 messages in one provider call, under one
// idempotency key for the whole batch.
type BatchSender interface {
	SendBatch(ctx context.Context, msgs []Message, idempotencyKey string) ([]string, error)
}

// batchItem is a prepared member of a batch.
type batchItem struct {
	step store.Step
	run  store.Run
}

// batchKey is the Resend idempotency key of a batch.
func batchKey(id string) string { return "batch-" + id }

// dispatchBatch sends the steps of one claim in a single batch call. A
// batch the provider refuses is sent again one step at a time, each under
// its own key; a retryable failure puts the whole batch back, to be re-sent
// with the same members and key.
func (e *Engine) dispatchBatch(ctx context.Context, c store.Claim) {
	log := e.log.With("batch_id", c.BatchID, "steps", len(c.Steps))
	var ready []batchItem
	for _, s := range c.Steps {
		run, s, ok := e.prepare(ctx, e.stepLog(s), s)
		if ok {
			ready = append(ready, batchItem{s, run})
		}
	}
	if len(ready) == 0 {
		return
	}
	bs, ok := e.sender.(BatchSender)
	if !ok || len(ready) == 1 {
		for _, it := range ready {
			e.sendOne(ctx, e.stepLog(it.step), it.step, it.run)
		}
		return
	}
	// Members go in step order, however they were claimed, so that a
	// re-sent batch has the same body under its key as the first try.
	slices.SortFunc(ready, func(a, b batchItem) int { return strings.Compare(a.step.ID, b.step.ID) })
	msgs := make([]Message, len(ready))
	for i, it := range ready {
		msgs[i] = message(it.step)
	}
	ids, err := bs.SendBatch(ctx, msgs, batchKey(c.BatchID))
	now := e.Now()
	switch {
	case err == nil && len(ids) == len(ready):
		e.finishBatch(ctx, log, ready, ids)
	case ctx.Err() != nil:
		for _, it := range ready {
			e.release(e.stepLog(it.step), it.step)
		}
	default:
		if err == nil {
			err = fmt.Errorf("batch answer has %d ids for %d emails", len(ids), len(ready))
		}
		f := e.classify(err, ready[0].step.Attempts, now)
		for _, it := range ready {
			e.metrics.Attempt(it.step.Flow, "batch_"+f.Kind)
		}
		if !f.Permanent && ready[0].step.Attempts < e.maxAttempts {
			e.retryBatch(ctx, log, c.BatchID, ready, f)
			return
		}
		log.WarnContext(ctx, "batch refused, sending one by one", "reason", truncate(f.Reason, 200))
		for _, it := range ready {
			s, err := e.db.Update(it.step.ID, func(st *store.Step) error {
				st.BatchID = ""
				st.History = append(st.History, store.Event{At: now, Action: "unbatched", Reason: truncate(f.Reason, 200)})
				return nil
			})
			if err != nil {
				e.log.ErrorContext(ctx, "leave batch", "step_id", it.step.ID, "err", err)
				continue
			}
			e.sendOne(ctx, e.stepLog(s), s, it.run)
		}
	}
}

// finishBatch records every member of an accepted batch as sent, with its
// tracking, in one transaction: a crash leaves the batch either all
// sending, to be re-sent whole under its key, or all sent.
func (e *Engine) finishBatch(ctx context.Context, log *slog.Logger, ready []batchItem, ids []string) {
	now := e.Now()
	stepIDs := make([]string, len(ready))
	provider := make(map[string]string, len(ready))
	var items []store.OutboxItem
	for i, it := range ready {
		stepIDs[i], provider[it.step.ID] = it.step.ID, ids[i]
		if e.tracker != nil {
			s := it.step
			s.Status, s.ProviderID = store.StatusSent, ids[i]
			items = append(items, e.tracker.Attempted(it.run, s, now, nil)...)
		}
	}
	steps, err := e.db.UpdateMany(stepIDs, func(s *store.Step) error {
		t := now
		s.Status, s.UpdatedAt, s.ClaimedAt = store.StatusSent, now, nil
		s.SentAt, s.ProviderID, s.LastError = &t, provider[s.ID], ""
		return nil
	}, items...)
	if err != nil {
		e.log.ErrorContext(ctx, "record batch sent", "batch_id", ready[0].step.BatchID, "err", err)
		return
	}
	if len(items) > 0 {
		e.trackedHook()
	}
	for _, s := range steps {
		e.metrics.Attempt(s.Flow, "sent")
		e.metrics.Step(s.Flow, string(store.StatusSent))
		e.stepLog(s).InfoContext(ctx, "step sent", "provider_id", s.ProviderID)
	}
	log.InfoContext(ctx, "batch sent")
}

// retryBatch puts every member back at one due time, keeping the batch.
// Each member's failed attempt gets its analytics row in the same
// transaction.
func (e *Engine) retryBatch(ctx context.Context, log *slog.Logger, batchID string, ready []batchItem, f Failure) {
	now := e.Now()
	next := now.Add(f.Wait)
	ids := make([]string, len(ready))
	var items []store.OutboxItem
	for i, it := range ready {
		ids[i] = it.step.ID
		if e.tracker != nil {
			items = append(items, e.tracker.Attempted(it.run, it.step, now, errors.New(f.Reason))...)
		}
	}
	_, err := e.db.UpdateMany(ids, func(st *store.Step) error {
		st.Status, st.DueAt, st.UpdatedAt, st.ClaimedAt = store.StatusPlanned, next, now, nil
		st.LastError = f.Reason
		return nil
	}, items...)
	if err != nil {
		e.log.ErrorContext(ctx, "record batch retry", "batch_id", batchID, "err", err)
		return
	}
	if len(items) > 0 {
		e.trackedHook()
	}
	log.WarnContext(ctx, "batch will be retried", "kind", f.Kind, "retry_at", next.Format(time.RFC3339),
		"reason", truncate(f.Reason, 200))
}
