package prefect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// newClient returns a client for the fake with fast retries.
func newClient(tb testing.TB, url string, mod func(*prefect.ClientConfig)) *prefect.Client {
	tb.Helper()
	cfg := prefect.ClientConfig{BaseURL: url, RetryBase: time.Millisecond, MaxInlineWait: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := prefect.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestNewClient_Config(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     prefect.ClientConfig
		wantErr bool
	}{
		{name: "server", cfg: prefect.ClientConfig{BaseURL: "https://prefect.example.com/api"}},
		{name: "basic auth", cfg: prefect.ClientConfig{BaseURL: "http://p:4200/api", AuthString: "u:p"}},
		{name: "cloud", cfg: prefect.ClientConfig{BaseURL: "https://api.prefect.cloud/api/accounts/a/workspaces/w", APIKey: "pnu_x"}},
		{name: "no scheme", cfg: prefect.ClientConfig{BaseURL: "prefect.example.com/api"}, wantErr: true},
		{name: "both auths", cfg: prefect.ClientConfig{BaseURL: "http://p/api", APIKey: "k", AuthString: "u:p"}, wantErr: true},
		{name: "auth without colon", cfg: prefect.ClientConfig{BaseURL: "http://p/api", AuthString: "up"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prefect.NewClient(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestClient_Auth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mod    func(*prefect.ClientConfig)
		header string
	}{
		{name: "basic", mod: func(c *prefect.ClientConfig) { c.AuthString = "admin:s3cret" },
			header: prefecttest.BasicAuth("admin:s3cret")},
		{name: "bearer", mod: func(c *prefect.ClientConfig) { c.APIKey = "pnu_key" }, header: "Bearer pnu_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := prefecttest.NewServer(t)
			srv.Auth = tt.header
			srv.AddDeployment("christmas-send-email", "christmas-send-email", nil)
			good := newClient(t, srv.APIURL(), tt.mod)
			if _, err := good.ReadDeploymentByName(context.Background(), "christmas-send-email", "christmas-send-email"); err != nil {
				t.Fatalf("with auth: %v", err)
			}
			bad := newClient(t, srv.APIURL(), nil)
			_, err := bad.ReadDeploymentByName(context.Background(), "christmas-send-email", "christmas-send-email")
			if e := prefect.AsError(err); e == nil || e.Status != http.StatusUnauthorized || e.Message != "Unauthorized" {
				t.Fatalf("without auth: %v, want 401 Unauthorized", err)
			}
		})
	}
}

func TestClient_ReadDeploymentByName_Cache(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	id := srv.AddDeployment("christmas-send-email", "christmas-send-email", nil)
	clk := newClock(t0)
	c := newClient(t, srv.APIURL(), func(cfg *prefect.ClientConfig) {
		cfg.Now, cfg.DeploymentTTL = clk.Now, time.Minute
	})
	ctx := context.Background()
	for range 3 {
		d, err := c.ReadDeploymentByName(ctx, "christmas-send-email", "christmas-send-email")
		if err != nil || d.ID != id {
			t.Fatalf("read: %+v %v, want id %s", d.ID, err, id)
		}
	}
	if got := srv.Calls(); got != 1 {
		t.Fatalf("calls = %d, want 1 (cached)", got)
	}
	clk.Add(2 * time.Minute)
	if _, err := c.ReadDeploymentByName(ctx, "christmas-send-email", "christmas-send-email"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls(); got != 2 {
		t.Fatalf("calls after TTL = %d, want 2", got)
	}
	_, err := c.ReadDeploymentByName(ctx, "christmas-send-email", "christmas-email-9")
	if !errors.Is(err, prefect.ErrNotFound) {
		t.Fatalf("missing deployment: %v, want ErrNotFound", err)
	}
}

func TestClient_CreateFlowRun_Idempotency(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	id := srv.AddDeployment("christmas-send-email", "christmas-send-email", prefecttest.SendEmailContract)
	c := newClient(t, srv.APIURL(), nil)
	at := t0.Add(24 * time.Hour)
	in := prefect.FlowRunCreate{
		Name:           "christmas-send-email-r1-e2",
		Parameters:     map[string]any{"email": "a@example.com", "email_number": 2},
		IdempotencyKey: "R1-e2",
		State: &prefect.StateCreate{Type: prefect.Scheduled, Name: "Scheduled",
			StateDetails: &prefect.StateDetailsCreate{ScheduledTime: &at}},
	}
	first, existed, err := c.CreateFlowRun(context.Background(), id, in)
	if err != nil || existed {
		t.Fatalf("first create: existed=%v err=%v", existed, err)
	}
	second, existed, err := c.CreateFlowRun(context.Background(), id, in)
	if err != nil || !existed || second.ID != first.ID {
		t.Fatalf("second create: id %s existed=%v err=%v, want %s existing", second.ID, existed, err, first.ID)
	}
	if first.State == nil || first.State.Type != prefect.Scheduled ||
		first.State.StateDetails.ScheduledTime == nil || !first.State.StateDetails.ScheduledTime.Equal(at) {
		t.Fatalf("state = %+v, want SCHEDULED at %s", first.State, at)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("schema violations: %v", v)
	}
}

func TestClient_Retries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      []int
		key       string
		wantErr   int
		wantCalls int
	}{
		{name: "503 then ok", fail: []int{503, 503}, key: "k", wantCalls: 3},
		{name: "429 then ok without key", fail: []int{429}, wantCalls: 2},
		{name: "500 without key is not repeated", fail: []int{500}, wantErr: 500, wantCalls: 1},
		{name: "500 with key is repeated", fail: []int{500}, key: "k", wantCalls: 2},
		{name: "persisting 503", fail: []int{503, 503, 503}, key: "k", wantErr: 503, wantCalls: 3},
		{name: "422 is not repeated", fail: []int{422}, key: "k", wantErr: 422, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := prefecttest.NewServer(t)
			id := srv.AddDeployment("f", "d", nil)
			srv.FailNext(tt.fail...)
			c := newClient(t, srv.APIURL(), nil)
			_, _, err := c.CreateFlowRun(context.Background(), id, prefect.FlowRunCreate{IdempotencyKey: tt.key})
			if tt.wantErr == 0 && err != nil {
				t.Fatalf("err = %v", err)
			}
			if e := prefect.AsError(err); tt.wantErr != 0 && (e == nil || e.Status != tt.wantErr) {
				t.Fatalf("err = %v, want status %d", err, tt.wantErr)
			}
			if got := srv.Calls(); got != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestClient_RetryAfter(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"detail":"rate limited"}`))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL+"/api", nil)
	err := c.Health(context.Background())
	e := prefect.AsError(err)
	if e == nil || e.Status != 429 || e.RetryAfter() != 120*time.Second || !e.Temporary() || e.Permanent() {
		t.Fatalf("err = %#v, want 429 asking for 120s", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("calls = %d: a wait longer than MaxInlineWait must go back to the caller", calls)
	}
}

func TestClient_ReadSecret(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	srv.AddSecret("notion-token", "secret_abc")
	srv.AddSecret("testing-mode", true)
	srv.AddSecret("json-block", map[string]any{"a": 1})
	c := newClient(t, srv.APIURL(), nil)
	tests := []struct {
		name, block, want string
		wantErr           error
	}{
		{name: "string", block: "notion-token", want: "secret_abc"},
		{name: "bool", block: "testing-mode", want: "true"},
		{name: "json", block: "json-block", want: `{"a":1}`},
		{name: "missing", block: "resend-api-key", wantErr: prefect.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ReadSecret(context.Background(), tt.block)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestFlowRun_DecodesPrefectAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		wantType  prefect.StateType
		wantName  string
		scheduled bool
	}{
		{file: "prefect-flow-run-1.json", wantType: prefect.Scheduled, wantName: "Scheduled", scheduled: true},
		{file: "prefect-flow-run-2.json", wantType: prefect.Completed, wantName: "Completed"},
		{file: "prefect-flow-run-3.json", wantType: prefect.Scheduled, wantName: "deployment-run", scheduled: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var fr prefect.FlowRun
			if err := json.Unmarshal(raw, &fr); err != nil {
				t.Fatal(err)
			}
			if fr.State == nil || fr.State.Type != tt.wantType || fr.State.Name != tt.wantName {
				t.Fatalf("state = %+v", fr.State)
			}
			if got := fr.State.StateDetails.ScheduledTime != nil; got != tt.scheduled {
				t.Fatalf("scheduled_time present = %v, want %v", got, tt.scheduled)
			}
			if probs := prefecttest.CheckFlowRun(raw); len(probs) > 0 {
				t.Fatalf("fixture fails the flow run check: %v", probs)
			}
		})
	}
}

func TestOrchestrationResult_Cancelled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  prefect.OrchestrationResult
		want bool
	}{
		{name: "accept cancelling", res: prefect.OrchestrationResult{Status: prefect.Accept, State: &prefect.State{Type: prefect.Cancelling}}, want: true},
		{name: "reject with cancelled", res: prefect.OrchestrationResult{Status: prefect.Reject, State: &prefect.State{Type: prefect.Cancelled}}, want: true},
		{name: "reject with running", res: prefect.OrchestrationResult{Status: prefect.Reject, State: &prefect.State{Type: prefect.Running}}},
		{name: "abort", res: prefect.OrchestrationResult{Status: prefect.Abort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.Cancelled(); got != tt.want {
				t.Fatalf("Cancelled() = %v, want %v", got, tt.want)
			}
		})
	}
}
