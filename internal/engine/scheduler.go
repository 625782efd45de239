package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"perfect/store"
)

// idleWait is how long the loop sleeps when nothing is planned. A new plan
// wakes it at once; the timer only guards against a lost wake-up.
const idleWait = time.Minute

func randFloat() float64 { return rand.Float64() }

// Run rescues steps a crash left in sending, then sends every step when it
// is due until ctx ends. On return, no send is in flight: sends still
// running after the shutdown wait are cancelled and their steps released.
func (e *Engine) Run(ctx context.Context) error {
	rescued, err := e.db.RescueSending(e.Now())
	if err != nil {
		return err
	}
	for _, s := range rescued {
		e.log.WarnContext(ctx, "step rescued after restart", "step_id", s.ID, "attempt", s.Attempts)
	}

	// Sends get their own context, cancelled only when the shutdown wait is
	// over, so a SIGTERM lets in-flight requests finish.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	var wg sync.WaitGroup
	var busy atomic.Int64

	for ctx.Err() == nil {
		free := e.workers - int(busy.Load())
		if free <= 0 {
			e.waitFor(ctx, nil, e.freed)
			continue
		}
		next, ok := e.db.NextDue()
		now := e.Now()
		if !ok || next.After(now) {
			e.waitFor(ctx, e.timerUntil(next, ok, now), e.wake)
			continue
		}
		claims, err := e.db.ClaimNext(now, e.claimOptions(free))
		if err != nil {
			e.log.ErrorContext(ctx, "claim due steps", "err", err)
			e.waitFor(ctx, time.After(time.Second), nil)
			continue
		}
		for _, c := range claims {
			busy.Add(1)
			wg.Add(1)
			go func(c store.Claim) {
				defer wg.Done()
				defer func() {
					busy.Add(-1)
					select {
					case e.freed <- struct{}{}:
					default:
					}
				}()
				if c.BatchID != "" {
					e.dispatchBatch(sendCtx, c)
					return
				}
				e.dispatch(sendCtx, c.Steps[0])
			}(c)
		}
	}
	return e.drain(&wg, cancelSends)
}

func (e *Engine) claimOptions(free int) store.ClaimOptions {
	o := store.ClaimOptions{Max: free}
	if _, ok := e.sender.(BatchSender); ok && e.batchMin > 0 {
		o.BatchMin, o.BatchMax, o.NewID = e.batchMin, e.batchMax, e.NewID
	}
	return o
}

func (e *Engine) timerUntil(next time.Time, ok bool, now time.Time) <-chan time.Time {
	d := idleWait
	if ok {
		d = min(next.Sub(now), idleWait)
	}
	return e.after(d)
}

// after is time.After on the engine's clock. A scaled test clock runs
// faster than real time, so real waits are shortened to match.
func (e *Engine) after(d time.Duration) <-chan time.Time {
	if e.speed > 1 {
		d = time.Duration(float64(d) / e.speed)
	}
	return time.After(max(d, time.Millisecond))
}

func (e *Engine) waitFor(ctx context.Context, timer <-chan time.Time, ch <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-timer:
	case <-ch:
	}
}

// drain waits for in-flight sends, cancelling them after the shutdown wait.
func (e *Engine) drain(wg *sync.WaitGroup, cancel context.CancelFunc) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(e.shutdownWait):
		e.log.Warn("shutdown wait over, cancelling in-flight sends")
		cancel()
		<-done
		return errors.New("in-flight sends cancelled at shutdown")
	}
}
