// Package webhook decodes and validates the bodies of the legacy webhooks
// the way the old FastAPI server did: pydantic v2 lax-mode coercions, every
// field error collected, and FastAPI's 422 body shape. It does no I/O; the
// HTTP handlers call its Decode functions and write the errors it returns.
package webhook

import (
	"fmt"
	"strings"
)

// FieldError is one entry of FastAPI's 422 "detail" array.
type FieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// ValidationError is a request body that failed validation. It marshals to
// FastAPI's {"detail":[...]} and is answered with HTTP 422.
type ValidationError struct {
	Detail []FieldError `json:"detail"`
}

// Error lists the failing locations and messages on one line.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Detail))
	for _, d := range e.Detail {
		parts = append(parts, fmt.Sprintf("%s: %s", locString(d.Loc), d.Msg))
	}
	return "invalid body: " + strings.Join(parts, "; ")
}

func locString(loc []any) string {
	parts := make([]string, len(loc))
	for i, l := range loc {
		parts[i] = fmt.Sprint(l)
	}
	return strings.Join(parts, ".")
}

// BadRequest is a handler-level 4xx answered with a plain
// {"detail":"<message>"} body, as FastAPI's HTTPException was.
type BadRequest struct {
	Status  int
	Message string
}

// Error returns the message.
func (e *BadRequest) Error() string { return e.Message }

// MarshalJSON writes {"detail": message}.
func (e *BadRequest) MarshalJSON() ([]byte, error) {
	return marshalNoEscape(map[string]string{"detail": e.Message})
}

// errBodyParse is what FastAPI answered for a body it could not even read as
// text (invalid UTF-8, absurd nesting, oversized integers).
func errBodyParse() *BadRequest {
	return &BadRequest{Status: 400, Message: "There was an error parsing the body"}
}

// EmailError is an address that NormalizeEmail refused. Reason is
// email-validator's wording, which pydantic put after "value is not a valid
// email address: ".
type EmailError struct {
	Reason string
}

// Error returns pydantic's message for the address.
func (e *EmailError) Error() string {
	return "value is not a valid email address: " + e.Reason
}

// Pydantic's messages, keyed by error type.
const (
	msgMissing         = "Field required"
	msgStringType      = "Input should be a valid string"
	msgIntType         = "Input should be a valid integer"
	msgIntParsing      = "Input should be a valid integer, unable to parse string as an integer"
	msgIntFromFloat    = "Input should be a valid integer, got a number with a fractional part"
	msgIntParsingSize  = "Unable to parse input string as an integer, exceeded maximum size"
	msgFiniteNumber    = "Input should be a finite number"
	msgFloatType       = "Input should be a valid number"
	msgFloatParsing    = "Input should be a valid number, unable to parse string as a number"
	msgBoolType        = "Input should be a valid boolean"
	msgBoolParsing     = "Input should be a valid boolean, unable to interpret input"
	msgListType        = "Input should be a valid list"
	msgDictType        = "Input should be a valid dictionary"
	msgModelAttributes = "Input should be a valid dictionary or object to extract fields from"
	msgJSONInvalid     = "JSON decode error"
	msgDatetimeType    = "Input should be a valid datetime"
)

// issue is a field error before its location is known.
type issue struct {
	typ   string
	msg   string
	input any
	ctx   map[string]any
	// sub is appended to the field's location (list indexes).
	sub []any
}

func newIssue(typ, msg string, input any) *issue {
	return &issue{typ: typ, msg: msg, input: input}
}

func (is *issue) at(loc []any) FieldError {
	full := append(append([]any{}, loc...), is.sub...)
	return FieldError{Type: is.typ, Loc: full, Msg: is.msg, Input: is.input, Ctx: is.ctx}
}

func missingAt(loc []any, input any) FieldError {
	return FieldError{Type: "missing", Loc: loc, Msg: msgMissing, Input: input}
}

func bodyLoc(path ...any) []any {
	return append([]any{"body"}, path...)
}
