// Package delivery connects the engine to the Resend client: it adapts the
// client to engine.Sender and turns Resend errors into retry decisions.
package delivery

import (
	"context"
	"math/rand/v2"
	"time"

	"perfect/internal/engine"
	"perfect/internal/resend"
)

// Sender sends engine messages through a Resend client.
type Sender struct{ Client *resend.Client }

// Send makes one Resend call with the step id as Idempotency-Key.
func (s Sender) Send(ctx context.Context, m engine.Message) (string, error) {
	return s.Client.Send(ctx, email(m))
}

// SendBatch sends up to 100 messages in one call under one idempotency key.
func (s Sender) SendBatch(ctx context.Context, msgs []engine.Message, key string) ([]string, error) {
	emails := make([]resend.Email, len(msgs))
	for i, m := range msgs {
		emails[i] = email(m)
	}
	return s.Client.SendBatch(ctx, emails, key)
}

func email(m engine.Message) resend.Email {
	return resend.Email{
		From: m.From, To: m.To, ReplyTo: m.ReplyTo, Subject: m.Subject,
		HTML: m.HTML, Text: m.Text, Headers: m.Headers, IdempotencyKey: m.IdempotencyKey,
	}
}

// Classify decides what to do after a failed send: permanent 4xx fail the
// step; 429, 5xx, timeouts and network errors wait (never less than
// Retry-After; a quota 429 until the next UTC day).
func Classify(err error, attempt int, now time.Time) engine.Failure {
	re := resend.AsError(err)
	f := engine.Failure{
		Permanent: re.Kind == resend.Permanent,
		Kind:      re.Kind.String(),
		Reason:    re.Error(),
	}
	if !f.Permanent {
		f.Wait = resend.Backoff(re, attempt, now, rand.Float64)
	}
	return f
}
