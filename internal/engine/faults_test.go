package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/delivery"
	"perfect/internal/engine"
	"perfect/internal/metrics"
	"perfect/internal/resend"
	"perfect/internal/resend/resendtest"
	"perfect/internal/templates"
	"perfect/store"
)

// faultRig is an engine with production error handling (delivery.Classify,
// the Resend client, Prometheus metrics) in front of a fake Resend that a
// test can disturb, on the harness's fast clock.
type faultRig struct {
	db      *store.DB
	eng     *engine.Engine
	api     *resendtest.API
	metrics *metrics.Metrics
	now     func() time.Time
}

// newFaultRig serves api through front (nil: api itself) and points a
// Resend client with timeout at it, or at url when url is set.
func newFaultRig(t *testing.T, front func(api *resendtest.API) http.Handler, url string, timeout time.Duration) *faultRig {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		db.Close()
	})
	anchor := time.Now()
	r := &faultRig{db: db, api: resendtest.NewAPI(), metrics: metrics.New(),
		now: func() time.Time { return epoch.Add(time.Duration(float64(time.Since(anchor)) * speed)) }}
	r.api.SetClock(r.now)
	r.metrics.SetStore(db, r.now)
	if url == "" {
		var h http.Handler = r.api
		if front != nil {
			h = front(r.api)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		url = srv.URL
	}
	c, err := resend.New(resend.Config{APIKey: "re_test", BaseURL: url, RatePerSecond: 1000, Burst: 100,
		Timeout: timeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.eng = engine.New(engine.Config{
		DB: db, Now: r.now, Speed: speed, Testing: true, Campaign: flows.DefaultCampaign(),
		Sender: delivery.Sender{Client: c}, Classify: delivery.Classify, MaxAttempts: 4,
		Metrics: r.metrics, Logger: slog.New(slog.DiscardHandler),
		Renderer: &engine.Renderer{Templates: templates.Embedded(), Campaign: flows.DefaultCampaign(),
			From: "Test <sender@example.com>"},
	})
	return r
}

func (r *faultRig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// firstStep plans an onboarding run, cancels all but its first email so
// that every provider call of the test is that email's, and returns its id.
func (r *faultRig) firstStep(t *testing.T) string {
	t.Helper()
	res, err := r.eng.Start(context.Background(), engine.StartRequest{Flow: flows.Onboarding,
		Email: "ada@example.com", Params: map[string]any{"email": "ada@example.com", "first_name": "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps[1:] {
		if _, err := r.db.CancelStep(s.ID, "test", "one email per fault", r.now()); err != nil {
			t.Fatal(err)
		}
	}
	return res.Steps[0].ID
}

// waitStep polls until cond holds for the step.
func (r *faultRig) waitStep(t *testing.T, id string, what string, cond func(store.Step) bool) store.Step {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := r.db.GetStep(id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %s never %s: %s attempts %d last error %q", id, what, s.Status, s.Attempts, s.LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// metric reads one sample from the /metrics text, 0 when absent. labels
// are written as Prometheus prints them, in name order.
func metric(t *testing.T, m *metrics.Metrics, name, labels string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	prefix := name + "{" + labels + "} "
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

const onboardingFlow = `flow="christmas-onboarding-handler"`

// slowAfterSend lets the fake send the first email, then holds its answer
// past the client's timeout: Resend sent it, perfect never heard back.
func slowAfterSend(api *resendtest.API) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			api.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(httptest.NewRecorder(), r)
		<-r.Context().Done()
	})
}

// garbageAfterSend lets the fake send the first email and answers 200
// with a body that is not Resend's.
func garbageAfterSend(api *resendtest.API) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			api.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`<html>upstream proxy error</html>`))
	})
}

// closedURL is the address of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

// TestFaults_Resend drives one email through each provider fault and
// checks where it ends (sent once, waiting, or failed with a reason) and
// that the fault shows in the store and in /metrics.
func TestFaults_Resend(t *testing.T) {
	rateBody := `{"statusCode":429,"name":"rate_limit_exceeded","message":"Too many requests"}`
	quotaBody := `{"statusCode":429,"name":"daily_quota_exceeded","message":"You have reached your daily email sending quota."}`
	serverBody := `{"statusCode":500,"name":"internal_server_error","message":"boom"}`
	tests := []struct {
		name    string
		front   func(*resendtest.API) http.Handler
		refused bool
		timeout time.Duration
		fault   func(*resendtest.API)
		// end is the state the step must reach; check looks at it.
		end   func(store.Step) bool
		check func(t *testing.T, r *faultRig, s store.Step)
		// outcome is the failure kind counted in perfect_send_attempts_total.
		outcome string
		fails   float64
	}{
		{
			name:  "429 with Retry-After: waits, then sent once",
			fault: func(a *resendtest.API) { a.FailNext(1, 429, rateBody, http.Header{"Retry-After": {"600"}}) },
			end:   func(s store.Step) bool { return s.Status == store.StatusSent },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				got := r.api.Received()
				if len(got) != 1 || s.Attempts != 2 {
					t.Fatalf("sent %d times in %d attempts, want once in 2", len(got), s.Attempts)
				}
				// The 429 came at the first attempt, when the email was due.
				if wait := got[0].At.Sub(s.CreatedAt.Add(time.Minute)); wait < 10*time.Minute {
					t.Errorf("re-sent %s after the 429, want at least Retry-After's 600 s", wait)
				}
			},
			outcome: "rate_limited", fails: 1,
		},
		{
			name:  "429 daily quota: parked until the next UTC day, reason kept",
			fault: func(a *resendtest.API) { a.FailNext(1, 429, quotaBody, nil) },
			end:   func(s store.Step) bool { return s.Attempts == 1 && s.Status == store.StatusPlanned },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				if s.DueAt.Before(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("retry due %s, want the next UTC day", s.DueAt)
				}
				if !strings.Contains(s.LastError, "daily_quota_exceeded") {
					t.Errorf("last error %q does not name the quota", s.LastError)
				}
			},
			outcome: "quota", fails: 1,
		},
		{
			name:  "500 until the attempts run out: failed with Resend's message",
			fault: func(a *resendtest.API) { a.FailNext(4, 500, serverBody, nil) },
			end:   func(s store.Step) bool { return s.Status == store.StatusFailed },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				if s.Attempts != 4 || !strings.Contains(s.LastError, "status 500") || !strings.Contains(s.LastError, "boom") {
					t.Errorf("attempts %d last error %q", s.Attempts, s.LastError)
				}
				if len(r.api.Received()) != 0 {
					t.Error("a refused email was recorded as sent")
				}
				st, _ := r.db.Stats(r.now())
				if st.ByStatus[store.StatusFailed] != 1 {
					t.Errorf("failed count %d, want 1", st.ByStatus[store.StatusFailed])
				}
				if v := metric(t, r.metrics, "perfect_step_transitions_total", onboardingFlow+`,status="failed"`); v != 1 {
					t.Errorf("failed transitions %v, want 1", v)
				}
			},
			outcome: "retryable", fails: 4,
		},
		{
			name:    "answer slower than the client timeout after the send: re-sent under the same key, sent once",
			front:   slowAfterSend,
			timeout: 200 * time.Millisecond,
			end:     func(s store.Step) bool { return s.Status == store.StatusSent },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				if n := r.api.CountByKey()[s.ID]; n != 1 || s.Attempts != 2 {
					t.Errorf("key sent %d times in %d attempts, want once in 2", n, s.Attempts)
				}
			},
			outcome: "retryable", fails: 1,
		},
		{
			name:    "connection refused: retried, then failed with the network error",
			refused: true,
			end:     func(s store.Step) bool { return s.Status == store.StatusFailed },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				if s.Attempts != 4 || !strings.Contains(s.LastError, "connection refused") {
					t.Errorf("attempts %d last error %q", s.Attempts, s.LastError)
				}
			},
			outcome: "retryable", fails: 4,
		},
		{
			name:  "200 with a garbage body: re-sent under the same key, sent once",
			front: garbageAfterSend,
			end:   func(s store.Step) bool { return s.Status == store.StatusSent },
			check: func(t *testing.T, r *faultRig, s store.Step) {
				if n := r.api.CountByKey()[s.ID]; n != 1 || s.Attempts != 2 || s.ProviderID == "" {
					t.Errorf("key sent %d times in %d attempts, provider id %q", n, s.Attempts, s.ProviderID)
				}
				if got := r.api.Received(); len(got) != 1 || got[0].ID != s.ProviderID {
					t.Errorf("provider id %q, want the id of the one email Resend sent", s.ProviderID)
				}
			},
			outcome: "retryable", fails: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := ""
			if tt.refused {
				url = closedURL(t)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			r := newFaultRig(t, tt.front, url, timeout)
			if tt.fault != nil {
				tt.fault(r.api)
			}
			id := r.firstStep(t)
			r.run(t)
			s := r.waitStep(t, id, "reached its end state", tt.end)
			tt.check(t, r, s)
			if v := metric(t, r.metrics, "perfect_send_attempts_total",
				onboardingFlow+fmt.Sprintf(`,outcome=%q`, tt.outcome)); v < tt.fails {
				t.Errorf("perfect_send_attempts_total{outcome=%q} = %v, want %v", tt.outcome, v, tt.fails)
			}
		})
	}
}
