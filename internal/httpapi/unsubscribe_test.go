package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"perfect/internal/unsubscribe"
	"perfect/store"
)

var testSigner = &unsubscribe.Signer{Secret: []byte("test-secret"), BaseURL: "http://perfect.test", TTL: 24 * time.Hour}

var testSvixSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("resend-signing-key"))

func (f *fixtureServer) form(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(f.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixtureServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func statuses(t *testing.T, db *store.DB, email string) map[store.Status]int {
	m := map[store.Status]int{}
	for _, s := range mustList(t, db, store.Filter{Email: email}) {
		m[s.Status]++
	}
	return m
}

func TestUnsubscribe_LinkCancelsAndBlocksLaterSignup(t *testing.T) {
	f := newServer(t, false, "")
	body := fixture(t, "legacy/test_customer_data.json", "lead_nurture_critical")
	email := body["email"].(string)
	f.do(t, http.MethodPost, "/webhook/christmas-signup", body)
	f.do(t, http.MethodPost, "/webhook/onboarding-start", map[string]any{"email": email, "first_name": "C",
		"business_name": "B", "payment_confirmed": true, "payment_amount": 10, "payment_date": "2026-12-01"})

	link, headers := testSigner.Link(email, t0)
	u, _ := url.Parse(link)
	if headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Fatalf("headers %v", headers)
	}
	code, page := f.get(t, "/unsubscribe?"+u.RawQuery)
	if code != http.StatusOK || !strings.Contains(page, `<form method="post"`) {
		t.Fatalf("confirmation page: %d %s", code, page)
	}
	if got := statuses(t, f.db, email); got[store.StatusPlanned] != 7 {
		t.Fatalf("GET changed something: %v", got)
	}
	code, page = f.form(t, "/unsubscribe", url.Values{"token": {u.Query().Get("token")}})
	if code != http.StatusOK || !strings.Contains(page, "unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", code, page)
	}
	// Marketing emails are cancelled; the paid onboarding emails stay.
	if got := statuses(t, f.db, email); got[store.StatusCancelled] != 4 || got[store.StatusPlanned] != 3 {
		t.Fatalf("after unsubscribe: %v", got)
	}
	// A later webhook plans nothing that would be sent.
	f.do(t, http.MethodPost, "/webhook/calendly-noshow", map[string]any{"email": email, "first_name": "C",
		"business_name": "B", "calendly_event_uri": "u", "scheduled_time": "t"})
	for _, s := range mustList(t, f.db, store.Filter{Email: email, Flow: "christmas-noshow-recovery-handler"}) {
		if s.Status != store.StatusCancelled || s.CancelReason != "unsubscribed" {
			t.Fatalf("no-show step after unsubscribe: %s %q", s.Status, s.CancelReason)
		}
	}
}

func TestUnsubscribe_OneClick(t *testing.T) {
	f := newServer(t, false, "")
	f.do(t, http.MethodPost, "/webhook/calendly-noshow", fixture(t, "legacy/calendly_noshow_payload.json", "valid_payload"))
	link, _ := testSigner.Link("e2e-noshow-test@example.com", t0)
	u, _ := url.Parse(link)
	code, _ := f.form(t, "/unsubscribe?"+u.RawQuery, url.Values{"List-Unsubscribe": {"One-Click"}})
	if code != http.StatusOK {
		t.Fatalf("one-click: %d", code)
	}
	if !f.db.IsSuppressed("E2E-NOSHOW-TEST@example.com") {
		t.Fatal("address not suppressed")
	}
	if got := statuses(t, f.db, "e2e-noshow-test@example.com"); got[store.StatusCancelled] != 3 {
		t.Fatalf("after one-click: %v", got)
	}
}

func TestUnsubscribe_BadTokens(t *testing.T) {
	f := newServer(t, false, "")
	forged := (&unsubscribe.Signer{Secret: []byte("other")}).Token("ann@example.com", t0)
	expired := testSigner.Token("ann@example.com", t0.Add(-48*time.Hour))
	for name, tc := range map[string]struct {
		token string
		code  int
	}{"forged": {forged, 400}, "garbage": {"x.y", 400}, "empty": {"", 400}, "expired": {expired, 410}} {
		t.Run(name, func(t *testing.T) {
			code, page := f.form(t, "/unsubscribe", url.Values{"token": {tc.token}})
			if code != tc.code || !strings.Contains(page, "<h1>") {
				t.Fatalf("POST: %d %s", code, page)
			}
			if code, _ := f.get(t, "/unsubscribe?token="+url.QueryEscape(tc.token)); code != tc.code {
				t.Fatalf("GET: %d", code)
			}
		})
	}
	if list, _ := f.db.ListSuppressed(10); len(list) != 0 {
		t.Fatalf("bad tokens suppressed %v", list)
	}
}

func svixHeaders(body string, at time.Time, secret string) []string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	id, ts := "msg_1", fmt.Sprint(at.Unix())
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + body))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return []string{"svix-id", id, "svix-timestamp", ts, "svix-signature", "v1,bad v1," + sig}
}

func TestResendEvents_BounceAndComplaintSuppress(t *testing.T) {
	f := newServer(t, false, "")
	bounce := `{"type":"email.bounced","created_at":"2026-12-01T09:00:00Z","data":{"email_id":"e1","to":["Bounced@Example.com"],"bounce":{"type":"Permanent","subType":"General"}}}`
	code, got := f.do(t, http.MethodPost, "/webhook/resend", bounce, svixHeaders(bounce, t0, testSvixSecret)...)
	if code != http.StatusOK || got["status"] != "processed" {
		t.Fatalf("bounce: %d %v", code, got)
	}
	complaint := `{"type":"email.complained","data":{"to":["spam@example.com"]}}`
	f.do(t, http.MethodPost, "/webhook/resend", complaint, svixHeaders(complaint, t0, testSvixSecret)...)
	delivered := `{"type":"email.delivered","data":{"to":["fine@example.com"]}}`
	code, got = f.do(t, http.MethodPost, "/webhook/resend", delivered, svixHeaders(delivered, t0, testSvixSecret)...)
	if code != http.StatusOK || got["status"] != "ignored" {
		t.Fatalf("delivered: %d %v", code, got)
	}
	if !f.db.IsSuppressed("bounced@example.com") || !f.db.IsSuppressed("spam@example.com") || f.db.IsSuppressed("fine@example.com") {
		t.Fatal("suppression list wrong")
	}

	other := `{"type":"email.bounced","data":{"to":["x@example.com"]}}`
	for name, h := range map[string][]string{
		"unsigned":  nil,
		"wrong key": svixHeaders(other, t0, "whsec_"+base64.StdEncoding.EncodeToString([]byte("nope"))),
		"too old":   svixHeaders(other, t0.Add(-time.Hour), testSvixSecret),
		"tampered":  svixHeaders(strings.Replace(other, "x@", "y@", 1), t0, testSvixSecret),
	} {
		if code, _ := f.do(t, http.MethodPost, "/webhook/resend", other, h...); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if f.db.IsSuppressed("x@example.com") {
		t.Fatal("unsigned event suppressed an address")
	}
}
