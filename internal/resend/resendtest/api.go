// Package resendtest is a fake of the Resend email API for tests of every
// package: it checks the API key, validates emails, answers with Resend's
// shapes, honours Idempotency-Key for 24 hours and records what it sent.
// NewServer runs it on 127.0.0.1 for one test; NewAPI gives the bare
// http.Handler for tests that serve it themselves, for example to a
// perfect binary started as a child process.
package resendtest

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// IdempotencyWindow is how long Resend remembers an Idempotency-Key.
const IdempotencyWindow = 24 * time.Hour

// maxBody bounds a request body (Resend allows 40 MB with attachments;
// tests send far less).
const maxBody = 10 << 20

// Received is one email the fake accepted and "sent". Replays of an
// idempotent request are not recorded again.
type Received struct {
	// ID is the email id returned to the client.
	ID string
	// Key is the request's Idempotency-Key ("" when none was sent).
	Key    string
	At     time.Time
	Body   SendRequest
	Header http.Header
	// Batch is true when the email came through POST /emails/batch.
	Batch bool
}

// API is the fake Resend API as an http.Handler. Its zero value is not
// usable; call NewAPI. All methods are safe for concurrent use.
type API struct {
	mu       sync.Mutex
	now      func() time.Time
	apiKey   string
	handler  func(http.ResponseWriter, *http.Request) bool
	limiter  *rate.Limiter
	requests int
	received []Received
	counts   map[string]int
	keys     map[string]*keyEntry
	faults   []fault
	drops    int
	gate     chan struct{}
	held     int
	changed  chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// keyEntry is what the fake remembers about an Idempotency-Key.
type keyEntry struct {
	fingerprint string
	at          time.Time
	done        bool
	body        []byte
}

// fault is a scripted answer given instead of the normal behaviour.
type fault struct {
	status int
	body   string
	header http.Header
}

// NewAPI returns a fake that accepts any API key starting with "re_".
func NewAPI() *API {
	return &API{
		now:     time.Now,
		counts:  make(map[string]int),
		keys:    make(map[string]*keyEntry),
		changed: make(chan struct{}),
		closed:  make(chan struct{}),
	}
}

// RequireAPIKey makes the fake answer 403 invalid_api_key to any other key.
func (a *API) RequireAPIKey(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.apiKey = key
}

// SetClock replaces the clock used for Received.At and key expiry.
func (a *API) SetClock(now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = now
}

// SetHandler installs a hook run first on every request (after the body is
// read into r.Body again); when it returns true the request is considered
// answered. A hook that blocks should return once r.Context() is done,
// which happens when the client leaves or the server closes. Pass nil to
// remove it.
func (a *API) SetHandler(h func(w http.ResponseWriter, r *http.Request) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handler = h
}

// FailNext makes the next n requests, whatever they are, get status and
// body (with Content-Type application/json unless header sets one) and
// have no other effect. Calls queue up behind earlier ones.
func (a *API) FailNext(n int, status int, body string, header http.Header) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range n {
		a.faults = append(a.faults, fault{status: status, body: body, header: header.Clone()})
	}
}

// DropNextResponses makes the next n accepted sends go through (recorded,
// key remembered) and then closes the connection without an answer, as
// when a response is lost on the way back.
func (a *API) DropNextResponses(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drops += n
}

// EnforceRate makes the fake answer 429 rate_limit_exceeded above
// perSecond requests per second, as Resend does per team.
func (a *API) EnforceRate(perSecond float64, burst int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
}

// Pause holds every valid send, after its idempotency key is reserved and
// before anything is recorded, until release is called. A held request
// whose client gives up, or that is still held when the server closes, is
// dropped unsent. While one is held, a repeat of
// its key gets 409 concurrent_idempotent_requests.
func (a *API) Pause() (release func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gate := make(chan struct{})
	a.gate = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.gate == gate {
				a.gate = nil
			}
			close(gate)
		})
	}
}

// Received returns every accepted email, in order.
func (a *API) Received() []Received {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Received, len(a.received))
	copy(out, a.received)
	return out
}

// CountByKey returns, per non-empty Idempotency-Key, how many requests
// with it really sent something. Anything above 1 is a duplicate send.
func (a *API) CountByKey() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.counts))
	for k, n := range a.counts {
		out[k] = n
	}
	return out
}

// Requests returns how many HTTP requests arrived, errors and replays
// included.
func (a *API) Requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

// WaitFor waits until at least n emails were received, and reports
// whether that happened within timeout.
func (a *API) WaitFor(n int, timeout time.Duration) bool {
	return a.waitUntil(func() bool { return len(a.received) >= n }, timeout)
}

// WaitHeld waits until exactly n requests are held by Pause; n = 0 waits
// for held requests to be released or abandoned.
func (a *API) WaitHeld(n int, timeout time.Duration) bool {
	return a.waitUntil(func() bool { return a.held == n }, timeout)
}

// WaitRequests waits until at least n HTTP requests arrived.
func (a *API) WaitRequests(n int, timeout time.Duration) bool {
	return a.waitUntil(func() bool { return a.requests >= n }, timeout)
}

// waitUntil re-checks cond, under the lock, on every state change.
func (a *API) waitUntil(cond func() bool, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		a.mu.Lock()
		ok, changed := cond(), a.changed
		a.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// notify wakes the waiters; the caller holds a.mu.
func (a *API) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// shutdown cancels the requests in progress (held ones are dropped) so
// the server can close.
func (a *API) shutdown() {
	a.once.Do(func() { close(a.closed) })
}
