package resend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind says how the caller should react to a failed send.
type Kind int

const (
	// Retryable failures may succeed later: 5xx, network errors, timeouts,
	// 409 concurrent_idempotent_requests and 2xx answers without an email id.
	// The email may or may not have gone out, so a retry must reuse the
	// idempotency key.
	Retryable Kind = iota
	// RateLimited is a 429 rate_limit_exceeded: retry after RetryAfter.
	RateLimited
	// Quota is a 429 daily_quota_exceeded or monthly_quota_exceeded: retrying
	// before the quota resets only burns requests.
	Quota
	// Permanent failures will fail again with the same request: other 4xx,
	// including 409 invalid_idempotent_request, 401, 403 and 422.
	Permanent
)

// String returns the snake_case name of the kind, as used in logs.
func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case RateLimited:
		return "rate_limited"
	case Quota:
		return "quota"
	case Permanent:
		return "permanent"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Names of Resend errors the classification depends on, and names this
// package gives to failures that have no Resend answer.
const (
	nameRateLimit       = "rate_limit_exceeded"
	nameDailyQuota      = "daily_quota_exceeded"
	nameMonthlyQuota    = "monthly_quota_exceeded"
	nameConcurrentIdem  = "concurrent_idempotent_requests"
	nameInvalidResponse = "invalid_response"
	nameTimeout         = "timeout"
	nameNetwork         = "network_error"
	nameInvalidRequest  = "invalid_request"
	nameRateWait        = "rate_wait"
	nameInvalidIdemKey  = "invalid_idempotency_key"
)

// Error is a classified failure of a call to Resend.
type Error struct {
	Kind Kind
	// Status is the HTTP status code, 0 when no response was received.
	Status int
	// Name and Message come from Resend's error body when there is one.
	Name    string
	Message string
	// RetryAfter is the wait Resend asked for (Retry-After, or
	// ratelimit-reset on a 429), 0 when it gave none.
	RetryAfter time.Duration

	err error
}

// Error describes the failure without any secret or email address.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("resend ")
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Name != "" {
		b.WriteString(": ")
		b.WriteString(e.Name)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the transport or decoding error behind e, if any, so
// errors.Is(err, context.DeadlineExceeded) works on timeouts.
func (e *Error) Unwrap() error { return e.err }

// Temporary reports whether the same request may succeed later.
func (e *Error) Temporary() bool { return e.Kind != Permanent }

// AsError returns err as an *Error. Errors that are not already classified
// (network failures, timeouts, cancelled contexts) are Retryable: a retry
// with the same idempotency key cannot send twice. It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return transportError(err)
}

// transportError classifies a failure that produced no HTTP response.
func transportError(err error) *Error {
	name := nameNetwork
	if errors.Is(err, context.DeadlineExceeded) {
		name = nameTimeout
	}
	return &Error{Kind: Retryable, Name: name, Message: err.Error(), err: err}
}

// statusError classifies a non-2xx answer from its status and error body.
func statusError(c *capture) *Error {
	e := &Error{
		Status:     c.status,
		Name:       c.body.Name,
		Message:    c.body.Message,
		RetryAfter: c.retryAfter(),
	}
	if e.Message == "" {
		e.Message = http.StatusText(c.status)
	}
	e.Kind = kindOf(c.status, e.Name, e.Message)
	return e
}

// kindOf maps a status and Resend error name to a Kind.
func kindOf(status int, name, message string) Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return tooManyKind(name, message)
	case status == http.StatusConflict && name == nameConcurrentIdem:
		return Retryable
	case status >= 500:
		return Retryable
	default:
		return Permanent
	}
}

// tooManyKind tells a quota 429 from a rate-limit 429. Resend's rate-limit
// body may carry only a message, so a message about a quota counts too.
func tooManyKind(name, message string) Kind {
	switch name {
	case nameDailyQuota, nameMonthlyQuota:
		return Quota
	case nameRateLimit:
		return RateLimited
	}
	if strings.Contains(strings.ToLower(message), "quota") {
		return Quota
	}
	return RateLimited
}

// responseError classifies a 2xx answer that could not be used.
func responseError(status int, cause error) *Error {
	msg := "response has no email id"
	if cause != nil {
		msg = "decode response: " + cause.Error()
	}
	return &Error{Kind: Retryable, Status: status, Name: nameInvalidResponse, Message: msg, err: cause}
}

// requestError rejects a request before any HTTP call.
func requestError(name, format string, args ...any) *Error {
	return &Error{Kind: Permanent, Name: name, Message: fmt.Sprintf(format, args...)}
}
