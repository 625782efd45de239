package resend_test

import (
	"testing"
	"time"

	"perfect/internal/resend"
)

func TestBackoff(t *testing.T) {
	noon := time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	fixed := func(v float64) func() float64 { return func() float64 { return v } }
	retryable := &resend.Error{Kind: resend.Retryable, Status: 500}
	quota := &resend.Error{Kind: resend.Quota, Status: 429}

	tests := []struct {
		name    string
		err     *resend.Error
		attempt int
		now     time.Time
		jitter  func() float64
		want    time.Duration
	}{
		{name: "FirstAttempt", err: retryable, attempt: 1, now: noon, jitter: fixed(0.5), want: 30 * time.Second},
		{name: "SecondDoubles", err: retryable, attempt: 2, now: noon, jitter: fixed(0.5), want: time.Minute},
		{name: "FifthAttempt", err: retryable, attempt: 5, now: noon, jitter: fixed(0.5), want: 8 * time.Minute},
		{name: "SeventhBelowCap", err: retryable, attempt: 7, now: noon, jitter: fixed(0.5), want: 32 * time.Minute},
		{name: "EighthCapped", err: retryable, attempt: 8, now: noon, jitter: fixed(0.5), want: time.Hour},
		{name: "HugeAttemptCapped", err: retryable, attempt: 1 << 30, now: noon, jitter: fixed(0.5), want: time.Hour},
		{name: "ZeroAttemptIsFirst", err: retryable, attempt: 0, now: noon, jitter: fixed(0.5), want: 30 * time.Second},
		{name: "NilJitter", err: retryable, attempt: 2, now: noon, want: time.Minute},
		{name: "NilError", attempt: 3, now: noon, jitter: fixed(0.5), want: 2 * time.Minute},
		{name: "JitterLow", err: retryable, attempt: 1, now: noon, jitter: fixed(0), want: 24 * time.Second},
		{name: "JitterHigh", err: retryable, attempt: 1, now: noon, jitter: fixed(1), want: 36 * time.Second},
		{name: "JitterHighAtCap", err: retryable, attempt: 9, now: noon, jitter: fixed(1), want: 72 * time.Minute},
		{name: "JitterOutOfRangeClamped", err: retryable, attempt: 1, now: noon, jitter: fixed(7), want: 36 * time.Second},
		{
			name:    "RetryAfterFloor",
			err:     &resend.Error{Kind: resend.RateLimited, Status: 429, RetryAfter: 5 * time.Minute},
			attempt: 1, now: noon, jitter: fixed(0.5), want: 5 * time.Minute,
		},
		{
			name:    "RetryAfterBelowBackoff",
			err:     &resend.Error{Kind: resend.RateLimited, Status: 429, RetryAfter: time.Second},
			attempt: 2, now: noon, jitter: fixed(0.5), want: time.Minute,
		},
		{name: "QuotaNoJitter", err: quota, attempt: 1, now: noon, jitter: fixed(0), want: 12 * time.Hour},
		{name: "QuotaMaxJitter", err: quota, attempt: 4, now: noon, jitter: fixed(1), want: 12*time.Hour + 10*time.Minute},
		{
			name: "QuotaLateEvening", err: quota, attempt: 1, jitter: fixed(0.5),
			now: time.Date(2025, 12, 31, 23, 59, 30, 0, time.UTC), want: 30*time.Second + 5*time.Minute,
		},
		{
			name: "QuotaAtMidnight", err: quota, attempt: 1, jitter: fixed(0),
			now: time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC), want: 24 * time.Hour,
		},
		{
			// 00:30 in Paris is 23:30 UTC the day before: the UTC day ends in 30 minutes.
			name: "QuotaCountsInUTC", err: quota, attempt: 1, jitter: fixed(0),
			now: time.Date(2025, 12, 2, 0, 30, 0, 0, paris), want: 30 * time.Minute,
		},
		{
			name:    "QuotaRetryAfterFloor",
			err:     &resend.Error{Kind: resend.Quota, Status: 429, RetryAfter: 48 * time.Hour},
			attempt: 1, now: noon, jitter: fixed(0), want: 48 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resend.Backoff(tt.err, tt.attempt, tt.now, tt.jitter); got != tt.want {
				t.Errorf("Backoff = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBackoff_JitterBounds(t *testing.T) {
	err := &resend.Error{Kind: resend.Retryable}
	now := time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC)
	for attempt := 1; attempt <= 10; attempt++ {
		lo := resend.Backoff(err, attempt, now, func() float64 { return 0 })
		mid := resend.Backoff(err, attempt, now, nil)
		hi := resend.Backoff(err, attempt, now, func() float64 { return 0.999999 })
		if lo != mid*8/10 || hi > mid*12/10 || hi < mid*119/100 {
			t.Errorf("attempt %d: range [%s, %s] around %s, want ±20%%", attempt, lo, hi, mid)
		}
	}
}
