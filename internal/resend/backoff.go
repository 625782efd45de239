package resend

import "time"

// Backoff parameters. The base doubles per attempt up to the cap, and the
// result is spread ±20% so retries of many steps do not arrive together.
const (
	backoffBase   = 30 * time.Second
	backoffCap    = time.Hour
	backoffSpread = 0.2
	// quotaSpread spreads retries after a quota reset over a few minutes.
	quotaSpread = 10 * time.Minute
)

// Backoff returns how long to wait after failed attempt n (n ≥ 1) before
// attempt n+1. Retryable and RateLimited errors wait 30s·2^(n-1), capped at
// one hour, times a factor in [0.8, 1.2) drawn from jitter (a source of
// [0, 1) numbers such as rand.Float64; nil means no jitter). Quota errors
// wait until the next UTC midnight plus up to ten jittered minutes. The
// result is never less than e.RetryAfter.
func Backoff(e *Error, attempt int, now time.Time, jitter func() float64) time.Duration {
	j := 0.5
	if jitter != nil {
		j = min(max(jitter(), 0), 1)
	}

	var d time.Duration
	if e != nil && e.Kind == Quota {
		d = untilNextUTCMidnight(now) + time.Duration(j*float64(quotaSpread))
	} else {
		factor := 1 - backoffSpread + 2*backoffSpread*j
		d = time.Duration(float64(exponential(attempt)) * factor)
	}

	if e != nil && d < e.RetryAfter {
		d = e.RetryAfter
	}
	return d
}

// exponential returns backoffBase·2^(attempt-1), capped at backoffCap.
func exponential(attempt int) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffCap; i++ {
		d *= 2
	}
	return min(d, backoffCap)
}

// untilNextUTCMidnight returns the time left in now's UTC day.
func untilNextUTCMidnight(now time.Time) time.Duration {
	u := now.UTC()
	next := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
	return next.Sub(u)
}
