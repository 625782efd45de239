package resendtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/internal/resend/resendtest"
)

const testKey = "re_test_123"

const validEmail = `{"from":"Team <team@example.com>","to":["jane@example.org"],` +
	`"subject":"Hello","html":"<p>Hi</p>","text":"Hi","reply_to":"help@example.com",` +
	`"headers":{"X-Entity-Ref-ID":"abc"},"tags":[{"name":"flow","value":"signup"}]}`

// reply is one HTTP answer from the fake.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorBody decodes a Resend error body.
func (r reply) errorBody(t *testing.T) (name string, status int) {
	t.Helper()
	var e struct {
		StatusCode int    `json:"statusCode"`
		Name       string `json:"name"`
		Message    string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decode error body %q: %v", r.body, err)
	}
	if e.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return e.Name, e.StatusCode
}

// id decodes the id of a send answer.
func (r reply) id(t *testing.T) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(r.body, &v); err != nil || v.ID == "" {
		t.Fatalf("send answer %d %q has no id (err %v)", r.status, r.body, err)
	}
	return v.ID
}

// post sends body to path with the test key and extra headers.
func post(t *testing.T, url, path, body string, header map[string]string) reply {
	t.Helper()
	r, err := tryPost(url, path, body, header)
	if err != nil {
		t.Fatalf("post %s: %v", path, err)
	}
	return r
}

func tryPost(url, path, body string, header map[string]string) (reply, error) {
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "-" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func key(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }

func TestAPI_SendRecordsEmail(t *testing.T) {
	s := resendtest.NewServer(t)

	r := post(t, s.URL, "/emails", validEmail, key("step-1"))
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	id := r.id(t)
	if len(id) != 36 || id[14] != '4' {
		t.Errorf("id %q is not a v4 uuid", id)
	}

	got := s.Received()
	if len(got) != 1 {
		t.Fatalf("received %d emails, want 1", len(got))
	}
	want := resendtest.SendRequest{
		From:    "Team <team@example.com>",
		To:      resendtest.Addresses{"jane@example.org"},
		Subject: "Hello",
		HTML:    "<p>Hi</p>",
		Text:    "Hi",
		ReplyTo: resendtest.Addresses{"help@example.com"},
		Headers: map[string]string{"X-Entity-Ref-ID": "abc"},
		Tags:    []resendtest.Tag{{Name: "flow", Value: "signup"}},
	}
	if !reflect.DeepEqual(got[0].Body, want) {
		t.Errorf("body = %+v\nwant %+v", got[0].Body, want)
	}
	if got[0].ID != id || got[0].Key != "step-1" || got[0].Batch || got[0].At.IsZero() {
		t.Errorf("received = %+v", got[0])
	}
	if auth := got[0].Header.Get("Authorization"); auth != "Bearer "+testKey {
		t.Errorf("recorded Authorization = %q", auth)
	}
	if n := s.CountByKey()["step-1"]; n != 1 {
		t.Errorf("CountByKey = %d, want 1", n)
	}
}

func TestAPI_RefusesBadRequests(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantName   string
	}{
		{name: "NoAuthorization", path: "/emails", body: validEmail,
			header: map[string]string{"Authorization": "-"}, wantStatus: 401, wantName: "missing_api_key"},
		{name: "NotBearer", path: "/emails", body: validEmail,
			header: map[string]string{"Authorization": "Basic abc"}, wantStatus: 401, wantName: "missing_api_key"},
		{name: "NotResendKey", path: "/emails", body: validEmail,
			header: map[string]string{"Authorization": "Bearer sk_live"}, wantStatus: 403, wantName: "invalid_api_key"},
		{name: "UnknownPath", path: "/domains", body: validEmail, wantStatus: 404, wantName: "not_found"},
		{name: "WrongMethod", method: http.MethodGet, path: "/emails", wantStatus: 405, wantName: "method_not_allowed"},
		{name: "MissingTo", path: "/emails", body: `{"from":"a@example.com","subject":"s","text":"t"}`,
			wantStatus: 422, wantName: "missing_required_field"},
		{name: "EmptyTo", path: "/emails", body: `{"from":"a@example.com","to":"","subject":"s","text":"t"}`,
			wantStatus: 422, wantName: "missing_required_field"},
		{name: "NullTo", path: "/emails", body: `{"from":"a@example.com","to":null,"subject":"s","text":"t"}`,
			wantStatus: 422, wantName: "missing_required_field"},
		{name: "MissingSubject", path: "/emails", body: `{"from":"a@example.com","to":"b@example.com","text":"t"}`,
			wantStatus: 422, wantName: "missing_required_field"},
		{name: "MissingContent", path: "/emails", body: `{"from":"a@example.com","to":"b@example.com","subject":"s"}`,
			wantStatus: 422, wantName: "missing_required_field"},
		{name: "BadTo", path: "/emails", body: `{"from":"a@example.com","to":"nobody","subject":"s","text":"t"}`,
			wantStatus: 422, wantName: "validation_error"},
		{name: "BadFrom", path: "/emails", body: `{"from":"Team","to":"b@example.com","subject":"s","text":"t"}`,
			wantStatus: 422, wantName: "validation_error"},
		{name: "BadTag", path: "/emails",
			body:       `{"from":"a@example.com","to":"b@example.com","subject":"s","text":"t","tags":[{"name":"a:b","value":"x"}]}`,
			wantStatus: 422, wantName: "validation_error"},
		{name: "TooManyRecipients", path: "/emails",
			body:       fmt.Sprintf(`{"from":"a@example.com","to":[%s],"subject":"s","text":"t"}`, recipients(51)),
			wantStatus: 422, wantName: "validation_error"},
		{name: "NotJSON", path: "/emails", body: `{"from":`, wantStatus: 422, wantName: "validation_error"},
		{name: "EmptyBatch", path: "/emails/batch", body: `[]`, wantStatus: 422, wantName: "validation_error"},
		{name: "LongKey", path: "/emails", body: validEmail, header: key(strings.Repeat("k", 257)),
			wantStatus: 400, wantName: "invalid_idempotency_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := resendtest.NewServer(t)
			r := send(t, s.URL, tt.method, tt.path, tt.body, tt.header)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			name, code := r.errorBody(t)
			if name != tt.wantName || code != tt.wantStatus {
				t.Errorf("error = %s/%d, want %s/%d", name, code, tt.wantName, tt.wantStatus)
			}
			if len(s.Received()) != 0 {
				t.Errorf("refused request was recorded as sent")
			}
		})
	}
}

// send is post with an optional method.
func send(t *testing.T, url, method, path, body string, header map[string]string) reply {
	t.Helper()
	if method == "" || method == http.MethodPost {
		return post(t, url, path, body, header)
	}
	req, _ := http.NewRequest(method, url+path, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func recipients(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"r%d@example.com"`, i)
	}
	return strings.Join(parts, ",")
}

func TestAPI_MissingFromMatchesFixture(t *testing.T) {
	s := resendtest.NewServer(t)
	r := post(t, s.URL, "/emails", `{"to":"b@example.com","subject":"s","text":"t"}`, nil)

	fixture, err := os.ReadFile("../testdata/resend-error-422-missing_required_field.json")
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fixture, &want); err != nil {
		t.Fatal(err)
	}
	if r.status != 422 || !reflect.DeepEqual(got, want) {
		t.Errorf("answer %d %v, want 422 %v", r.status, got, want)
	}
}

func TestAPI_RequireAPIKey(t *testing.T) {
	s := resendtest.NewServer(t)
	s.RequireAPIKey("re_other")

	r := post(t, s.URL, "/emails", validEmail, nil)
	if name, _ := r.errorBody(t); r.status != 403 || name != "invalid_api_key" {
		t.Errorf("answer = %d %s, want 403 invalid_api_key", r.status, name)
	}
}

func TestAPI_Idempotency(t *testing.T) {
	s := resendtest.NewServer(t)
	now := time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })

	first := post(t, s.URL, "/emails", validEmail, key("k1")).id(t)

	// The same body with other spacing and field order is the same request.
	reordered := `{ "subject":"Hello", "from":"Team <team@example.com>", "to":["jane@example.org"],` +
		`"html":"<p>Hi</p>","text":"Hi","reply_to":"help@example.com",` +
		`"headers":{"X-Entity-Ref-ID":"abc"},"tags":[{"value":"signup","name":"flow"}]}`
	if again := post(t, s.URL, "/emails", reordered, key("k1")).id(t); again != first {
		t.Errorf("replay id = %s, want %s", again, first)
	}

	changed := strings.Replace(validEmail, "Hello", "Hello again", 1)
	r := post(t, s.URL, "/emails", changed, key("k1"))
	if name, _ := r.errorBody(t); r.status != 409 || name != "invalid_idempotent_request" {
		t.Errorf("changed body answer = %d %s, want 409 invalid_idempotent_request", r.status, name)
	}
	if n := len(s.Received()); n != 1 {
		t.Errorf("received %d emails within 24h, want 1", n)
	}

	mu.Lock()
	now = now.Add(resendtest.IdempotencyWindow)
	mu.Unlock()
	if later := post(t, s.URL, "/emails", validEmail, key("k1")).id(t); later == first {
		t.Errorf("after 24h the key still replayed %s", first)
	}
	if got := s.CountByKey()["k1"]; got != 2 {
		t.Errorf("CountByKey = %d after expiry, want 2", got)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests = %d, want 4", got)
	}
}

func TestAPI_ConcurrentDuplicate(t *testing.T) {
	s := resendtest.NewServer(t)
	release := s.Pause()

	firstDone := make(chan reply, 1)
	go func() {
		r, _ := tryPost(s.URL, "/emails", validEmail, key("k1"))
		firstDone <- r
	}()
	if !s.WaitHeld(1, 5*time.Second) {
		t.Fatal("first request never reached the fake")
	}

	r := post(t, s.URL, "/emails", validEmail, key("k1"))
	if name, _ := r.errorBody(t); r.status != 409 || name != "concurrent_idempotent_requests" {
		t.Errorf("duplicate answer = %d %s, want 409 concurrent_idempotent_requests", r.status, name)
	}

	release()
	if first := <-firstDone; first.status != http.StatusOK {
		t.Errorf("first request answer = %d %s", first.status, first.body)
	}
	if got := s.CountByKey()["k1"]; got != 1 {
		t.Errorf("CountByKey = %d, want 1", got)
	}
}

func TestAPI_HeldRequestAbandoned(t *testing.T) {
	s := resendtest.NewServer(t)
	release := s.Pause()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/emails", strings.NewReader(validEmail))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Idempotency-Key", "k1")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if !s.WaitHeld(1, 5*time.Second) {
		t.Fatal("request never reached the fake")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("held request got an answer")
	}
	// Wait until the fake saw the client leave, then check nothing was sent.
	if !s.WaitHeld(0, 5*time.Second) {
		t.Fatal("held request was never let go")
	}
	release()

	if n := len(s.Received()); n != 0 {
		t.Errorf("abandoned request was sent")
	}
	r := post(t, s.URL, "/emails", validEmail, key("k1"))
	if r.status != http.StatusOK {
		t.Errorf("retry after abandon = %d %s, want 200", r.status, r.body)
	}
}

func TestAPI_DropNextResponses(t *testing.T) {
	s := resendtest.NewServer(t)
	s.DropNextResponses(1)

	if _, err := tryPost(s.URL, "/emails", validEmail, key("k1")); err == nil {
		t.Fatal("dropped response reached the client")
	}
	sent := s.Received()
	if len(sent) != 1 {
		t.Fatalf("received %d emails, want the dropped one recorded", len(sent))
	}
	if id := post(t, s.URL, "/emails", validEmail, key("k1")).id(t); id != sent[0].ID {
		t.Errorf("retry id = %s, want replay of %s", id, sent[0].ID)
	}
	if got := s.CountByKey()["k1"]; got != 1 {
		t.Errorf("CountByKey = %d, want 1", got)
	}
}

func TestAPI_FailNextAndHandler(t *testing.T) {
	s := resendtest.NewServer(t)
	s.FailNext(2, 503, `{"statusCode":503,"name":"internal_server_error","message":"down"}`,
		http.Header{"Retry-After": {"7"}})

	for i := range 2 {
		r := post(t, s.URL, "/emails", validEmail, nil)
		if r.status != 503 || r.header.Get("Retry-After") != "7" {
			t.Errorf("request %d = %d (Retry-After %q), want scripted 503", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := post(t, s.URL, "/emails", validEmail, nil); r.status != 200 {
		t.Errorf("after faults = %d, want 200", r.status)
	}

	s.SetHandler(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusTeapot)
		return true
	})
	if r := post(t, s.URL, "/emails", validEmail, nil); r.status != http.StatusTeapot {
		t.Errorf("with hook = %d, want 418", r.status)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests = %d, want 4", got)
	}
	if got := len(s.Received()); got != 1 {
		t.Errorf("Received = %d, want 1", got)
	}
}

func TestAPI_Batch(t *testing.T) {
	s := resendtest.NewServer(t)
	batch := "[" + validEmail + "," + validEmail + "," + validEmail + "]"

	r := post(t, s.URL, "/emails/batch", batch, key("b1"))
	var got struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || len(got.Data) != 3 {
		t.Fatalf("batch answer = %d %s (err %v), want 3 ids", r.status, r.body, err)
	}
	for i, rec := range s.Received() {
		if !rec.Batch || rec.Key != "b1" || rec.ID != got.Data[i].ID {
			t.Errorf("received[%d] = %+v, want batch email %s", i, rec, got.Data[i].ID)
		}
	}

	replay := post(t, s.URL, "/emails/batch", batch, key("b1"))
	if string(replay.body) != string(r.body) {
		t.Errorf("batch replay = %s, want %s", replay.body, r.body)
	}
	if n, c := len(s.Received()), s.CountByKey()["b1"]; n != 3 || c != 1 {
		t.Errorf("after replay received %d (want 3), CountByKey %d (want 1)", n, c)
	}
}

func TestAPI_BatchValidation(t *testing.T) {
	bad := `{"from":"a@example.com","to":"nobody","subject":"s","text":"t"}`
	batch := "[" + validEmail + "," + validEmail + "," + bad + "]"

	t.Run("Strict", func(t *testing.T) {
		s := resendtest.NewServer(t)
		r := post(t, s.URL, "/emails/batch", batch, nil)
		if name, _ := r.errorBody(t); r.status != 422 || name != "validation_error" {
			t.Errorf("answer = %d %s, want 422 validation_error", r.status, name)
		}
		if n := len(s.Received()); n != 0 {
			t.Errorf("strict batch with an invalid email sent %d", n)
		}
	})
	t.Run("Permissive", func(t *testing.T) {
		s := resendtest.NewServer(t)
		r := post(t, s.URL, "/emails/batch", batch, map[string]string{"X-Batch-Validation": "permissive"})
		var got struct {
			Data   []struct{ ID string } `json:"data"`
			Errors []struct{ Index int } `json:"errors"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || len(got.Data) != 2 || len(got.Errors) != 1 || got.Errors[0].Index != 2 {
			t.Errorf("answer = %d %s, want 2 ids and an error at index 2", r.status, r.body)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		s := resendtest.NewServer(t)
		items := make([]string, 101)
		for i := range items {
			items[i] = validEmail
		}
		r := post(t, s.URL, "/emails/batch", "["+strings.Join(items, ",")+"]", nil)
		if r.status != 422 {
			t.Errorf("101 emails answer = %d, want 422", r.status)
		}
	})
}

func TestAPI_EnforceRate(t *testing.T) {
	s := resendtest.NewServer(t)
	s.EnforceRate(0.001, 1)

	if r := post(t, s.URL, "/emails", validEmail, nil); r.status != 200 {
		t.Fatalf("first = %d, want 200", r.status)
	}
	r := post(t, s.URL, "/emails", validEmail, nil)
	if name, _ := r.errorBody(t); r.status != 429 || name != "rate_limit_exceeded" {
		t.Errorf("second = %d %s, want 429 rate_limit_exceeded", r.status, name)
	}
	if r.header.Get("Retry-After") == "" || r.header.Get("Ratelimit-Remaining") != "0" {
		t.Errorf("429 headers = %v", r.header)
	}
}

func TestAPI_WaitFor(t *testing.T) {
	s := resendtest.NewServer(t)
	if s.WaitFor(1, 10*time.Millisecond) {
		t.Fatal("WaitFor reported an email nobody sent")
	}
	go tryPost(s.URL, "/emails", validEmail, nil)
	if !s.WaitFor(1, 5*time.Second) {
		t.Fatal("WaitFor missed the email")
	}
}

func TestListen(t *testing.T) {
	s, err := resendtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %s", s.URL)
	}
	if r := post(t, s.URL, "/emails", validEmail, nil); r.status != 200 {
		t.Errorf("status = %d", r.status)
	}

	if _, err := resendtest.Listen("256.0.0.1:1"); err == nil {
		t.Error("Listen on a bad address succeeded")
	}
}
