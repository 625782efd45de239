package store

import (
	"encoding/json"
	"time"
)

// Status is the state of one planned email.
//
//	planned ──claim──▶ sending ──ok──▶ sent | outbox
//	   ▲                  │
//	   └──retryable error─┤──permanent error──▶ failed ──retry──▶ planned
//	                      └──crash (rescued at start-up)──▶ planned
//	planned ──cancel──▶ cancelled      planned ──too late──▶ expired
type Status string

const (
	// StatusPlanned waits in the due index for its time.
	StatusPlanned Status = "planned"
	// StatusSending was claimed by the dispatcher; the provider call is under way.
	StatusSending Status = "sending"
	// StatusSent was accepted by Resend.
	StatusSent Status = "sent"
	// StatusOutbox was rendered and recorded without sending (no RESEND_API_KEY).
	StatusOutbox Status = "outbox"
	// StatusFailed was refused by the provider or ran out of attempts.
	StatusFailed Status = "failed"
	// StatusCancelled was stopped by a person or a lifecycle event.
	StatusCancelled Status = "cancelled"
	// StatusExpired was due too long ago to be worth sending.
	StatusExpired Status = "expired"
)

// Final reports whether no further transition happens without a person.
func (s Status) Final() bool {
	switch s {
	case StatusSent, StatusOutbox, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPlanned, StatusSending, StatusSent, StatusOutbox, StatusFailed,
		StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Run is one start of a flow for one contact.
type Run struct {
	ID        string    `json:"id"`
	Flow      string    `json:"flow"`
	Email     string    `json:"email"`
	DedupeKey string    `json:"dedupe_key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Params are the values the flow's emails are rendered from: the
	// webhook's fields after validation and defaults.
	Params json.RawMessage `json:"params"`
	// Backend is "embedded" or "prefect".
	Backend      string     `json:"backend,omitempty"`
	CancelledAt  *time.Time `json:"cancelled_at,omitempty"`
	CancelReason string     `json:"cancel_reason,omitempty"`
	Source       string     `json:"source,omitempty"`
}

// Step is one planned email. Its ID is also the Resend Idempotency-Key.
type Step struct {
	ID          string     `json:"id"`
	RunID       string     `json:"run_id"`
	Flow        string     `json:"flow"`
	Email       string     `json:"email"`
	Template    string     `json:"template"`
	EmailNumber int        `json:"email_number"`
	DueAt       time.Time  `json:"due_at"`
	Status      Status     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	SentAt      *time.Time `json:"sent_at"`
	ProviderID  string     `json:"provider_id"`
	// Transactional steps are sent even to suppressed addresses and never expire.
	Transactional bool       `json:"transactional,omitempty"`
	MaxLateness   Duration   `json:"max_lateness,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ClaimedAt     *time.Time `json:"claimed_at,omitempty"`
	CancelReason  string     `json:"cancel_reason,omitempty"`
	// BatchID groups steps sent in one Resend batch call. A batch that
	// must be re-sent (after a crash or a retryable error) is re-sent whole,
	// under the same batch idempotency key.
	BatchID string `json:"batch_id,omitempty"`
	// Rendered is filled when the step is first claimed, so a re-send after a
	// crash carries the same body under the same idempotency key.
	Rendered *Rendered `json:"rendered,omitempty"`
	// History records every change made by a person or an event.
	History []Event `json:"history,omitempty"`
}

// Rendered is an email as it was (or will be) handed to the provider.
type Rendered struct {
	From    string            `json:"from"`
	To      string            `json:"to"`
	ReplyTo string            `json:"reply_to,omitempty"`
	Subject string            `json:"subject"`
	HTML    string            `json:"html"`
	Text    string            `json:"text"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Event is one entry of a step's history.
type Event struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Duration is a time.Duration that reads and writes as a Go duration string.
type Duration time.Duration

// MarshalJSON writes the duration as "1h30m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// OutboxItem is one pending write to an external tracker (Notion), stored in
// the same transaction as the change it records, so tracking is never lost
// and the request path never waits for the tracker.
type OutboxItem struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
	NextAt    time.Time       `json:"next_at"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"last_error,omitempty"`
	// Parked items failed permanently; they stay visible and are retried
	// only when a person asks.
	Parked bool `json:"parked,omitempty"`
}
