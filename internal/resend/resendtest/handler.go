package resendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ServeHTTP answers like POST https://api.resend.com/emails and
// /emails/batch.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// With the body read to its end the server notices a client that
	// leaves and cancels r.Context(); Close cancels it too. Hooks and held
	// requests rely on that to return.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-a.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	r = r.WithContext(ctx)

	if a.intercept(w, r) {
		return
	}

	batch, e := route(r)
	if e == nil {
		e = a.authorize(r)
	}
	if e == nil {
		e = a.rateLimit(w)
	}
	if e != nil {
		writeJSON(w, e.StatusCode, e)
		return
	}
	if readErr != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, newError(http.StatusRequestEntityTooLarge,
			"validation_error", "The request body is over %d bytes.", maxBody))
		return
	}
	a.send(w, r, body, batch)
}

// intercept counts the request and runs the hook and scripted faults.
func (a *API) intercept(w http.ResponseWriter, r *http.Request) bool {
	a.mu.Lock()
	a.requests++
	a.notify()
	h := a.handler
	var f *fault
	if len(a.faults) > 0 {
		f = &a.faults[0]
		a.faults = a.faults[1:]
	}
	a.mu.Unlock()

	if h != nil && h(w, r) {
		return true
	}
	if f == nil {
		return false
	}
	for k, vs := range f.header {
		w.Header()[k] = vs
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
	return true
}

// route accepts POST /emails and POST /emails/batch.
func route(r *http.Request) (batch bool, e *apiError) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/emails", "/emails/batch":
	default:
		return false, newError(http.StatusNotFound, "not_found",
			"The requested endpoint does not exist.")
	}
	if r.Method != http.MethodPost {
		return false, newError(http.StatusMethodNotAllowed, "method_not_allowed",
			"Method %s is not allowed on %s.", r.Method, path)
	}
	return path == "/emails/batch", nil
}

// authorize checks the bearer token.
func (a *API) authorize(r *http.Request) *apiError {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return newError(http.StatusUnauthorized, "missing_api_key",
			"Missing API key in the Authorization header (Bearer re_...).")
	}
	a.mu.Lock()
	want := a.apiKey
	a.mu.Unlock()
	if !strings.HasPrefix(token, "re_") || (want != "" && token != want) {
		return newError(http.StatusForbidden, "invalid_api_key", "API key is invalid.")
	}
	return nil
}

// rateLimit applies EnforceRate, setting Resend's headers on a refusal.
func (a *API) rateLimit(w http.ResponseWriter) *apiError {
	a.mu.Lock()
	lim := a.limiter
	a.mu.Unlock()
	if lim == nil || lim.Allow() {
		return nil
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Ratelimit-Limit", strconv.Itoa(int(lim.Limit())))
	w.Header().Set("Ratelimit-Remaining", "0")
	w.Header().Set("Ratelimit-Reset", "1")
	return newError(http.StatusTooManyRequests, "rate_limit_exceeded",
		"Too many requests. You can only make %v requests per second.", float64(lim.Limit()))
}

// delivery is one valid send request on its way through the fake.
type delivery struct {
	r        *http.Request
	key      string
	hasKey   bool
	batch    bool
	emails   []*SendRequest
	rejected []batchError
}

// send validates, applies idempotency, records and answers.
func (a *API) send(w http.ResponseWriter, r *http.Request, body []byte, batch bool) {
	d := &delivery{r: r, batch: batch}
	var e *apiError
	d.key, d.hasKey, e = idempotencyKey(r)
	if e == nil {
		d.emails, d.rejected, e = decodeBody(r, body, batch)
	}
	if e != nil {
		writeJSON(w, e.StatusCode, e)
		return
	}

	if d.hasKey {
		replay, e := a.reserve(d.key, r.URL.Path, body)
		if e != nil || replay != nil {
			writeReply(w, e, replay)
			return
		}
	}
	if !a.hold(d) {
		return
	}

	resp := a.commit(d)
	if a.takeDrop() {
		dropConnection(w)
		return
	}
	writeRaw(w, http.StatusOK, resp)
}

// idempotencyKey reads the Idempotency-Key header, present or not.
func idempotencyKey(r *http.Request) (string, bool, *apiError) {
	vs, ok := r.Header["Idempotency-Key"]
	if !ok {
		return "", false, nil
	}
	key := strings.Join(vs, ",")
	if key == "" || len(key) > 256 {
		return "", false, newError(http.StatusBadRequest, "invalid_idempotency_key",
			"The idempotency key must be 1 to 256 characters long.")
	}
	return key, true, nil
}

// decodeBody parses a single or batch body.
func decodeBody(r *http.Request, body []byte, batch bool) ([]*SendRequest, []batchError, *apiError) {
	if !batch {
		req, e := decodeSend(body)
		if e != nil {
			return nil, nil, e
		}
		return []*SendRequest{req}, nil, nil
	}
	permissive := strings.EqualFold(r.Header.Get("X-Batch-Validation"), "permissive")
	return decodeBatch(body, permissive)
}

// reserve looks the key up. It returns the stored answer for a repeat, a
// 409 for a conflicting or concurrent repeat, or nothing after reserving
// the key for this request.
func (a *API) reserve(key, path string, body []byte) ([]byte, *apiError) {
	fp := fingerprint(path, body)
	a.mu.Lock()
	defer a.mu.Unlock()

	now := a.now()
	if old, ok := a.keys[key]; ok && now.Sub(old.at) < IdempotencyWindow {
		switch {
		case !old.done:
			return nil, newError(http.StatusConflict, "concurrent_idempotent_requests",
				"A request with this idempotency key is still in progress; retry later.")
		case old.fingerprint != fp:
			return nil, newError(http.StatusConflict, "invalid_idempotent_request",
				"This idempotency key was used with a different request body.")
		default:
			return old.body, nil
		}
	}
	a.keys[key] = &keyEntry{fingerprint: fp, at: now}
	return nil, nil
}

// hold waits while the fake is paused. It reports false, and forgets the
// key, when the client went away first.
func (a *API) hold(d *delivery) bool {
	a.mu.Lock()
	gate := a.gate
	if gate == nil {
		a.mu.Unlock()
		return true
	}
	a.held++
	a.notify()
	a.mu.Unlock()

	ok := true
	select {
	case <-gate:
	case <-d.r.Context().Done():
		ok = false
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	a.held--
	if !ok && d.hasKey {
		delete(a.keys, d.key)
	}
	a.notify()
	return ok
}

// commit records the emails as sent and remembers the answer for the key.
func (a *API) commit(d *delivery) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()

	now := a.now()
	ids := make([]sendResponse, len(d.emails))
	for i, e := range d.emails {
		ids[i] = sendResponse{ID: newID()}
		a.received = append(a.received, Received{
			ID:     ids[i].ID,
			Key:    d.key,
			At:     now,
			Body:   *e,
			Header: d.r.Header.Clone(),
			Batch:  d.batch,
		})
	}

	var resp []byte
	if d.batch {
		resp, _ = json.Marshal(batchResponse{Data: ids, Errors: d.rejected})
	} else {
		resp, _ = json.Marshal(ids[0])
	}
	if d.hasKey {
		if len(d.emails) > 0 {
			a.counts[d.key]++
		}
		entry := a.keys[d.key]
		entry.done, entry.body = true, resp
	}
	a.notify()
	return resp
}

// takeDrop consumes one DropNextResponses credit.
func (a *API) takeDrop() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.drops == 0 {
		return false
	}
	a.drops--
	return true
}

// dropConnection closes the connection without writing an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// fingerprint identifies a request body independently of JSON spacing and
// key order.
func fingerprint(path string, body []byte) string {
	path = strings.TrimSuffix(path, "/")
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return path + "\n" + string(body)
	}
	canon, _ := json.Marshal(v)
	return path + "\n" + string(canon)
}

// newID returns a random version 4 UUID, like Resend's email ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeReply writes an error or a replayed answer.
func writeReply(w http.ResponseWriter, e *apiError, replay []byte) {
	if e != nil {
		writeJSON(w, e.StatusCode, e)
		return
	}
	writeRaw(w, http.StatusOK, replay)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
