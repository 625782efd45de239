// Package resend sends emails through the Resend API. Every call waits on
// one shared rate limiter, then makes exactly one HTTP request carrying the
// caller's Idempotency-Key, and failures come back as *Error classified for
// the dispatcher's retry policy (see Kind and Backoff).
package resend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	resendgo "github.com/resend/resend-go/v2"
	"golang.org/x/time/rate"
)

// Defaults used by New for zero Config fields.
const (
	DefaultBaseURL       = "https://api.resend.com/"
	DefaultRatePerSecond = 2
	DefaultTimeout       = 15 * time.Second
	// MaxBatch is the most emails Resend accepts in one batch call.
	MaxBatch = 100
	// maxKeyLen is the longest Idempotency-Key Resend accepts.
	maxKeyLen = 256
)

// Email is one message to send.
type Email struct {
	From    string
	To      string
	ReplyTo string
	Subject string
	HTML    string
	Text    string
	Headers map[string]string
	// IdempotencyKey is sent as the Idempotency-Key header; Resend answers
	// a repeat within 24 hours with the first answer and sends nothing.
	IdempotencyKey string
	// Tags become Resend tags, sorted by name so a retry sends the same body.
	Tags map[string]string
}

// Config configures a Client.
type Config struct {
	APIKey string
	// BaseURL defaults to DefaultBaseURL; a trailing "/" is added if missing.
	BaseURL string
	// RatePerSecond defaults to DefaultRatePerSecond; negative means no limit.
	RatePerSecond float64
	// Burst defaults to 1.
	Burst int
	// Timeout bounds each HTTP call (not the wait for the limiter).
	Timeout time.Duration
	// HTTPClient is copied, never modified. It defaults to a client on
	// http.DefaultTransport.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client sends emails through Resend. It is safe for concurrent use.
type Client struct {
	api     *resendgo.Client
	limiter *rate.Limiter
	timeout time.Duration
	logger  *slog.Logger
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, errors.New("new resend client: empty api key")
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new resend client: %w", err)
	}

	api := resendgo.NewCustomClient(wrapHTTPClient(cfg.HTTPClient), key)
	api.BaseURL = base

	c := &Client{
		api:     api,
		limiter: rate.NewLimiter(limitOf(cfg.RatePerSecond), max(cfg.Burst, 1)),
		timeout: cfg.Timeout,
		logger:  cfg.Logger,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// parseBaseURL checks raw is an absolute http(s) URL ending in "/", which
// resend-go needs to keep a path prefix.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("parse base url %q: want an absolute http(s) url", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// wrapHTTPClient copies hc and wraps its transport to capture responses.
func wrapHTTPClient(hc *http.Client) *http.Client {
	var cp http.Client
	if hc != nil {
		cp = *hc
	}
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &captureTransport{base: base}
	return &cp
}

// limitOf turns a Config rate into a limiter rate.
func limitOf(perSecond float64) rate.Limit {
	switch {
	case perSecond == 0:
		return rate.Limit(DefaultRatePerSecond)
	case perSecond < 0 || math.IsInf(perSecond, 1):
		return rate.Inf
	default:
		return rate.Limit(perSecond)
	}
}

// SetRate changes the shared limit. Zero, negative or +Inf lift it.
func (c *Client) SetRate(perSecond float64) {
	if perSecond <= 0 {
		perSecond = math.Inf(1)
	}
	c.limiter.SetLimit(limitOf(perSecond))
}

// Send sends one email and returns Resend's email id. It waits for the rate
// limiter, then makes exactly one HTTP call bounded by the Timeout. Any
// error is an *Error.
func (c *Client) Send(ctx context.Context, e Email) (string, error) {
	if err := checkKey(e.IdempotencyKey); err != nil {
		return "", err
	}
	if err := c.wait(ctx); err != nil {
		return "", err
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, capt := withCapture(ctx)

	opts := &resendgo.SendEmailOptions{IdempotencyKey: e.IdempotencyKey}
	resp, err := c.api.Emails.SendWithOptions(ctx, toRequest(e), opts)
	if err != nil || resp.Id == "" {
		rerr := classify(capt, err)
		c.logFailure(ctx, rerr, e.IdempotencyKey, e.To, 1)
		return "", rerr
	}

	c.logger.DebugContext(ctx, "email sent",
		slog.String("resend_id", resp.Id),
		slog.String("idempotency_key", e.IdempotencyKey),
		slog.String("to", maskAddress(e.To)))
	return resp.Id, nil
}

// SendBatch sends up to MaxBatch emails in one call with strict validation:
// Resend sends all of them or none. It takes one limiter token and returns
// the ids in the order of emails. Any error is an *Error.
func (c *Client) SendBatch(ctx context.Context, emails []Email, idempotencyKey string) ([]string, error) {
	if err := checkBatch(emails, idempotencyKey); err != nil {
		return nil, err
	}
	if err := c.wait(ctx); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, capt := withCapture(ctx)

	reqs := make([]*resendgo.SendEmailRequest, len(emails))
	for i, e := range emails {
		reqs[i] = toRequest(e)
	}
	opts := &resendgo.BatchSendEmailOptions{
		IdempotencyKey:  idempotencyKey,
		BatchValidation: resendgo.BatchValidationStrict,
	}
	resp, err := c.api.Batch.SendWithOptions(ctx, reqs, opts)

	ids, rerr := batchIDs(capt, resp, err, len(emails))
	if rerr != nil {
		c.logFailure(ctx, rerr, idempotencyKey, "", len(emails))
		return nil, rerr
	}
	c.logger.DebugContext(ctx, "email batch sent",
		slog.Int("count", len(ids)),
		slog.String("idempotency_key", idempotencyKey))
	return ids, nil
}

// batchIDs checks a batch answer holds one id per email.
func batchIDs(capt *capture, resp *resendgo.BatchEmailResponse, err error, n int) ([]string, *Error) {
	if err != nil {
		return nil, classify(capt, err)
	}
	if len(resp.Errors) > 0 {
		be := resp.Errors[0]
		return nil, &Error{
			Kind:    Permanent,
			Status:  capt.status,
			Name:    "batch_rejected",
			Message: fmt.Sprintf("email %d: %s", be.Index, be.Message),
		}
	}
	if len(resp.Data) != n {
		return nil, &Error{
			Kind:    Retryable,
			Status:  capt.status,
			Name:    nameInvalidResponse,
			Message: fmt.Sprintf("response has %d ids for %d emails", len(resp.Data), n),
		}
	}

	ids := make([]string, n)
	for i, d := range resp.Data {
		if d.Id == "" {
			return nil, responseError(capt.status, nil)
		}
		ids[i] = d.Id
	}
	return ids, nil
}

// wait takes one token from the shared limiter. Nothing was sent when it
// fails, and a retry is safe.
func (c *Client) wait(ctx context.Context) error {
	if err := c.limiter.Wait(ctx); err != nil {
		msg := "wait for rate limiter: " + err.Error()
		return &Error{Kind: Retryable, Name: nameRateWait, Message: msg, err: err}
	}
	return nil
}

// classify turns the outcome of one resend-go call into an *Error.
func classify(capt *capture, err error) *Error {
	switch {
	case capt.status == 0:
		if err == nil {
			err = errors.New("no response")
		}
		return transportError(err)
	case capt.status >= 200 && capt.status < 300:
		return responseError(capt.status, err)
	default:
		e := statusError(capt)
		e.err = err
		return e
	}
}

// checkKey rejects keys Resend would refuse with 400.
func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return requestError(nameInvalidIdemKey,
			"idempotency key has %d chars, the limit is %d", len(key), maxKeyLen)
	}
	return nil
}

// checkBatch validates a batch before any HTTP call.
func checkBatch(emails []Email, key string) error {
	if len(emails) == 0 || len(emails) > MaxBatch {
		return requestError(nameInvalidRequest, "batch has %d emails, want 1 to %d", len(emails), MaxBatch)
	}
	return checkKey(key)
}

// toRequest converts an Email to resend-go's request. Tags are sorted so
// the body, and so the idempotency fingerprint, is the same on every retry.
func toRequest(e Email) *resendgo.SendEmailRequest {
	req := &resendgo.SendEmailRequest{
		From:    e.From,
		To:      []string{e.To},
		ReplyTo: e.ReplyTo,
		Subject: e.Subject,
		Html:    e.HTML,
		Text:    e.Text,
		Headers: e.Headers,
	}
	for name, value := range e.Tags {
		req.Tags = append(req.Tags, resendgo.Tag{Name: name, Value: value})
	}
	sort.Slice(req.Tags, func(i, j int) bool { return req.Tags[i].Name < req.Tags[j].Name })
	return req
}

// logFailure logs temporary failures at Warn; permanent ones are left to
// the caller, which decides what to tell a person.
func (c *Client) logFailure(ctx context.Context, e *Error, key, to string, count int) {
	if !e.Temporary() {
		return
	}
	attrs := []any{
		slog.String("kind", e.Kind.String()),
		slog.Int("status", e.Status),
		slog.String("name", e.Name),
		slog.Duration("retry_after", e.RetryAfter),
		slog.String("message", maskAddresses(e.Message)),
		slog.String("idempotency_key", key),
	}
	if to != "" {
		attrs = append(attrs, slog.String("to", maskAddress(to)))
	}
	if count > 1 {
		attrs = append(attrs, slog.Int("count", count))
	}
	c.logger.WarnContext(ctx, "resend send failed", attrs...)
}
