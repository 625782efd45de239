package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/store"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type fixtureServer struct {
	srv *httptest.Server
	db  *store.DB
	eng *engine.Engine
}

func newServer(tb testing.TB, testing bool, adminToken string) *fixtureServer {
	tb.Helper()
	return newServerWith(tb, testing, adminToken, nil)
}

// newServerWith lets a test set server options before the routes are built.
func newServerWith(tb testing.TB, testing bool, adminToken string, opt func(*httpapi.Server)) *fixtureServer {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Check(); err != nil {
			tb.Errorf("store check: %v", err)
		}
		db.Close()
	})
	now := func() time.Time { return t0 }
	eng := engine.New(engine.Config{DB: db, Now: now, Testing: testing, Suppressed: db.IsSuppressed})
	s := httpapi.New(slog.New(slog.DiscardHandler), httpapi.Info{TestingRaw: "false", Templates: "embedded"}, adminToken, now)
	s.ResendWebhookSecret = testSvixSecret
	s.SetBackend(&httpapi.Backend{Engine: eng, Unsubscribe: testSigner, Lifecycle: &httpapi.Lifecycle{
		DB: db, Engine: eng, Log: slog.New(slog.DiscardHandler),
		BookingCancelsNurture: true, CancelCancelsReminders: true, RescheduleReplans: true,
		OnboardingCancelsPostCall: true, UnmarkCancelsNoShow: true,
	}})
	if opt != nil {
		opt(s)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return &fixtureServer{srv: srv, db: db, eng: eng}
}

func (f *fixtureServer) do(tb testing.TB, method, path string, body any, header ...string) (int, map[string]any) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 && json.Unmarshal(data, &out) != nil {
		tb.Fatalf("%s %s: non-JSON answer %d %q", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

func fixture(tb testing.TB, file, entry string) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	var all map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		tb.Fatal(err)
	}
	if entry == "" {
		return all
	}
	v, ok := all[entry].(map[string]any)
	if !ok {
		tb.Fatalf("%s: no entry %s", file, entry)
	}
	return v
}

func TestWebhooks_ValidLegacyFixtures(t *testing.T) {
	f := newServer(t, false, "")
	tests := []struct {
		name, path, file, entry string
		want                    map[string]any
		steps                   int
	}{
		{"noshow", "/webhook/calendly-noshow", "legacy/calendly_noshow_payload.json", "valid_payload",
			map[string]any{"status": "accepted", "campaign": "Christmas Traditional Service",
				"email": "e2e-noshow-test@example.com", "message": "No-show recovery sequence will begin shortly"}, 3},
		{"noshow other", "/webhook/calendly-noshow", "legacy/calendly_noshow_payload.json", "valid_payload_with_different_data",
			map[string]any{"status": "accepted"}, 3},
		{"postcall", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "valid_payload",
			map[string]any{"status": "accepted", "call_outcome": "Maybe", "campaign": "Christmas Traditional Service"}, 3},
		{"postcall minimal", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "valid_payload_minimal",
			map[string]any{"status": "accepted", "call_outcome": "Maybe"}, 3},
		{"postcall objections", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "valid_payload_with_multiple_objections",
			map[string]any{"status": "accepted"}, 3},
		{"onboarding", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "valid_payload",
			map[string]any{"status": "accepted", "payment_amount": 2997.0, "message": "Onboarding welcome sequence will begin shortly"}, 3},
		{"onboarding minimal", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "valid_payload_minimal",
			map[string]any{"status": "accepted"}, 3},
		{"onboarding full", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "valid_payload_full_details",
			map[string]any{"status": "accepted"}, 3},
		{"christmas critical", "/webhook/christmas-signup", "legacy/test_customer_data.json", "lead_nurture_critical",
			map[string]any{"status": "accepted", "campaign": "Christmas 2025", "email": "e2e-critical-segment@example.com"}, 4},
		{"christmas urgent", "/webhook/christmas-signup", "legacy/test_customer_data.json", "lead_nurture_urgent",
			map[string]any{"status": "accepted"}, 4},
		{"christmas optimize", "/webhook/christmas-signup", "legacy/test_customer_data.json", "lead_nurture_optimize",
			map[string]any{"status": "accepted"}, 4},
		{"calcom real shape", "/webhook/calcom-booking", "providers/calcom-BOOKING_CREATED-2.json", "",
			map[string]any{"status": "accepted"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.do(t, http.MethodPost, tt.path, fixture(t, tt.file, tt.entry))
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, got)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if got["run_id"] == "" || got["duplicate"] != false {
				t.Errorf("run_id %v duplicate %v", got["run_id"], got["duplicate"])
			}
			if tt.steps >= 0 && got["steps_planned"] != float64(tt.steps) {
				t.Errorf("steps_planned %v, want %d", got["steps_planned"], tt.steps)
			}
		})
	}
}

func TestWebhooks_InvalidLegacyFixtures(t *testing.T) {
	f := newServer(t, false, "")
	tests := []struct {
		name, path, file, entry string
		loc                     string
	}{
		{"noshow missing email", "/webhook/calendly-noshow", "legacy/calendly_noshow_payload.json", "invalid_payload_missing_email", "email"},
		{"noshow missing uri", "/webhook/calendly-noshow", "legacy/calendly_noshow_payload.json", "invalid_payload_missing_event_uri", "calendly_event_uri"},
		{"noshow bad email", "/webhook/calendly-noshow", "legacy/calendly_noshow_payload.json", "invalid_payload_malformed_email", "email"},
		{"postcall missing email", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "invalid_payload_missing_email", "email"},
		{"postcall missing date", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "invalid_payload_missing_call_date", "call_date"},
		{"postcall bad email", "/webhook/postcall-maybe", "legacy/crm_postcall_payload.json", "invalid_payload_malformed_email", "email"},
		{"onboarding missing email", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "invalid_payload_missing_email", "email"},
		{"onboarding missing payment flag", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "invalid_payload_missing_payment_confirmation", "payment_confirmed"},
		{"onboarding not paid", "/webhook/onboarding-start", "legacy/docusign_completion_payload.json", "invalid_payload_payment_not_confirmed", "payment_confirmed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.do(t, http.MethodPost, tt.path, fixture(t, tt.file, tt.entry))
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %v", code, got)
			}
			detail, _ := got["detail"].([]any)
			found := false
			for _, d := range detail {
				loc, _ := d.(map[string]any)["loc"].([]any)
				if len(loc) == 2 && loc[0] == "body" && loc[1] == tt.loc {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error at [body %s]: %v", tt.loc, got)
			}
		})
	}
	if n := len(mustList(t, f.db, store.Filter{})); n != 0 {
		t.Fatalf("invalid requests planned %d steps", n)
	}
}

func TestWebhooks_MalformedAndRouting(t *testing.T) {
	f := newServer(t, false, "")
	code, got := f.do(t, http.MethodPost, "/webhook/christmas-signup", `{"email": `)
	if code != http.StatusUnprocessableEntity || !strings.Contains(toJSON(got), "json_invalid") {
		t.Fatalf("malformed JSON: %d %v", code, got)
	}
	code, got = f.do(t, http.MethodGet, "/nope", nil)
	if code != http.StatusNotFound || got["detail"] != "Not Found" {
		t.Fatalf("unknown path: %d %v", code, got)
	}
	code, got = f.do(t, http.MethodGet, "/webhook/signup", nil)
	if code != http.StatusMethodNotAllowed || got["detail"] != "Method Not Allowed" {
		t.Fatalf("wrong method: %d %v", code, got)
	}
	big := `{"email":"a@example.com","name":"` + strings.Repeat("x", 2<<20) + `","first_name":"a"}`
	code, _ = f.do(t, http.MethodPost, "/webhook/signup", big)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("large body: %d, want 413", code)
	}
}

func TestWebhooks_ChristmasDuplicate(t *testing.T) {
	f := newServer(t, false, "")
	body := fixture(t, "legacy/test_customer_data.json", "lead_nurture_critical")
	_, first := f.do(t, http.MethodPost, "/webhook/christmas-signup", body)
	body["email"] = "E2E-Critical-Segment@Example.com"
	_, second := f.do(t, http.MethodPost, "/webhook/christmas-signup", body)
	if second["duplicate"] != true || second["run_id"] != first["run_id"] {
		t.Fatalf("case variant not a duplicate: first %v second %v", first, second)
	}
	if n := len(mustList(t, f.db, store.Filter{})); n != 4 {
		t.Fatalf("%d steps planned, want 4", n)
	}
}

func TestWebhooks_ProductionTimings(t *testing.T) {
	f := newServer(t, false, "")
	h := time.Hour
	tests := []struct {
		name, path string
		body       map[string]any
		want       []time.Duration
		templates  []string
	}{
		{"christmas", "/webhook/christmas-signup", fixture(t, "legacy/test_customer_data.json", "lead_nurture_urgent"),
			[]time.Duration{24 * h, 72 * h, 96 * h, 120 * h}, []string{"5-Day E2", "5-Day E3", "5-Day E4", "5-Day E5"}},
		{"noshow", "/webhook/calendly-noshow", fixture(t, "legacy/calendly_noshow_payload.json", "valid_payload"),
			[]time.Duration{5 * time.Minute, 24 * h, 48 * h},
			[]string{"noshow_recovery_email_1", "noshow_recovery_email_2", "noshow_recovery_email_3"}},
		{"postcall", "/webhook/postcall-maybe", fixture(t, "legacy/crm_postcall_payload.json", "valid_payload"),
			[]time.Duration{h, 72 * h, 168 * h}, []string{"postcall_maybe_email_1", "postcall_maybe_email_2", "postcall_maybe_email_3"}},
		{"onboarding", "/webhook/onboarding-start", fixture(t, "legacy/docusign_completion_payload.json", "valid_payload"),
			[]time.Duration{h, 24 * h, 72 * h}, []string{"onboarding_phase1_email_1", "onboarding_phase1_email_2", "onboarding_phase1_email_3"}},
		{"assessment critical", "/webhook/assessment",
			map[string]any{"email": "crit@example.com", "red_systems": 2, "orange_systems": 0},
			[]time.Duration{0, 24 * h, 72 * h, 120 * h, 168 * h},
			[]string{"email_1", "email_2a_critical", "email_3", "email_4", "email_5a_critical"}},
		{"assessment urgent", "/webhook/assessment",
			map[string]any{"email": "urg@example.com", "red_systems": 0, "orange_systems": 2},
			[]time.Duration{0, 24 * h, 72 * h, 120 * h, 168 * h},
			[]string{"email_1", "email_2b_urgent", "email_3", "email_4", "email_5b_urgent"}},
		{"assessment optimize", "/webhook/assessment",
			map[string]any{"email": "opt@example.com", "red_systems": 0, "orange_systems": 1},
			[]time.Duration{0, 24 * h, 72 * h, 120 * h, 168 * h},
			[]string{"email_1", "email_2c_optimize", "email_3", "email_4", "email_5c_optimize"}},
		{"calcom 5 days out", "/webhook/calcom-booking", calcom("pre-1", "p@example.com", t0.Add(120*h)),
			[]time.Duration{48 * h, 96 * h, 118 * h}, []string{"precall_reminder_1", "precall_reminder_2", "precall_reminder_3"}},
		{"calcom 30 hours out", "/webhook/calcom-booking", calcom("pre-2", "q@example.com", t0.Add(30*h)),
			[]time.Duration{6 * h, 28 * h}, []string{"precall_reminder_2", "precall_reminder_3"}},
		{"calcom exactly 72 hours", "/webhook/calcom-booking", calcom("pre-3", "r@example.com", t0.Add(72*h)),
			[]time.Duration{0, 48 * h, 70 * h}, []string{"precall_reminder_1", "precall_reminder_2", "precall_reminder_3"}},
		{"calcom exactly 2 hours", "/webhook/calcom-booking", calcom("pre-4", "s@example.com", t0.Add(2*h)),
			nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.do(t, http.MethodPost, tt.path, tt.body)
			if code != http.StatusOK {
				t.Fatalf("status %d %v", code, got)
			}
			steps := mustList(t, f.db, store.Filter{RunID: got["run_id"].(string)})
			if len(steps) != len(tt.want) {
				t.Fatalf("%d steps, want %d", len(steps), len(tt.want))
			}
			for i, s := range steps {
				if d := s.DueAt.Sub(t0); d != tt.want[i] {
					t.Errorf("step %d due +%s, want +%s", i+1, d, tt.want[i])
				}
				if s.Template != tt.templates[i] {
					t.Errorf("step %d template %s, want %s", i+1, s.Template, tt.templates[i])
				}
			}
		})
	}
}

func TestWebhooks_TestingModeTimings(t *testing.T) {
	f := newServer(t, true, "")
	m := time.Minute
	tests := []struct {
		name, path string
		body       map[string]any
		want       []time.Duration
	}{
		{"christmas", "/webhook/christmas-signup", fixture(t, "legacy/test_customer_data.json", "lead_nurture_urgent"),
			[]time.Duration{m, 2 * m, 3 * m, 4 * m}},
		{"noshow", "/webhook/calendly-noshow", fixture(t, "legacy/calendly_noshow_payload.json", "valid_payload"),
			[]time.Duration{m, 2 * m, 3 * m}},
		{"postcall", "/webhook/postcall-maybe", fixture(t, "legacy/crm_postcall_payload.json", "valid_payload"),
			[]time.Duration{m, 2 * m, 3 * m}},
		{"onboarding", "/webhook/onboarding-start", fixture(t, "legacy/docusign_completion_payload.json", "valid_payload"),
			[]time.Duration{m, 2 * m, 3 * m}},
		{"assessment", "/webhook/assessment", map[string]any{"email": "a@example.com", "red_systems": 1, "orange_systems": 0},
			[]time.Duration{0, m, 3 * m, 6 * m, 10 * m}},
		{"calcom", "/webhook/calcom-booking", calcom("t-1", "b@example.com", t0.Add(10*m)),
			[]time.Duration{4 * m, 7 * m, 9 * m}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := f.do(t, http.MethodPost, tt.path, tt.body)
			steps := mustList(t, f.db, store.Filter{RunID: got["run_id"].(string)})
			if len(steps) != len(tt.want) {
				t.Fatalf("%d steps, want %d", len(steps), len(tt.want))
			}
			for i, s := range steps {
				if d := s.DueAt.Sub(t0); d != tt.want[i] {
					t.Errorf("step %d due +%s, want +%s", i+1, d, tt.want[i])
				}
			}
		})
	}
}

func TestWebhooks_Calcom(t *testing.T) {
	f := newServer(t, false, "")
	code, got := f.do(t, http.MethodPost, "/webhook/calcom-booking", fixture(t, "providers/calcom-PING-1.json", ""))
	if code != http.StatusOK || got["status"] != "ignored" || got["event"] != "PING" {
		t.Fatalf("PING: %d %v", code, got)
	}
	code, got = f.do(t, http.MethodPost, "/webhook/calcom-booking", fixture(t, "providers/calcom-MEETING_STARTED-1.json", ""))
	if code != http.StatusOK || got["status"] != "ignored" {
		t.Fatalf("MEETING_STARTED: %d %v", code, got)
	}
	legacy := map[string]any{"triggerEvent": "BOOKING_CREATED", "payload": map[string]any{"booking": map[string]any{
		"startTime": t0.Add(100 * time.Hour).Format(time.RFC3339),
		"attendees": []any{map[string]any{"email": "legacy@example.com", "name": "Legacy Shape"}},
	}}}
	code, got = f.do(t, http.MethodPost, "/webhook/calcom-booking", legacy)
	if code != http.StatusOK || got["status"] != "accepted" || got["email"] != "legacy@example.com" {
		t.Fatalf("legacy shape: %d %v", code, got)
	}
	empty := map[string]any{"triggerEvent": "BOOKING_CREATED", "payload": map[string]any{"startTime": "2026-12-10T10:00:00Z"}}
	code, got = f.do(t, http.MethodPost, "/webhook/calcom-booking", empty)
	if code != http.StatusBadRequest || got["detail"] != "Invalid Cal.com payload: no attendees found" {
		t.Fatalf("no attendees: %d %v", code, got)
	}
}

func TestHealth(t *testing.T) {
	s := httpapi.New(slog.New(slog.DiscardHandler), httpapi.Info{TestingRaw: "TRUE"}, "", time.Now)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health before the store is open: %d, want 503", resp.StatusCode)
	}
	f := newServer(t, false, "")
	code, got := f.do(t, http.MethodGet, "/health", nil)
	env, _ := got["environment"].(map[string]any)
	if code != http.StatusOK || got["status"] != "healthy" || env["testing_mode"] != "false" {
		t.Fatalf("health: %d %v", code, got)
	}
}

func calcom(uid, email string, start time.Time) map[string]any {
	return map[string]any{"triggerEvent": "BOOKING_CREATED", "payload": map[string]any{
		"uid": uid, "startTime": start.Format(time.RFC3339),
		"attendees": []any{map[string]any{"email": email, "name": "Pat Example"}},
	}}
}

func mustList(tb testing.TB, db *store.DB, f store.Filter) []store.Step {
	tb.Helper()
	f.Limit = 1000
	steps, err := db.List(f)
	if err != nil {
		tb.Fatal(err)
	}
	return steps
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
