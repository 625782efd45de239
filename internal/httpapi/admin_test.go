package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"perfect/internal/httpapi"
	"perfect/store"
)

func TestAdminAPI_Token(t *testing.T) {
	f := newServer(t, false, "s3cret")
	if code, _ := f.do(t, http.MethodGet, "/admin/api/steps", nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := f.do(t, http.MethodGet, "/admin/api/steps", nil, "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code, _ := f.do(t, http.MethodGet, "/admin/api/steps", nil, "Authorization", "Bearer s3cret"); code != http.StatusOK {
		t.Fatalf("right token: %d, want 200", code)
	}
}

func TestAdminAPI_ListCancelRetry(t *testing.T) {
	f := newServer(t, false, "")
	_, got := f.do(t, http.MethodPost, "/webhook/calendly-noshow", fixture(t, "legacy/calendly_noshow_payload.json", "valid_payload"))
	runID := got["run_id"].(string)

	code, list := f.do(t, http.MethodGet, "/admin/api/steps?email=E2E-NOSHOW-TEST@example.com", nil)
	steps, _ := list["steps"].([]any)
	if code != http.StatusOK || len(steps) != 3 {
		t.Fatalf("list by email: %d %v", code, list)
	}
	first := steps[0].(map[string]any)
	for _, k := range []string{"id", "run_id", "flow", "email", "template", "email_number", "due_at",
		"status", "attempts", "last_error", "sent_at", "provider_id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("step JSON lacks %s", k)
		}
	}
	if code, got := f.do(t, http.MethodGet, "/admin/api/steps?status=bogus", nil); code != http.StatusBadRequest {
		t.Fatalf("bad status filter: %d %v", code, got)
	}

	id := runID + "-e1"
	code, c := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/cancel", map[string]string{"reason": "asked by phone"})
	if code != http.StatusOK || c["status"] != "cancelled" || c["cancel_reason"] != "asked by phone" {
		t.Fatalf("cancel: %d %v", code, c)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/cancel", nil); code != http.StatusConflict {
		t.Fatalf("second cancel: %d, want 409", code)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/retry", nil); code != http.StatusConflict {
		t.Fatalf("retry of a cancelled step: %d, want 409", code)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/nope/cancel", nil); code != http.StatusNotFound {
		t.Fatalf("unknown step: %d, want 404", code)
	}

	id2 := runID + "-e2"
	code, r := f.do(t, http.MethodPost, "/admin/api/steps/"+id2+"/reschedule", map[string]string{"due_at": "2026-12-24T09:00:00Z"})
	if code != http.StatusOK || r["due_at"] != "2026-12-24T09:00:00Z" {
		t.Fatalf("reschedule: %d %v", code, r)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id2+"/reschedule", map[string]string{"due_at": "tomorrow"}); code != http.StatusBadRequest {
		t.Fatalf("bad reschedule time: %d, want 400", code)
	}
	code, sn := f.do(t, http.MethodPost, "/admin/api/steps/"+id2+"/send-now", nil)
	if code != http.StatusOK || sn["due_at"] != t0.Format(time.RFC3339) {
		t.Fatalf("send-now: %d %v", code, sn)
	}

	code, cc := f.do(t, http.MethodPost, "/admin/api/contacts/cancel", map[string]string{"email": "e2e-noshow-test@example.com"})
	if cancelled, _ := cc["cancelled"].([]any); code != http.StatusOK || len(cancelled) != 2 {
		t.Fatalf("cancel contact: %d %v", code, cc)
	}
	st, err := f.db.Stats(t0)
	if err != nil || st.ByStatus[store.StatusCancelled] != 3 || st.ByStatus[store.StatusPlanned] != 0 {
		t.Fatalf("stats after cancels: %+v %v", st.ByStatus, err)
	}
}

func TestLifecycle_BookingCancelsNurtureAndOnboardingCancelsPostCall(t *testing.T) {
	f := newServer(t, false, "")
	signup := fixture(t, "legacy/test_customer_data.json", "full_journey_customer")
	f.do(t, http.MethodPost, "/webhook/christmas-signup", signup)
	f.do(t, http.MethodPost, "/webhook/postcall-maybe", map[string]any{
		"email": signup["email"], "first_name": "J", "business_name": "B", "call_date": "2026-12-01"})
	f.do(t, http.MethodPost, "/webhook/calcom-booking", calcom("b-1", signup["email"].(string), t0.Add(100*time.Hour)))

	byFlow := func() map[string]map[store.Status]int {
		m := map[string]map[store.Status]int{}
		for _, s := range mustList(t, f.db, store.Filter{Email: signup["email"].(string)}) {
			if m[s.Flow] == nil {
				m[s.Flow] = map[store.Status]int{}
			}
			m[s.Flow][s.Status]++
		}
		return m
	}
	got := byFlow()
	if got["christmas-signup-handler"][store.StatusCancelled] != 4 ||
		got["christmas-postcall-maybe-handler"][store.StatusCancelled] != 3 ||
		got["christmas-precall-prep"][store.StatusPlanned] != 3 {
		t.Fatalf("after booking: %v", got)
	}

	f.do(t, http.MethodPost, "/webhook/calcom-booking", map[string]any{"triggerEvent": "BOOKING_CANCELLED",
		"payload": map[string]any{"uid": "b-1", "startTime": t0.Add(100 * time.Hour).Format(time.RFC3339),
			"attendees": []any{map[string]any{"email": signup["email"], "name": "J"}}}})
	if got := byFlow(); got["christmas-precall-prep"][store.StatusCancelled] != 3 {
		t.Fatalf("after booking cancelled: %v", got)
	}
}

func TestAdminAPI_LoopbackTrustAndCrossSite(t *testing.T) {
	f := newServer(t, false, "")
	_, got := f.do(t, http.MethodPost, "/webhook/calendly-noshow", fixture(t, "legacy/calendly_noshow_payload.json", "valid_payload"))
	id := got["run_id"].(string) + "-e1"
	if code, _ := f.do(t, http.MethodGet, "/admin/api/steps", nil, "X-Forwarded-For", "203.0.113.9"); code != http.StatusUnauthorized {
		t.Fatalf("proxied request without a token: %d, want 401", code)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/cancel", nil, "Origin", "https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("cross-site cancel: %d, want 403", code)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/cancel", nil, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("cross-site cancel (fetch metadata): %d, want 403", code)
	}
	if s, _ := f.db.GetStep(id); s.Status != "planned" {
		t.Fatalf("refused requests changed the step: %s", s.Status)
	}
	if code, _ := f.do(t, http.MethodPost, "/admin/api/steps/"+id+"/cancel", nil); code != http.StatusOK {
		t.Fatalf("local cancel: %d", code)
	}
}

func TestResendEvents_RefusedWithoutSecret(t *testing.T) {
	f := newServerWith(t, false, "", func(s *httpapi.Server) { s.ResendWebhookSecret = "" })
	body := `{"type":"email.bounced","data":{"to":["victim@example.com"]}}`
	if code, _ := f.do(t, http.MethodPost, "/webhook/resend", body); code != http.StatusUnauthorized {
		t.Fatalf("unsigned event with no secret configured: %d, want 401", code)
	}
	if f.db.IsSuppressed("victim@example.com") {
		t.Fatal("address suppressed by an unauthenticated event")
	}
}
