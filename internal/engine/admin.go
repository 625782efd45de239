package engine

import (
	"fmt"
	"slices"
	"time"

	"perfect/store"
)

// Requeue plans a step again, due now. It is allowed only from the given
// statuses: retry takes failed steps, send-now planned or failed ones. A
// failed step is rendered again, so a fixed template takes effect.
func (e *Engine) Requeue(id, by, action string, now time.Time, from ...store.Status) (store.Step, error) {
	s, err := e.db.Update(id, func(s *store.Step) error {
		if !slices.Contains(from, s.Status) {
			return fmt.Errorf("step %s is %s, %s needs %v: %w", id, s.Status, action, from, store.ErrConflict)
		}
		if s.Status == store.StatusFailed {
			s.Attempts, s.Rendered = 0, nil
		}
		s.Status, s.DueAt, s.UpdatedAt = store.StatusPlanned, now, now
		s.History = append(s.History, store.Event{At: now, Action: action, By: by})
		return nil
	})
	if err == nil {
		e.Wake()
	}
	return s, err
}

// Reschedule moves a planned or failed step to a new due time.
func (e *Engine) Reschedule(id, by string, at, now time.Time) (store.Step, error) {
	s, err := e.db.Update(id, func(s *store.Step) error {
		if s.Status != store.StatusPlanned && s.Status != store.StatusFailed {
			return fmt.Errorf("step %s is %s, only planned or failed steps can be rescheduled: %w",
				id, s.Status, store.ErrConflict)
		}
		if s.Status == store.StatusFailed {
			s.Attempts, s.Rendered = 0, nil
		}
		// A time in the past means "now": a person asking for it does not
		// want the step expired for lateness.
		at = at.UTC()
		if at.Before(now) {
			at = now
		}
		s.Status, s.DueAt, s.UpdatedAt = store.StatusPlanned, at, now
		s.History = append(s.History, store.Event{At: now, Action: "rescheduled", By: by,
			Reason: "to " + at.Format(time.RFC3339)})
		return nil
	})
	if err == nil {
		e.Wake()
	}
	return s, err
}
