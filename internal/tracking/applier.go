package tracking

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"perfect/internal/engine"
	"perfect/internal/notion"
	"perfect/store"
)

// Applier applies the Notion ops of the outbox through c. Its errors tell
// the engine's drainer what to do: a *engine.PermanentError parks the item
// (an invalid op, a refused write, a database that is not configured); a
// 429, 503 or 529 carries Notion's Retry-After; anything else is retried
// with backoff.
func Applier(c *notion.Client) engine.Applier {
	return func(ctx context.Context, it store.OutboxItem) error {
		kind, ok := strings.CutPrefix(it.Kind, KindPrefix)
		if !ok {
			return &engine.PermanentError{Err: fmt.Errorf("apply %s: not a notion op", it.Kind)}
		}
		op, err := notion.Decode(kind, it.Payload)
		if err != nil {
			return &engine.PermanentError{Err: err}
		}
		return classify(ctx, c.Apply(ctx, op))
	}
}

// classify maps a notion error onto the outbox's error kinds.
func classify(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		// Shutting down: the item stays queued as it is.
		return err
	case !notion.Retryable(err):
		return &engine.PermanentError{Err: err}
	}
	var ne *notion.Error
	if errors.As(err, &ne) && asksToWait(ne.Status) {
		return &waitError{err: err, wait: notion.RetryAfter(err)}
	}
	return err
}

// asksToWait reports the statuses whose answer says "come back later".
func asksToWait(status int) bool {
	return status == 429 || status == 503 || status == 529
}

// waitError is a retryable failure with the wait Notion asked for (0 when
// it named none); it implements engine.RetryAfterError.
type waitError struct {
	err  error
	wait time.Duration
}

func (e *waitError) Error() string { return e.err.Error() }

func (e *waitError) Unwrap() error { return e.err }

// RetryAfter is Notion's Retry-After.
func (e *waitError) RetryAfter() time.Duration { return e.wait }
