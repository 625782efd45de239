package notion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jomei/notionapi"
)

var (
	// ErrTemplateMissing is wrapped by every template lookup that found no
	// usable template: not found, not active, or an empty subject or body.
	ErrTemplateMissing = errors.New("template missing in notion")
	// ErrNotConfigured is returned when the database an operation needs has
	// no id in the configuration.
	ErrNotConfigured = errors.New("notion database not configured")
	// ErrInvalidOp is wrapped by the validation errors of an Op; applying the
	// same op again can never succeed.
	ErrInvalidOp = errors.New("invalid notion op")
)

// TemplateError says why a template could not be used. It wraps
// ErrTemplateMissing.
type TemplateError struct {
	Name   string
	Reason string
}

// Error names the template and the reason.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("template %q missing in notion: %s", e.Name, e.Reason)
}

// Unwrap returns ErrTemplateMissing.
func (e *TemplateError) Unwrap() error { return ErrTemplateMissing }

// Error is a failed call to the Notion API: a refusal with Notion's status
// and code, or no answer at all (Status 0).
type Error struct {
	// Op says what was being done: "query database", "create page", ...
	Op string
	// Status is the HTTP status of the last answer; 0 when none arrived.
	Status int
	// Code is Notion's error code, such as "validation_error".
	Code    string
	Message string
	// RetryAfter is the server's Retry-After of the last answer, if any.
	RetryAfter time.Duration
	Err        error
}

// Error reports the operation, status, code and message.
func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("notion %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("notion %s: %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth trying again later: rate limits,
// conflicts, 5xx, 529 and network failures are; validation errors, 401,
// 403, 404, invalid ops, missing configuration and missing templates are
// not. A cancelled context is not retryable: the caller is shutting down.
func Retryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, ErrInvalidOp), errors.Is(err, ErrNotConfigured),
		errors.Is(err, ErrTemplateMissing):
		return false
	}

	var e *Error
	if errors.As(err, &e) {
		return retryableStatus(e.Status)
	}
	// Anything else (a decoding failure, a transport error outside our
	// wrapper) is treated as transient: every op is idempotent.
	return true
}

func retryableStatus(status int) bool {
	switch {
	case status == 0, status == 409, status == 429, status >= 500:
		return true
	}
	return false
}

// RetryAfter returns the Retry-After carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// wrapCall turns the error of one notionapi call into an *Error, using what
// the transport saw of the last HTTP exchange.
func wrapCall(op string, info *callInfo, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err, Status: info.status, RetryAfter: info.retryAfter}

	var apiErr *notionapi.Error
	var rateErr *notionapi.RateLimitedError
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Status != 0 {
			e.Status = apiErr.Status
		}
		e.Code, e.Message = string(apiErr.Code), apiErr.Message
	case errors.As(err, &rateErr):
		e.Status, e.Code, e.Message = 429, "rate_limited", rateErr.Message
	case e.Status >= 200 && e.Status < 300:
		// A 2xx whose body could not be read: the write may have landed,
		// and retrying an idempotent op is safe.
		e.Status = 0
	case e.Status != 0:
		// A non-JSON error body (a proxy's HTML page, say).
		e.Code, e.Message = "http_error", err.Error()
	}
	return e
}
