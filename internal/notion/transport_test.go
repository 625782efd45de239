package notion_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
)

var sentRow = notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E2", Number: 2,
	Status: notion.StatusSent, SentAt: t0, ResendID: "re_1"}

const (
	createPath = "/v1/pages"
	queryPath  = "/v1/databases/*/query"
	pagePath   = "/v1/pages/*"
)

func requestsTo(srv *notiontest.Server, method, path string) []notiontest.Request {
	var out []notiontest.Request
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func statuses(reqs []notiontest.Request) []int {
	var out []int
	for _, r := range reqs {
		out = append(out, r.Status)
	}
	return out
}

// notionapi's own 429 retry resends an empty body; ours must resend it whole.
func TestClient_RetriesRateLimitedPostWithItsBody(t *testing.T) {
	t.Parallel()
	srv, c, sl := setup(t)
	srv.FailOn("POST", createPath, 1, 429, "rate_limited", 2*time.Second)

	if err := c.Apply(context.Background(), sentRow); err != nil {
		t.Fatal(err)
	}

	posts := requestsTo(srv, "POST", createPath)
	if got := statuses(posts); !slices.Equal(got, []int{429, 200}) {
		t.Fatalf("create statuses = %v, want [429 200]", got)
	}
	if len(posts[1].Body) == 0 || !bytes.Equal(posts[0].Body, posts[1].Body) {
		t.Errorf("retried body = %q, want the original %q", posts[1].Body, posts[0].Body)
	}
	if got := sl.all(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
		t.Errorf("waits = %v, want [2s] from Retry-After", got)
	}
	if n := len(srv.Pages(notiontest.AnalyticsDB)); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
}

func TestClient_TransportRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		method, path   string
		n, status      int
		code           string
		retryAfter     time.Duration
		wantErrStatus  int // 0: Apply succeeds
		wantRetryAfter time.Duration
		wantWaits      int
	}{
		{name: "529 on a query is retried", method: "POST", path: queryPath, n: 2, status: 529,
			code: "service_overload", retryAfter: time.Second, wantWaits: 2},
		{name: "503 on an update is retried", method: "PATCH", path: pagePath, n: 1, status: 503,
			code: "service_unavailable", retryAfter: -1, wantWaits: 1},
		{name: "503 on a create is left to the caller", method: "POST", path: createPath, n: 1, status: 503,
			code: "service_unavailable", retryAfter: -1, wantErrStatus: 503},
		{name: "500 is left to the caller", method: "POST", path: queryPath, n: 1, status: 500,
			code: "internal_server_error", retryAfter: -1, wantErrStatus: 500},
		{name: "long Retry-After is left to the caller", method: "POST", path: queryPath, n: 1, status: 429,
			code: "rate_limited", retryAfter: 45 * time.Second, wantErrStatus: 429, wantRetryAfter: 45 * time.Second},
		{name: "attempts run out", method: "POST", path: queryPath, n: 4, status: 429,
			code: "rate_limited", retryAfter: 0, wantErrStatus: 429, wantWaits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, sl := setup(t)
			srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})
			srv.FailOn(tt.method, tt.path, tt.n, tt.status, tt.code, tt.retryAfter)
			op := notion.Op(sentRow)
			if tt.method == "PATCH" {
				op = notion.Booking{Email: "jane@example.com", MeetingAt: t0}
			}

			err := c.Apply(context.Background(), op)

			if got := len(sl.all()); got != tt.wantWaits {
				t.Errorf("in-call waits = %d (%v), want %d", got, sl.all(), tt.wantWaits)
			}
			if tt.wantErrStatus == 0 {
				if err != nil {
					t.Fatalf("Apply = %v", err)
				}
				return
			}
			var e *notion.Error
			if !errors.As(err, &e) || e.Status != tt.wantErrStatus || e.Code != tt.code || !notion.Retryable(err) {
				t.Fatalf("Apply = %v, want retryable %d %s", err, tt.wantErrStatus, tt.code)
			}
			if got := notion.RetryAfter(err); got != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
			}

			// Applying again once Notion is back writes the row exactly once.
			if err := c.Apply(context.Background(), op); err != nil {
				t.Fatal(err)
			}
			if n := len(srv.Pages(notiontest.AnalyticsDB)); op.Kind() == notion.KindAnalytics && n != 1 {
				t.Errorf("rows = %d, want 1", n)
			}
		})
	}
}

// A create whose answer is lost (the write landed) is found, not repeated.
func TestClient_LostAnswerDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   notion.Op
		db   string
	}{
		{name: "analytics", op: sentRow, db: notiontest.AnalyticsDB},
		{name: "sequence start", op: notion.SequenceStart{Email: "jane@example.com",
			SequenceType: notion.SequenceNoShow, CreatedAt: t0}, db: notiontest.SequenceDB},
		{name: "christmas assessment", op: notion.ChristmasAssessment{Email: "jane@example.com",
			Segment: "URGENT", SignedUpAt: t0}, db: notiontest.SequenceDB},
		{name: "email sent", op: notion.EmailSent{Email: "jane@example.com", Number: 2, SentAt: t0},
			db: notiontest.SequenceDB},
		{name: "bx signup", op: notion.BXSignup{Email: "jane@example.com", Name: "Jane", At: t0},
			db: notiontest.ContactsDB},
		{name: "bx assessment", op: notion.BXAssessment{Email: "jane@example.com", Segment: "URGENT"},
			db: notiontest.ContactsDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := setup(t)
			srv.LandThenFailOn("POST", createPath, 1, 504, "gateway_timeout")

			err := c.Apply(context.Background(), tt.op)
			if !notion.Retryable(err) {
				t.Fatalf("first Apply = %v, want a retryable error", err)
			}
			if err := c.Apply(context.Background(), tt.op); err != nil {
				t.Fatalf("second Apply = %v", err)
			}

			if n := len(srv.Pages(tt.db)); n != 1 {
				t.Errorf("pages = %d, want 1", n)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	htmlProxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	t.Cleanup(htmlProxy.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name          string
		edit          func(*notion.Config)
		fault         func(*notiontest.Server)
		wantStatus    int
		wantRetryable bool
	}{
		{name: "validation error", fault: func(s *notiontest.Server) {
			s.FailNext(1, 400, "validation_error", -1)
		}, wantStatus: 400},
		{name: "unauthorized", edit: func(c *notion.Config) { c.Token = "secret_wrong" }, wantStatus: 401},
		{name: "restricted", fault: func(s *notiontest.Server) {
			s.FailNext(1, 403, "restricted_resource", -1)
		}, wantStatus: 403},
		{name: "database not shared", edit: func(c *notion.Config) {
			c.AnalyticsDB = "0b1e7a11-0000-4000-8000-0000000000ff"
		}, wantStatus: 404},
		{name: "conflict", fault: func(s *notiontest.Server) {
			s.FailNext(1, 409, "conflict_error", -1)
		}, wantStatus: 409, wantRetryable: true},
		{name: "internal error", fault: func(s *notiontest.Server) {
			s.FailNext(1, 500, "internal_server_error", -1)
		}, wantStatus: 500, wantRetryable: true},
		{name: "html from a proxy", edit: func(c *notion.Config) { c.BaseURL = htmlProxy.URL },
			wantStatus: 502, wantRetryable: true},
		{name: "network", edit: func(c *notion.Config) { c.BaseURL = closed.URL }, wantRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := setup(t, func(cfg *notion.Config) {
				if tt.edit != nil {
					tt.edit(cfg)
				}
			})
			if tt.fault != nil {
				tt.fault(srv)
			}

			err := c.Apply(context.Background(), sentRow)

			var e *notion.Error
			if !errors.As(err, &e) || e.Status != tt.wantStatus {
				t.Fatalf("Apply = %v, want status %d", err, tt.wantStatus)
			}
			if got := notion.Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable = %v, want %v", got, tt.wantRetryable)
			}
		})
	}
	if notion.Retryable(context.Canceled) || notion.Retryable(nil) {
		t.Error("a cancelled context or nil is not retryable")
	}
}

func TestClient_BaseURLWithPrefix(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	proxy := httptest.NewServer(http.StripPrefix("/notion", srv))
	t.Cleanup(proxy.Close)
	cfg := configFor(srv, &sleeps{})
	cfg.BaseURL = proxy.URL + "/notion/v1/"
	c, err := notion.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	if err := c.Apply(context.Background(), sentRow); err != nil {
		t.Fatal(err)
	}
	if got := srv.Count("POST", createPath); got != 1 {
		t.Errorf("creates through the prefix = %d, want 1", got)
	}
}

func TestNew_Invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  notion.Config
	}{
		{name: "no token", cfg: notion.Config{BaseURL: "http://127.0.0.1:1"}},
		{name: "relative base URL", cfg: notion.Config{Token: "t", BaseURL: "/v1"}},
		{name: "other scheme", cfg: notion.Config{Token: "t", BaseURL: "ftp://example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := notion.New(tt.cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

// Every call of one client, from any goroutine, waits for the same limiter.
func TestClient_SharedRateLimit(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, func(cfg *notion.Config) { cfg.RatePerSecond = 100 })
	const calls = 150 // 100 at once (the burst), then 50 at 100/s: about 0.5 s

	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range calls / 3 {
				// A booking for an unknown contact is exactly one query.
				if err := c.Apply(context.Background(), notion.Booking{Email: "x@example.com", MeetingAt: t0}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("%d calls took %v, want at least 0.4 s at 100/s", calls, took)
	}
}
