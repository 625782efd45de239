package resend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"perfect/internal/resend"
	"perfect/internal/resend/resendtest"
)

const apiKey = "re_secret_key_123"

// newClient returns a client on s without rate limit and with a short
// timeout; edit changes the config first.
func newClient(t *testing.T, s *resendtest.Server, edit func(*resend.Config)) *resend.Client {
	t.Helper()
	cfg := resend.Config{APIKey: apiKey, BaseURL: s.URL, RatePerSecond: -1, Timeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	c, err := resend.New(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

func email(key string) resend.Email {
	return resend.Email{
		From:           "Team <team@example.com>",
		To:             "jane@example.org",
		ReplyTo:        "help@example.com",
		Subject:        "Your call",
		HTML:           "<p>See you</p>",
		Text:           "See you",
		Headers:        map[string]string{"List-Unsubscribe": "<https://example.com/u>"},
		IdempotencyKey: key,
		Tags:           map[string]string{"step": "2", "flow": "signup"},
	}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestClient_Send(t *testing.T) {
	s := resendtest.NewServer(t)
	c := newClient(t, s, nil)

	id, err := c.Send(context.Background(), email("run1/step2"))
	if err != nil {
		t.Fatalf("send: %v", err)
	}

	got := s.Received()
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("received %+v, want one email with id %s", got, id)
	}
	want := resendtest.SendRequest{
		From:    "Team <team@example.com>",
		To:      resendtest.Addresses{"jane@example.org"},
		Subject: "Your call",
		HTML:    "<p>See you</p>",
		Text:    "See you",
		ReplyTo: resendtest.Addresses{"help@example.com"},
		Headers: map[string]string{"List-Unsubscribe": "<https://example.com/u>"},
		Tags:    []resendtest.Tag{{Name: "flow", Value: "signup"}, {Name: "step", Value: "2"}},
	}
	if !reflect.DeepEqual(got[0].Body, want) {
		t.Errorf("body = %+v\nwant %+v", got[0].Body, want)
	}

	h := got[0].Header
	for name, want := range map[string]string{
		"Idempotency-Key": "run1/step2",
		"Authorization":   "Bearer " + apiKey,
		"Content-Type":    "application/json",
	} {
		if v := h.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
}

func TestClient_SendReplaysSameKey(t *testing.T) {
	s := resendtest.NewServer(t)
	c := newClient(t, s, nil)

	first, err := c.Send(context.Background(), email("k"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Send(context.Background(), email("k"))
	if err != nil {
		t.Fatal(err)
	}
	if first != second || s.CountByKey()["k"] != 1 || s.Requests() != 2 {
		t.Errorf("ids %s/%s, CountByKey %d, Requests %d: want one send replayed",
			first, second, s.CountByKey()["k"], s.Requests())
	}
}

func TestClient_SendErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault func(t *testing.T, s *resendtest.Server)
		email func(resend.Email) resend.Email
		key   string

		wantKind    resend.Kind
		wantStatus  int
		wantName    string
		wantMessage string
		wantAfter   time.Duration
	}{
		{
			name: "RateLimitedWithRetryAfter",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 429, fixture(t, "resend-error-429-rate_limit-body.json"), http.Header{
					"Retry-After": {"3"}, "Ratelimit-Limit": {"2"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"1"},
				})
			},
			wantKind: resend.RateLimited, wantStatus: 429, wantMessage: "Rate limit exceeded", wantAfter: 3 * time.Second,
		},
		{
			name: "RateLimitedResetOnly",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 429, `{"statusCode":429,"name":"rate_limit_exceeded","message":"slow down"}`,
					http.Header{"Ratelimit-Reset": {"2"}})
			},
			wantKind: resend.RateLimited, wantStatus: 429, wantName: "rate_limit_exceeded", wantAfter: 2 * time.Second,
		},
		{
			name: "DailyQuota",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 429, `{"statusCode":429,"name":"daily_quota_exceeded","message":"You have reached your daily email sending quota."}`, nil)
			},
			wantKind: resend.Quota, wantStatus: 429, wantName: "daily_quota_exceeded",
		},
		{
			name: "MonthlyQuota",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 429, `{"statusCode":429,"name":"monthly_quota_exceeded","message":"Monthly quota reached."}`, nil)
			},
			wantKind: resend.Quota, wantStatus: 429, wantName: "monthly_quota_exceeded",
		},
		{
			name: "ServerError",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 500, `{"statusCode":500,"name":"internal_server_error","message":"Unexpected error"}`, nil)
			},
			wantKind: resend.Retryable, wantStatus: 500, wantName: "internal_server_error", wantMessage: "Unexpected error",
		},
		{
			name: "UnavailableNotJSON",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 503, "<html>bad gateway</html>", http.Header{"Content-Type": {"text/html"}, "Retry-After": {"10"}})
			},
			wantKind: resend.Retryable, wantStatus: 503, wantMessage: "Service Unavailable", wantAfter: 10 * time.Second,
		},
		{
			name: "ValidationFixture",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 422, fixture(t, "resend-error-422-validation_error.json"), nil)
			},
			wantKind: resend.Permanent, wantStatus: 422, wantName: "validation_error",
			wantMessage: "expires_in must not exceed 48 hours",
		},
		{
			name:     "MissingSubject",
			email:    func(e resend.Email) resend.Email { e.Subject = ""; return e },
			wantKind: resend.Permanent, wantStatus: 422, wantName: "missing_required_field",
			wantMessage: "Missing `subject` field.",
		},
		{
			name:     "InvalidRecipient",
			email:    func(e resend.Email) resend.Email { e.To = "not-an-address"; return e },
			wantKind: resend.Permanent, wantStatus: 422, wantName: "validation_error",
		},
		{
			name: "ChangedBodySameKey",
			fault: func(t *testing.T, s *resendtest.Server) {
				c := newClient(t, s, nil)
				e := email("k")
				e.Subject = "Other subject"
				if _, err := c.Send(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			},
			key:      "k",
			wantKind: resend.Permanent, wantStatus: 409, wantName: "invalid_idempotent_request",
		},
		{
			name: "ConcurrentScripted",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 409, `{"statusCode":409,"name":"concurrent_idempotent_requests","message":"in progress"}`, nil)
			},
			wantKind: resend.Retryable, wantStatus: 409, wantName: "concurrent_idempotent_requests",
		},
		{
			name: "MissingKey401",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 401, `{"statusCode":401,"name":"missing_api_key","message":"Missing API key"}`, nil)
			},
			wantKind: resend.Permanent, wantStatus: 401, wantName: "missing_api_key",
		},
		{
			name:     "WrongKey403",
			fault:    func(t *testing.T, s *resendtest.Server) { s.RequireAPIKey("re_other") },
			wantKind: resend.Permanent, wantStatus: 403, wantName: "invalid_api_key",
		},
		{
			name: "Garbage200",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 200, "<html>ok</html>", http.Header{"Content-Type": {"text/html"}})
			},
			wantKind: resend.Retryable, wantStatus: 200, wantName: "invalid_response",
		},
		{
			name: "NoID200",
			fault: func(t *testing.T, s *resendtest.Server) {
				s.FailNext(1, 200, `{"object":"email"}`, nil)
			},
			wantKind: resend.Retryable, wantStatus: 200, wantName: "invalid_response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := resendtest.NewServer(t)
			if tt.fault != nil {
				tt.fault(t, s)
			}
			before := s.Requests()
			e := email(tt.key)
			if tt.email != nil {
				e = tt.email(e)
			}

			_, err := newClient(t, s, nil).Send(context.Background(), e)

			re := checkError(t, err, tt.wantKind, tt.wantStatus, tt.wantName)
			if tt.wantMessage != "" && re.Message != tt.wantMessage {
				t.Errorf("Message = %q, want %q", re.Message, tt.wantMessage)
			}
			if re.RetryAfter != tt.wantAfter {
				t.Errorf("RetryAfter = %s, want %s", re.RetryAfter, tt.wantAfter)
			}
			if n := s.Requests() - before; n != 1 {
				t.Errorf("made %d HTTP calls, want exactly 1", n)
			}
		})
	}
}

// checkError asserts err is an *Error of the given kind, status and name.
func checkError(t *testing.T, err error, kind resend.Kind, status int, name string) *resend.Error {
	t.Helper()
	var re *resend.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *resend.Error", err, err)
	}
	if re.Kind != kind || re.Status != status || (name != "" && re.Name != name) {
		t.Errorf("error = %s/%d/%s, want %s/%d/%s (%v)", re.Kind, re.Status, re.Name, kind, status, name, re)
	}
	if re.Temporary() != (kind != resend.Permanent) {
		t.Errorf("Temporary() = %v for %s", re.Temporary(), kind)
	}
	if strings.Contains(re.Error(), apiKey) {
		t.Errorf("error text leaks the API key: %s", re.Error())
	}
	return re
}

func TestClient_SendConcurrentDuplicate(t *testing.T) {
	s := resendtest.NewServer(t)
	c := newClient(t, s, nil)
	release := s.Pause()

	done := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), email("k"))
		done <- err
	}()
	if !s.WaitHeld(1, 5*time.Second) {
		t.Fatal("first send never reached the fake")
	}

	_, err := c.Send(context.Background(), email("k"))
	checkError(t, err, resend.Retryable, 409, "concurrent_idempotent_requests")

	release()
	if err := <-done; err != nil {
		t.Errorf("first send: %v", err)
	}
	if n := s.CountByKey()["k"]; n != 1 {
		t.Errorf("CountByKey = %d, want 1", n)
	}
}

func TestClient_SendTimeout(t *testing.T) {
	s := resendtest.NewServer(t)
	s.SetHandler(func(w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done() // hang until the client gives up
		return true
	})
	c := newClient(t, s, func(cfg *resend.Config) { cfg.Timeout = 100 * time.Millisecond })

	start := time.Now()
	_, err := c.Send(context.Background(), email("k"))

	re := checkError(t, err, resend.Retryable, 0, "timeout")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout error %v does not wrap context.DeadlineExceeded", re)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("send took %s, the timeout is 100ms", d)
	}
	if n := s.Requests(); n != 1 {
		t.Errorf("Requests = %d, want 1", n)
	}
}

func TestClient_SendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	c, err := resend.New(resend.Config{APIKey: apiKey, BaseURL: "http://" + addr, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), email("k"))
	checkError(t, err, resend.Retryable, 0, "network_error")
}

func TestClient_SendLostResponse(t *testing.T) {
	s := resendtest.NewServer(t)
	c := newClient(t, s, nil)
	s.DropNextResponses(1)

	_, err := c.Send(context.Background(), email("k"))
	checkError(t, err, resend.Retryable, 0, "network_error")
	if n := s.Requests(); n != 1 {
		t.Fatalf("Requests = %d after a lost response, want 1 (no transport retry)", n)
	}

	// The retry with the same key gets the original id and sends nothing.
	id, err := c.Send(context.Background(), email("k"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Received(); len(got) != 1 || got[0].ID != id || s.CountByKey()["k"] != 1 {
		t.Errorf("after retry: received %d, id %s, CountByKey %d", len(got), id, s.CountByKey()["k"])
	}
}

func TestClient_SendBatch(t *testing.T) {
	s := resendtest.NewServer(t)
	c := newClient(t, s, nil)
	emails := []resend.Email{email(""), email(""), email("")}
	emails[1].To = "bob@example.org"

	ids, err := c.SendBatch(context.Background(), emails, "batch-1")
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	got := s.Received()
	if len(ids) != 3 || len(got) != 3 {
		t.Fatalf("ids %v, received %d, want 3 of each", ids, len(got))
	}
	for i, rec := range got {
		if rec.ID != ids[i] || rec.Key != "batch-1" || !rec.Batch {
			t.Errorf("received[%d] = id %s key %s batch %v, want id %s", i, rec.ID, rec.Key, rec.Batch, ids[i])
		}
	}
	if to := got[1].Body.To; len(to) != 1 || to[0] != "bob@example.org" {
		t.Errorf("second email to = %v", to)
	}
	if v := got[0].Header.Get("X-Batch-Validation"); v != "strict" {
		t.Errorf("x-batch-validation = %q, want strict", v)
	}
}

func TestClient_SendBatchRefused(t *testing.T) {
	tests := []struct {
		name       string
		emails     int
		breakOne   bool
		key        string
		wantStatus int
		wantCalls  int
	}{
		{name: "InvalidEmail", emails: 3, breakOne: true, wantStatus: 422, wantCalls: 1},
		{name: "Empty", emails: 0, wantCalls: 0},
		{name: "TooMany", emails: resend.MaxBatch + 1, wantCalls: 0},
		{name: "LongKey", emails: 1, key: strings.Repeat("k", 257), wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := resendtest.NewServer(t)
			emails := make([]resend.Email, tt.emails)
			for i := range emails {
				emails[i] = email("")
			}
			if tt.breakOne {
				emails[2].From = ""
			}

			ids, err := newClient(t, s, nil).SendBatch(context.Background(), emails, tt.key)

			checkError(t, err, resend.Permanent, tt.wantStatus, "")
			if ids != nil || len(s.Received()) != 0 {
				t.Errorf("refused batch returned ids %v and sent %d", ids, len(s.Received()))
			}
			if n := s.Requests(); n != tt.wantCalls {
				t.Errorf("Requests = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestClient_SendBatchGarbage(t *testing.T) {
	s := resendtest.NewServer(t)
	s.FailNext(1, 200, fixture(t, "resend-batch-response.json"), nil)

	// The fixture holds three ids; a batch of two cannot match them.
	_, err := newClient(t, s, nil).SendBatch(context.Background(), []resend.Email{email(""), email("")}, "b")
	checkError(t, err, resend.Retryable, 200, "invalid_response")
}

func TestClient_Limiter(t *testing.T) {
	s := resendtest.NewServer(t)
	// One token per second hour: after the burst, nothing refills during the test.
	c := newClient(t, s, func(cfg *resend.Config) { cfg.RatePerSecond = 1.0 / 3600; cfg.Burst = 3 })
	ctx := context.Background()

	for i := range 2 {
		if _, err := c.Send(ctx, email(fmt.Sprintf("k%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendBatch(ctx, []resend.Email{email(""), email("")}, "b"); err != nil {
		t.Fatal(err)
	}

	// The burst of three is spent: the next send must wait an hour, so a
	// short deadline fails before any HTTP call.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.Send(short, email("k9"))
	checkError(t, err, resend.Retryable, 0, "rate_wait")
	if n := s.Requests(); n != 3 {
		t.Errorf("Requests = %d, want 3 (one per token)", n)
	}

	c.SetRate(0)
	if _, err := c.Send(ctx, email("k9")); err != nil {
		t.Errorf("send after lifting the limit: %v", err)
	}
}

func TestClient_LimiterPacing(t *testing.T) {
	s := resendtest.NewServer(t)
	const n, perSecond = 4, 20.0
	c := newClient(t, s, func(cfg *resend.Config) { cfg.RatePerSecond = perSecond })

	start := time.Now()
	for i := range n {
		if _, err := c.Send(context.Background(), email(fmt.Sprintf("k%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	want := time.Duration(float64(n-1) / perSecond * float64(time.Second))
	// rate.Limiter may grant a token a hair early; allow 5ms of slack.
	if d := time.Since(start); d < want-5*time.Millisecond {
		t.Errorf("%d sends at %v/s took %s, want at least %s", n, perSecond, d, want)
	}
}

func TestClient_Logging(t *testing.T) {
	s := resendtest.NewServer(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, s, func(cfg *resend.Config) { cfg.Logger = logger })
	s.FailNext(1, 503, `{"statusCode":503,"name":"internal_server_error","message":"cannot reach jane@example.org"}`,
		http.Header{"Retry-After": {"4"}})

	if _, err := c.Send(context.Background(), email("k")); err == nil {
		t.Fatal("want an error")
	}
	out := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"status":503`, `"name":"internal_server_error"`,
		`"retry_after":4000000000`, `"to":"j***@example.org"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{apiKey, "jane@example.org"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q:\n%s", secret, out)
		}
	}

	buf.Reset()
	e := email("k2")
	e.Subject = ""
	if _, err := c.Send(context.Background(), e); err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(buf.String(), "WARN") {
		t.Errorf("permanent error logged at Warn:\n%s", buf.String())
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     resend.Config
		wantErr bool
	}{
		{name: "Defaults", cfg: resend.Config{APIKey: apiKey}},
		{name: "NoKey", cfg: resend.Config{APIKey: "  "}, wantErr: true},
		{name: "RelativeURL", cfg: resend.Config{APIKey: apiKey, BaseURL: "api.resend.com"}, wantErr: true},
		{name: "BadScheme", cfg: resend.Config{APIKey: apiKey, BaseURL: "ftp://x/"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resend.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestNew_BaseURLPrefixAndHTTPClient(t *testing.T) {
	api := resendtest.NewAPI()
	srv := httptest.NewServer(http.StripPrefix("/proxy", api))
	t.Cleanup(srv.Close)

	hc := &http.Client{Transport: http.DefaultTransport}
	c, err := resend.New(resend.Config{APIKey: apiKey, BaseURL: srv.URL + "/proxy", HTTPClient: hc, RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), email("k")); err != nil {
		t.Fatalf("send through a base url without trailing slash: %v", err)
	}
	if len(api.Received()) != 1 {
		t.Errorf("fake received %d emails, want 1", len(api.Received()))
	}
	if hc.Transport != http.DefaultTransport {
		t.Errorf("New modified the caller's http.Client")
	}
}

func TestAsError(t *testing.T) {
	if resend.AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}

	classified := &resend.Error{Kind: resend.Quota, Status: 429}
	if got := resend.AsError(fmt.Errorf("send step: %w", classified)); got != classified {
		t.Errorf("AsError of a wrapped *Error = %v, want the same value", got)
	}

	got := resend.AsError(fmt.Errorf("send step: %w", context.Canceled))
	if got.Kind != resend.Retryable || !errors.Is(got, context.Canceled) {
		t.Errorf("AsError(canceled) = %v, want Retryable wrapping context.Canceled", got)
	}
}

func TestError_Error(t *testing.T) {
	e := &resend.Error{Kind: resend.RateLimited, Status: 429, Name: "rate_limit_exceeded",
		Message: "Too many requests", RetryAfter: 2 * time.Second}
	want := "resend rate_limited: status 429: rate_limit_exceeded: Too many requests (retry after 2s)"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestClient_SendFixtureResponse(t *testing.T) {
	s := resendtest.NewServer(t)
	s.FailNext(1, 200, fixture(t, "resend-send-response.json"), nil)

	id, err := newClient(t, s, nil).Send(context.Background(), email("k"))
	if err != nil || id != "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" {
		t.Errorf("Send = %q, %v; want the fixture id", id, err)
	}
}

func TestClient_SendBatchPartialAnswer(t *testing.T) {
	s := resendtest.NewServer(t)
	s.FailNext(1, 200, fixture(t, "resend-batch-response-permissive.json"), nil)

	// A strict batch must never come back partly refused; if it does,
	// retrying would only replay the same answer.
	emails := []resend.Email{email(""), email(""), email("")}
	_, err := newClient(t, s, nil).SendBatch(context.Background(), emails, "b")
	re := checkError(t, err, resend.Permanent, 200, "batch_rejected")
	if !strings.Contains(re.Message, "email 2") {
		t.Errorf("Message = %q, want the refused index", re.Message)
	}
}
