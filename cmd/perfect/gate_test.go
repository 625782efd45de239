package main_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// holdGate sits in front of a fake provider and can hold one matching
// request, either before it reaches the fake (the provider never saw it)
// or after the fake processed it (the write landed, the answer is held).
// A test arms it, waits until a request is held, SIGKILLs perfect and
// releases the gate: the held answer then goes nowhere, as when a process
// dies with a provider call in flight.
type holdGate struct {
	next http.Handler

	mu    sync.Mutex
	armed *hold
	// inflight counts requests inside the gate, held or passing.
	inflight int
}

// hold is one armed catch.
type hold struct {
	match   func(*http.Request) bool
	after   bool
	held    chan struct{} // closed when a request is held
	release chan struct{} // closed by Release
	once    sync.Once
}

// Release lets a held request go on; a request whose client is gone is
// dropped.
func (h *hold) Release() { h.once.Do(func() { close(h.release) }) }

// Held waits up to timeout for a request to be held.
func (h *hold) Held(timeout time.Duration) bool {
	select {
	case <-h.held:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Arm makes the gate hold the next request that match accepts, before
// the fake sees it, or after it when after is true. Only one catch is
// armed at a time; arming again replaces an unused one.
func (g *holdGate) Arm(match func(*http.Request) bool, after bool) *hold {
	h := &hold{match: match, after: after, held: make(chan struct{}), release: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.armed != nil {
		g.armed.Release()
	}
	g.armed = h
	return h
}

// Disarm drops an unused catch and releases h.
func (g *holdGate) Disarm(h *hold) {
	g.mu.Lock()
	if g.armed == h {
		g.armed = nil
	}
	g.mu.Unlock()
	h.Release()
}

// InFlight reports how many requests are inside the gate.
func (g *holdGate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inflight
}

func (g *holdGate) take(r *http.Request) *hold {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight++
	h := g.armed
	if h == nil || !h.match(r) {
		return nil
	}
	g.armed = nil
	return h
}

func (g *holdGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := g.take(r)
	defer func() {
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	}()
	switch {
	case h == nil:
		g.next.ServeHTTP(w, r)
	case !h.after:
		close(h.held)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		if r.Context().Err() == nil {
			g.next.ServeHTTP(w, r)
		}
	default:
		rec := httptest.NewRecorder()
		g.next.ServeHTTP(rec, r)
		close(h.held)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		if r.Context().Err() != nil {
			return // the answer is lost with the client
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}
