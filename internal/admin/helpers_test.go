package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/templates"
	"perfect/store"
)

const testToken = "s3cret-admin-token-for-tests"

// testNow is the engine clock of every test.
var testNow = time.Date(2025, time.November, 20, 9, 0, 0, 0, time.UTC)

type harness struct {
	t     testing.TB
	h     *Handler
	eng   *engine.Engine
	db    *store.DB
	mux   http.Handler
	token string
	// remote is the RemoteAddr of requests; off loopback by default.
	remote string
}

type harnessOpts struct {
	token string
	loc   *time.Location
	ttl   time.Duration
	// testing runs the engine with TESTING_MODE timings.
	testing bool
}

func newHarness(t testing.TB, opts harnessOpts) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		_ = db.Close()
	})
	rnd := &engine.Renderer{
		Templates: templates.Embedded(), Campaign: flows.DefaultCampaign(),
		From: "Team <team@example.com>", ReplyTo: "help@example.com",
	}
	eng := engine.New(engine.Config{
		DB: db, Now: func() time.Time { return testNow }, Renderer: rnd,
		Logger: slog.New(slog.DiscardHandler), Testing: opts.testing,
	})
	h, err := New(Config{
		Engine: eng, Renderer: rnd, Token: opts.token, Location: opts.loc,
		Logger: slog.New(slog.DiscardHandler), SessionTTL: opts.ttl,
		Info: ModeInfo{Templates: "embedded", Version: "test"},
	})
	if err != nil {
		t.Fatalf("new admin handler: %v", err)
	}
	return &harness{t: t, h: h, eng: eng, db: db, mux: h.Handler(), token: opts.token, remote: "192.0.2.7:40000"}
}

// fixtureParams reads a contact of the legacy test data as christmas-signup
// params, the way the webhook stores them.
func fixtureParams(t testing.TB, name string) (string, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "test_customer_data.json"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(all[name], &c); err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	params := map[string]any{}
	for k, v := range c {
		if k != "expected_segment" {
			params[k] = v
		}
	}
	red, _ := c["red_systems"].(float64)
	orange, _ := c["orange_systems"].(float64)
	params["segment"] = flows.Segment(int(red), int(orange))
	return c["email"].(string), params
}

// startSignup plans a christmas-signup run for a fixture contact.
func (hs *harness) startSignup(name string) engine.Result {
	hs.t.Helper()
	email, params := fixtureParams(hs.t, name)
	return hs.start(email, params)
}

func (hs *harness) start(email string, params map[string]any) engine.Result {
	hs.t.Helper()
	seg, _ := params["segment"].(string)
	res, err := hs.eng.Start(context.Background(), engine.StartRequest{
		Flow: flows.ChristmasSignup, Email: email, Params: params, Segment: seg,
		DedupeKey: "christmas/" + store.Key(email), Source: "/webhook/christmas-signup",
	})
	if err != nil {
		hs.t.Fatalf("start run: %v", err)
	}
	return res
}

// do sends a request through the handler with the session cookie, if any.
func (hs *harness) do(method, target string, form url.Values, cookie string, hdr ...string) *httptest.ResponseRecorder {
	hs.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = hs.remote
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	hs.mux.ServeHTTP(rec, req)
	return rec
}

// login signs in with the token and returns the session cookie's value.
func (hs *harness) login() string {
	hs.t.Helper()
	rec := hs.do(http.MethodPost, "/admin/login", url.Values{"token": {hs.token}}, "")
	if rec.Code != http.StatusSeeOther {
		hs.t.Fatalf("login: status %d, body %s", rec.Code, rec.Body)
	}
	c := sessionCookie(rec)
	if c == nil || c.Value == "" {
		hs.t.Fatalf("login set no session cookie")
	}
	return c.Value
}

func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page of the session.
func (hs *harness) csrf(cookie string) string {
	hs.t.Helper()
	rec := hs.do(http.MethodGet, "/admin/", nil, cookie)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		hs.t.Fatalf("no csrf field on the overview (status %d)", rec.Code)
	}
	return m[1]
}

func (hs *harness) step(id string) store.Step {
	hs.t.Helper()
	s, err := hs.db.GetStep(id)
	if err != nil {
		hs.t.Fatalf("get step %s: %v", id, err)
	}
	return s
}

// setStep changes a stored step, for states the engine reaches by sending.
func (hs *harness) setStep(id string, fn func(s *store.Step)) store.Step {
	hs.t.Helper()
	s, err := hs.db.Update(id, func(s *store.Step) error { fn(s); return nil })
	if err != nil {
		hs.t.Fatalf("update step %s: %v", id, err)
	}
	return s
}

func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, want, truncate(rec.Body.String(), 2000))
	}
}

func wantBody(t testing.TB, rec *httptest.ResponseRecorder, parts ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("body lacks %q; body:\n%s", p, truncate(body, 4000))
		}
	}
}

func wantNoBody(t testing.TB, rec *httptest.ResponseRecorder, parts ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, p := range parts {
		if strings.Contains(body, p) {
			t.Errorf("body has %q", p)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d more bytes)", len(s)-n)
}
