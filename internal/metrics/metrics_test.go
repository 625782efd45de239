package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"perfect/internal/metrics"
	"perfect/store"
)

func TestMetrics_ExposesEngineQueueAndHTTP(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	_, _, err = db.CreateRun(store.Intake{Run: store.Run{ID: "R", Flow: "f", Email: "a@example.com"},
		Steps: []store.Step{{ID: "R-e1", RunID: "R", Flow: "f", Email: "a@example.com", DueAt: now, Status: store.StatusPlanned}}})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.SetStore(db, func() time.Time { return now })
	m.Step("f", "sent")
	m.Attempt("f", "rate_limited")
	m.Lateness("f", 20*time.Millisecond)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(422) })
	mux.Handle("GET /metrics", m.Handler())
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()
	resp, _ := http.Post(srv.URL+"/webhook/x", "application/json", nil)
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`perfect_steps{flow="f",status="planned"} 1`,
		`perfect_steps_due 1`,
		`perfect_step_transitions_total{flow="f",status="sent"} 1`,
		`perfect_send_attempts_total{flow="f",outcome="rate_limited"} 1`,
		`perfect_dispatch_lateness_seconds_count{flow="f"} 1`,
		`perfect_http_responses_total{code="422",route="POST /webhook/x"} 1`,
		`perfect_outbox_items{state="pending"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
