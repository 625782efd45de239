package resend

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 64 << 10

// apiError is Resend's error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Name       string `json:"name"`
	Message    string `json:"message"`
}

// capture records what resend-go does not report: the status, the rate
// headers and the error body of the one HTTP call made for a send.
type capture struct {
	status int
	header http.Header
	body   apiError
}

type captureKey struct{}

// withCapture returns a context whose HTTP call will be recorded in the
// returned capture. resend-go builds its requests with this context.
func withCapture(ctx context.Context) (context.Context, *capture) {
	c := &capture{}
	return context.WithValue(ctx, captureKey{}, c), c
}

// retryAfter returns the wait asked for by Retry-After, or on a 429 by
// ratelimit-reset, 0 when neither header is usable.
func (c *capture) retryAfter() time.Duration {
	if d, ok := parseRetryAfter(c.header.Get("Retry-After"), time.Now()); ok {
		return d
	}
	if c.status == http.StatusTooManyRequests {
		if d, ok := parseSeconds(c.header.Get("Ratelimit-Reset")); ok {
			return d
		}
	}
	return 0
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if d, ok := parseSeconds(v); ok {
		return d, true
	}
	t, err := http.ParseTime(strings.TrimSpace(v))
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// parseSeconds reads a non-negative number of seconds, fractions allowed.
func parseSeconds(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// captureTransport records each response into the capture found in the
// request's context. It never retries: a call is exactly one round trip.
type captureTransport struct {
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	c, _ := req.Context().Value(captureKey{}).(*capture)
	if err != nil || c == nil {
		return resp, err
	}

	c.status = resp.StatusCode
	c.header = resp.Header.Clone()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}

	// Read the error body here, then hand resend-go an identical copy.
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if readErr == nil {
		_ = json.Unmarshal(b, &c.body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}
