package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"perfect/internal/resend/resendtest"
)

// fakeResend is the fake Resend API of the tests on 127.0.0.1, with the
// arrival time of the first request that carried each recipient: taken
// when the handler starts, that is once the request line and headers are
// read, before the body.
type fakeResend struct {
	api *resendtest.API
	srv *http.Server
	URL string

	mu      sync.Mutex
	first   map[string]time.Time
	batches int
	codes   map[int]int
}

func startFakeResend() (*fakeResend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeResend{api: resendtest.NewAPI(), first: map[string]time.Time{}, codes: map[int]int{}, URL: "http://" + l.Addr().String()}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fakeResend) close() { _ = f.srv.Close() }

func (f *fakeResend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	if err == nil {
		f.note(at, strings.HasSuffix(r.URL.Path, "/batch"), body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	f.api.ServeHTTP(sw, r)
	f.mu.Lock()
	f.codes[sw.code]++
	f.mu.Unlock()
}

// statusWriter remembers the status code of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// statusCodes counts the fake's answers by HTTP status.
func (f *fakeResend) statusCodes() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[int]int, len(f.codes))
	for k, v := range f.codes {
		out[k] = v
	}
	return out
}

// note records the first arrival of every recipient of a request.
func (f *fakeResend) note(at time.Time, batch bool, body []byte) {
	type email struct {
		To resendtest.Addresses `json:"to"`
	}
	var emails []email
	if batch {
		_ = json.Unmarshal(body, &emails)
	} else {
		var one email
		if json.Unmarshal(body, &one) == nil {
			emails = []email{one}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if batch {
		f.batches++
	}
	for _, e := range emails {
		for _, to := range e.To {
			if _, ok := f.first[to]; !ok {
				f.first[to] = at
			}
		}
	}
}

// arrivals returns the first arrival of each recipient seen so far.
func (f *fakeResend) arrivals() map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]time.Time, len(f.first))
	for k, v := range f.first {
		out[k] = v
	}
	return out
}

func (f *fakeResend) batchRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batches
}

// accepted returns, per recipient, when the fake accepted (sent) the first
// email to it.
func (f *fakeResend) accepted() map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range f.api.Received() {
		for _, to := range r.Body.To {
			if _, ok := out[to]; !ok {
				out[to] = r.At
			}
		}
	}
	return out
}
