package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"perfect/store"
)

func TestAuth_NoSessionRedirectsToLogin(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	tests := []struct {
		name, method, target string
		wantLocation         string
	}{
		{"overview", http.MethodGet, "/admin/", "/admin/login"},
		{"list keeps target", http.MethodGet, "/admin/steps?status=planned",
			"/admin/login?next=" + url.QueryEscape("/admin/steps?status=planned")},
		{"action", http.MethodPost, "/admin/steps/x/cancel", "/admin/login"},
		{"preview", http.MethodGet, "/admin/steps/x/preview",
			"/admin/login?next=" + url.QueryEscape("/admin/steps/x/preview")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			if tt.method == http.MethodPost {
				form = url.Values{}
			}
			rec := hs.do(tt.method, tt.target, form, "")
			wantStatus(t, rec, http.StatusSeeOther)
			if got := rec.Header().Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
		})
	}
}

func TestAuth_Login(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})

	rec := hs.do(http.MethodGet, "/admin/login?next=/admin/outbox", nil, "")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, `name="token"`, `type="password"`, `value="/admin/outbox"`)

	rec = hs.do(http.MethodPost, "/admin/login", url.Values{"token": {"wrong"}}, "")
	wantStatus(t, rec, http.StatusUnauthorized)
	wantBody(t, rec, "That token is not right.")
	if sessionCookie(rec) != nil {
		t.Error("a failed login set a session cookie")
	}

	rec = hs.do(http.MethodPost, "/admin/login",
		url.Values{"token": {testToken}, "next": {"/admin/outbox"}}, "")
	wantStatus(t, rec, http.StatusSeeOther)
	if got := rec.Header().Get("Location"); got != "/admin/outbox" {
		t.Errorf("Location = %q, want /admin/outbox", got)
	}
	c := sessionCookie(rec)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/admin, not Secure over http", c)
	}
	if strings.Contains(c.Value, testToken) {
		t.Error("cookie carries the raw token")
	}
	wantStatus(t, hs.do(http.MethodGet, "/admin/", nil, c.Value), http.StatusOK)
}

func TestAuth_SecureCookieBehindTLSProxy(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	rec := hs.do(http.MethodPost, "/admin/login", url.Values{"token": {testToken}}, "",
		"X-Forwarded-Proto", "https")
	if c := sessionCookie(rec); c == nil || !c.Secure {
		t.Fatalf("cookie = %+v, want Secure", c)
	}
}

func TestAuth_NextStaysOnAdmin(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	for _, next := range []string{"//evil.example/admin/", "https://evil.example/", "/other", "/admin/\\evil"} {
		rec := hs.do(http.MethodPost, "/admin/login", url.Values{"token": {testToken}, "next": {next}}, "")
		if got := rec.Header().Get("Location"); got != "/admin/" {
			t.Errorf("next %q: Location = %q, want /admin/", next, got)
		}
	}
}

func TestAuth_RejectsForgedAndExpiredSessions(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	good := hs.login()
	payload, _, _ := strings.Cut(good, ".")

	other := newHarness(t, harnessOpts{token: "another-token"})
	foreign := other.login()

	expired := newHarness(t, harnessOpts{token: testToken, ttl: time.Nanosecond})
	old := expired.login()

	tests := []struct {
		name, cookie string
	}{
		{"tampered signature", payload + ".AAAA"},
		{"no signature", payload},
		{"signed with another token", foreign},
		{"raw token", testToken},
		{"expired", old},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := hs
			if tt.name == "expired" {
				target = expired
			}
			rec := target.do(http.MethodGet, "/admin/", nil, tt.cookie)
			wantStatus(t, rec, http.StatusSeeOther)
		})
	}
}

func TestAuth_LoginAttemptsAreLimited(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	var last int
	for range 15 {
		last = hs.do(http.MethodPost, "/admin/login", url.Values{"token": {"guess"}}, "").Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("15th wrong login: status %d, want 429", last)
	}
}

func TestAuth_WithoutTokenOnlyLoopback(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{})
	tests := []struct {
		name   string
		remote string
		hdr    []string
		want   int
	}{
		{"remote client", "192.0.2.7:40000", nil, http.StatusForbidden},
		{"loopback v4", "127.0.0.1:40000", nil, http.StatusOK},
		{"loopback v6", "[::1]:40000", nil, http.StatusOK},
		{"through a local proxy", "127.0.0.1:40000", []string{"X-Forwarded-For", "198.51.100.4"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs.remote = tt.remote
			rec := hs.do(http.MethodGet, "/admin/", nil, "", tt.hdr...)
			wantStatus(t, rec, tt.want)
		})
	}
}

func TestAuth_LoopbackSessionStillNeedsCSRF(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{})
	hs.remote = "127.0.0.1:40000"
	res := hs.startSignup("lead_nurture_critical")
	id := res.Steps[0].ID

	rec := hs.do(http.MethodGet, "/admin/", nil, "")
	wantStatus(t, rec, http.StatusOK)
	c := sessionCookie(rec)
	if c == nil {
		t.Fatal("loopback visit got no session cookie")
	}
	rec = hs.do(http.MethodPost, "/admin/steps/"+id+"/cancel", url.Values{"confirm": {"yes"}}, c.Value)
	wantStatus(t, rec, http.StatusForbidden)

	form := url.Values{"confirm": {"yes"}, "csrf": {hs.csrf(c.Value)}}
	wantStatus(t, hs.do(http.MethodPost, "/admin/steps/"+id+"/cancel", form, c.Value), http.StatusSeeOther)
	s := hs.step(id)
	if s.Status != store.StatusCancelled || s.History[len(s.History)-1].By != "local@127.0.0.1" {
		t.Errorf("step = %s by %+v, want cancelled by local@127.0.0.1", s.Status, s.History)
	}
}

func TestAuth_Logout(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	cookie := hs.login()
	wantStatus(t, hs.do(http.MethodPost, "/admin/logout", url.Values{}, cookie), http.StatusForbidden)

	rec := hs.do(http.MethodPost, "/admin/logout", url.Values{"csrf": {hs.csrf(cookie)}}, cookie)
	wantStatus(t, rec, http.StatusSeeOther)
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout cookie = %+v, want it deleted", c)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	id := res.Steps[0].ID
	cookie := hs.login()
	otherCookie := hs.login()
	token := hs.csrf(cookie)

	tests := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"missing", url.Values{"confirm": {"yes"}}, nil},
		{"empty", url.Values{"confirm": {"yes"}, "csrf": {""}}, nil},
		{"wrong", url.Values{"confirm": {"yes"}, "csrf": {"bm90LXRoZS10b2tlbg"}}, nil},
		{"other session's", url.Values{"confirm": {"yes"}, "csrf": {hs.csrf(otherCookie)}}, nil},
		{"cross-site", url.Values{"confirm": {"yes"}, "csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, action := range []string{"cancel", "send-now", "reschedule", "retry"} {
				rec := hs.do(http.MethodPost, "/admin/steps/"+id+"/"+action, tt.form, cookie, tt.hdr...)
				wantStatus(t, rec, http.StatusForbidden)
			}
			rec := hs.do(http.MethodPost, "/admin/runs/"+res.RunID+"/cancel", tt.form, cookie, tt.hdr...)
			wantStatus(t, rec, http.StatusForbidden)
		})
	}
	if s := hs.step(id); s.Status != store.StatusPlanned || len(s.History) != 0 {
		t.Errorf("step changed by refused forms: %s %+v", s.Status, s.History)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	cookie := hs.login()
	id := res.Steps[0].ID
	pages := []struct {
		name, target, cookie string
	}{
		{"login", "/admin/login", ""},
		{"redirect", "/admin/", ""},
		{"overview", "/admin/", cookie},
		{"steps", "/admin/steps", cookie},
		{"contact", contactURL(res.Steps[0].Email), cookie},
		{"step", "/admin/steps/" + id, cookie},
		{"outbox", "/admin/outbox", cookie},
		{"not found", "/admin/steps/nope", cookie},
		{"css", "/admin/static/admin.css", ""},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			h := hs.do(http.MethodGet, tt.target, nil, tt.cookie).Header()
			wantHeaders(t, h, map[string]string{
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
			})
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
		})
	}
	t.Run("preview", func(t *testing.T) {
		rec := hs.do(http.MethodGet, "/admin/steps/"+id+"/preview", nil, cookie)
		wantStatus(t, rec, http.StatusOK)
		wantHeaders(t, rec.Header(), map[string]string{
			"X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		})
		csp := rec.Header().Get("Content-Security-Policy")
		for _, d := range []string{"sandbox", "default-src 'none'", "frame-ancestors 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("preview CSP %q lacks %q", csp, d)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") {
			t.Errorf("preview CSP %q allows scripts", csp)
		}
	})
}

func wantHeaders(t testing.TB, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
