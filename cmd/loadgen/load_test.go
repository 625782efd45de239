package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"median", 0.5, 50 * time.Millisecond},
		{"p99", 0.99, 99 * time.Millisecond},
		{"max", 1, 100 * time.Millisecond},
		{"min", 0, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(xs, tc.q); got != tc.want {
				t.Errorf("quantile(%v) = %s, want %s", tc.q, got, tc.want)
			}
		})
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %s", got)
	}
}

// TestFixedRate_SendsUniqueBodiesOnSchedule posts 100 requests at 1000/s
// to a server that answers the tenth with 503, and checks the count, the
// codes, the pace and that every body was different.
func TestFixedRate_SendsUniqueBodiesOnSchedule(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)] = true
		mu.Unlock()
		if strings.Contains(string(b), `-10@`) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	l := newLoader("test", srv.URL, func(i int) []byte { return signupBody("t", i) }, 8)
	defer l.close()
	start := time.Now()
	res := l.fixedRate(context.Background(), 1000, 100*time.Millisecond, 8)
	if res.Sent != 100 || res.OK != 99 || res.Codes[http.StatusServiceUnavailable] != 1 {
		t.Fatalf("sent %d ok %d codes %v, want 100, 99 and one 503", res.Sent, res.OK, res.Codes)
	}
	if took := time.Since(start); took < 99*time.Millisecond {
		t.Errorf("100 requests at 1000/s took %s, want at least 99 ms", took)
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct bodies, want 100", len(seen))
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("percentiles out of order: %+v", res)
	}
}

func TestSignupBody_DecodesAsLegacyPayload(t *testing.T) {
	t.Parallel()
	f, err := signupIntakeFlow()
	if err != nil {
		t.Fatal(err)
	}
	in, err := signupIntake(f, "x", 7, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if in.Run.Email != "x-7@example.com" || len(in.Steps) != 4 {
		t.Fatalf("intake %+v", in.Run)
	}
	if got := in.Steps[0].DueAt.Sub(in.Run.CreatedAt); got != 24*time.Hour {
		t.Errorf("E2 due %s after intake, want 24h", got)
	}
}
