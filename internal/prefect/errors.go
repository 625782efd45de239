package prefect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound matches an *Error with status 404 under errors.Is.
var ErrNotFound = errors.New("not found")

// Error is a non-2xx answer of the Prefect API.
type Error struct {
	Method string
	Path   string
	Status int
	// Message is Prefect's detail or exception_message, or the start of the body.
	Message string
	// Wait is the Retry-After the server asked for, zero when none.
	Wait time.Duration
}

// Error reads "prefect POST /deployments/x/create_flow_run: 503: detail".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("prefect %s %s: %d: %s", e.Method, e.Path, e.Status, msg)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// RetryAfter is the wait the server asked for; the outbox drainer honours it.
func (e *Error) RetryAfter() time.Duration { return e.Wait }

// Temporary reports whether the same request may succeed later without a
// change to it: rate limits, server errors and timeouts.
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout ||
		e.Status >= 500
}

// Permanent reports whether retrying the same request cannot help: the
// request itself is wrong (400, 404, 409 parameter check, 422). Credentials
// (401, 403) are not permanent: fixing the configuration fixes every
// pending request.
func (e *Error) Permanent() bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
		http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		return true
	}
	return false
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// newError builds an *Error from a response whose body was read.
func newError(method, path string, resp *http.Response, body []byte, now time.Time) *Error {
	return &Error{
		Method:  method,
		Path:    path,
		Status:  resp.StatusCode,
		Message: errorMessage(body),
		Wait:    retryAfter(resp.Header.Get("Retry-After"), now),
	}
}

// errorMessage picks Prefect's message out of an error body: "detail" (a
// string, or pydantic's list), else "exception_message" and its details.
func errorMessage(body []byte) string {
	var b struct {
		Detail           json.RawMessage `json:"detail"`
		ExceptionMessage string          `json:"exception_message"`
		ExceptionDetail  json.RawMessage `json:"exception_detail"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return truncate(strings.TrimSpace(string(body)), 300)
	}
	var detail string
	if len(b.Detail) > 0 && json.Unmarshal(b.Detail, &detail) != nil {
		detail = string(b.Detail)
	}
	switch {
	case detail != "":
		return truncate(detail, 300)
	case b.ExceptionMessage != "" && len(b.ExceptionDetail) > 0:
		return truncate(b.ExceptionMessage+" "+string(b.ExceptionDetail), 300)
	case b.ExceptionMessage != "":
		return b.ExceptionMessage
	}
	return truncate(strings.TrimSpace(string(body)), 300)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
