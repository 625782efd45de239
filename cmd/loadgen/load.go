package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadResult is what one load phase measured.
type LoadResult struct {
	Target string `json:"target"`
	// Mode is "rate" (open loop at Rate requests per second) or "max"
	// (closed loop with Conns connections).
	Mode  string  `json:"mode"`
	Rate  float64 `json:"rate,omitempty"`
	Conns int     `json:"conns"`
	Sent  int     `json:"sent"`
	OK    int     `json:"ok"`
	// Codes counts answers by HTTP status; 0 is a transport error.
	Codes   map[int]int   `json:"codes"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// RPS is successful answers per second of the phase.
	RPS float64 `json:"rps"`
	// CPU is the CPU time the server used during the phase.
	CPU time.Duration `json:"server_cpu_ns"`
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%-8s %-4s rate=%-5.0f conns=%-3d sent=%-6d ok=%-6d %6.0f req/s  p50=%-9s p90=%-9s p99=%-9s max=%-9s "+
		"server CPU/req=%-7s codes=%v",
		r.Target, r.Mode, r.Rate, r.Conns, r.Sent, r.OK, r.RPS, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max),
		ms(r.CPUPerRequest()), r.Codes)
}

// CPUPerRequest is the server's CPU time per successful answer.
func (r LoadResult) CPUPerRequest() time.Duration {
	if r.OK == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.OK)
}

// bodyFunc returns the body of request i.
type bodyFunc func(i int) []byte

// loader posts JSON bodies to one URL.
type loader struct {
	target string
	url    string
	body   bodyFunc
	client *http.Client
	// seq numbers requests across phases, so every body is unique.
	seq atomic.Int64
}

func newLoader(target, url string, body bodyFunc, conns int) *loader {
	tr := &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	return &loader{target: target, url: url, body: body,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (l *loader) close() { l.client.CloseIdleConnections() }

// post sends one request and returns its status (0 on a transport error).
func (l *loader) post(ctx context.Context) int {
	i := int(l.seq.Add(1))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(l.body(i)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// recorder collects latencies and status codes from many goroutines.
type recorder struct {
	mu    sync.Mutex
	lats  []time.Duration
	codes map[int]int
	last  time.Time
}

func newRecorder(n int) *recorder {
	return &recorder{lats: make([]time.Duration, 0, n), codes: map[int]int{}}
}

func (r *recorder) add(code int, lat time.Duration, done time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes[code]++
	if code == http.StatusOK {
		r.lats = append(r.lats, lat)
	}
	if done.After(r.last) {
		r.last = done
	}
}

func (r *recorder) result(target, mode string, rate float64, conns int, start time.Time) LoadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := LoadResult{Target: target, Mode: mode, Rate: rate, Conns: conns, Codes: r.codes, OK: len(r.lats)}
	for _, n := range r.codes {
		res.Sent += n
	}
	res.Elapsed = r.last.Sub(start)
	if res.Elapsed > 0 {
		res.RPS = float64(res.OK) / res.Elapsed.Seconds()
	}
	slices.Sort(r.lats)
	res.P50, res.P90, res.P99 = quantile(r.lats, 0.50), quantile(r.lats, 0.90), quantile(r.lats, 0.99)
	if len(r.lats) > 0 {
		res.Max = r.lats[len(r.lats)-1]
	}
	return res
}

// fixedRate sends rate requests per second for d, open loop: request i is
// due at start+i/rate whatever happened to the ones before, and its
// latency runs from that due time, so a stall of the server shows in the
// percentiles instead of slowing the sender (no coordinated omission).
// workers bounds the requests in flight; a request waiting for a worker
// is already late.
func (l *loader) fixedRate(ctx context.Context, rate float64, d time.Duration, workers int) LoadResult {
	n := int(rate * d.Seconds())
	type job struct{ due time.Time }
	jobs := make(chan job, n)
	rec := newRecorder(n)
	start := time.Now().Add(20 * time.Millisecond)
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		defer close(jobs)
		for i := range n {
			due := start.Add(time.Duration(i) * interval)
			if w := time.Until(due); w > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(w):
				}
			}
			jobs <- job{due: due}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				code := l.post(ctx)
				now := time.Now()
				rec.add(code, now.Sub(j.due), now)
			}
		})
	}
	wg.Wait()
	return rec.result(l.target, "rate", rate, workers, start)
}

// maxRate sends as fast as conns connections allow for d, closed loop;
// latency runs from each request's send.
func (l *loader) maxRate(ctx context.Context, d time.Duration, conns int) LoadResult {
	rec := newRecorder(1 << 16)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				if t.After(deadline) {
					return
				}
				code := l.post(ctx)
				now := time.Now()
				rec.add(code, now.Sub(t), now)
			}
		})
	}
	wg.Wait()
	return rec.result(l.target, "max", 0, conns, start)
}

// quantile returns the q-quantile of sorted values (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
