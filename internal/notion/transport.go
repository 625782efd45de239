package notion

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// transport is the http.RoundTripper under notionapi. It points requests at
// the configured base URL, waits for the shared rate limiter before every
// attempt, and retries answers that say "not processed, come back later"
// (429, 529, and 503 for requests that are safe to repeat), re-creating the
// body each time. notionapi's own 429 retry resends an empty body, so the
// client is built with notionapi.WithRetry(1) and all retrying happens here.
type transport struct {
	base    http.RoundTripper
	target  *url.URL // nil: keep https://api.notion.com
	limiter *rate.Limiter
	logger  *slog.Logger

	attempts       int
	attemptTimeout time.Duration
	maxWait        time.Duration
	sleep          func(context.Context, time.Duration) error
}

// callInfo records the last HTTP exchange of one notionapi call, which
// notionapi's own errors do not keep (status of a non-JSON body,
// Retry-After). It travels in the request context.
type callInfo struct {
	status     int
	retryAfter time.Duration
}

type callInfoKey struct{}

func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	info := &callInfo{}
	return context.WithValue(ctx, callInfoKey{}, info), info
}

func callInfoFrom(ctx context.Context) *callInfo {
	if info, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		return info
	}
	return &callInfo{}
}

// RoundTrip sends req, retrying as described on transport.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	body, err := readBody(req)
	if err != nil {
		return nil, fmt.Errorf("read notion request body: %w", err)
	}
	body = keepArchived(req, body)
	info := callInfoFrom(ctx)

	for attempt := 1; ; attempt++ {
		if err := t.limiter.Wait(ctx); err != nil {
			return nil, err
		}

		start := time.Now()
		resp, err := t.send(req, body)
		info.status, info.retryAfter = 0, 0
		if resp != nil {
			info.status, info.retryAfter = resp.StatusCode, parseRetryAfter(resp.Header)
		}
		t.logger.DebugContext(ctx, "notion request", slog.String("method", req.Method),
			slog.String("path", req.URL.Path), slog.Int("status", info.status),
			slog.Int("attempt", attempt), slog.Duration("duration", time.Since(start)))

		wait, retry := t.retryWait(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		discard(resp)
		t.logger.WarnContext(ctx, "notion request retried", slog.String("method", req.Method),
			slog.String("path", req.URL.Path), slog.Int("status", info.status),
			slog.Int("attempt", attempt), slog.Duration("wait", wait))
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// send makes one attempt with a fresh body and its own timeout. The
// timeout's cancel runs when the caller closes the response body.
func (t *transport) send(req *http.Request, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.attemptTimeout)
	out := req.Clone(ctx)
	t.rewrite(out.URL)
	out.Host = ""
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}

	resp, err := t.base.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func (t *transport) rewrite(u *url.URL) {
	if t.target == nil {
		return
	}
	u.Scheme, u.Host = t.target.Scheme, t.target.Host
	if prefix := strings.TrimSuffix(t.target.Path, "/"); prefix != "" {
		u.Path = prefix + u.Path
		u.RawPath = ""
	}
}

// retryWait decides whether to try again and after how long. Only answers
// that mean the request was not processed are retried here; anything else
// goes back to the caller, whose ops are idempotent and retried by the
// outbox.
func (t *transport) retryWait(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if err != nil || attempt >= t.attempts {
		return 0, false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, 529:
	case http.StatusServiceUnavailable:
		// Notion also answers 503 when its own 60 s timeout fires, after
		// which a page create may have landed: let the caller look first.
		if !repeatable(req) {
			return 0, false
		}
	default:
		return 0, false
	}

	wait := parseRetryAfter(resp.Header)
	if wait == 0 && resp.Header.Get("Retry-After") == "" {
		wait = jittered(250*time.Millisecond<<(attempt-1), rand.Float64())
	}
	if wait > t.maxWait {
		return 0, false // let the outbox come back later
	}
	return wait, true
}

// repeatable reports whether sending req twice does no harm: reads,
// queries and property updates are; creating a page is not.
func repeatable(req *http.Request) bool {
	return !(req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/pages"))
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(0, time.Duration(secs)*time.Second)
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(at))
	}
	return 0
}

func jittered(d time.Duration, r float64) time.Duration {
	return d + time.Duration(float64(d)*0.5*r)
}

// readBody returns the request body's bytes, from GetBody when the request
// has one, and closes the original body as a RoundTripper must.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	src := req.Body
	if req.GetBody != nil {
		fresh, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		defer fresh.Close()
		src = fresh
	}
	return io.ReadAll(src)
}

// keepArchived drops "archived": false from page updates.
// notionapi.PageUpdateRequest sends it on every update (no omitempty), and
// Notion would then restore a page a person had archived.
func keepArchived(req *http.Request, body []byte) []byte {
	if req.Method != http.MethodPatch || !strings.Contains(req.URL.Path, "/pages/") || body == nil {
		return body
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return body
	}
	if v, ok := fields["archived"]; !ok || string(v) != "false" {
		return body
	}
	delete(fields, "archived")
	out, err := json.Marshal(fields)
	if err != nil {
		return body
	}
	return out
}

func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
