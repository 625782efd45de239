package admin

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"perfect/internal/httpapi"
)

// TestRoutes_MountNextToHTTPAPI registers the page's routes on httpapi's mux,
// next to the JSON admin API, the way serve does: the mux panics on any
// conflicting pattern, and each side must still answer its own paths.
func TestRoutes_MountNextToHTTPAPI(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	hs.startSignup("lead_nurture_critical")

	srv := httpapi.New(slog.New(slog.DiscardHandler), httpapi.Info{}, testToken,
		func() time.Time { return testNow })
	srv.Extra = append(srv.Extra, hs.h.Routes()...)
	srv.SetBackend(&httpapi.Backend{Engine: hs.eng})
	hs.mux = srv.Handler()

	rec := hs.do(http.MethodGet, "/admin/api/stats", nil, "", "Authorization", "Bearer "+testToken)
	wantStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("API Content-Type = %q", ct)
	}

	wantStatus(t, hs.do(http.MethodGet, "/admin/", nil, ""), http.StatusSeeOther)
	cookie := hs.login()
	for _, path := range []string{"/admin", "/admin/", "/admin/steps", "/admin/outbox"} {
		rec := hs.do(http.MethodGet, path, nil, cookie)
		if rec.Code >= 400 {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
	}
	rec = hs.do(http.MethodGet, "/admin/steps?q=critical", nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page Content-Type = %q", rec.Header().Get("Content-Type"))
	}
	wantBody(t, rec, "e2e-critical-segment@example.com")

	// The bearer token of the API does not open the page, and the page's
	// cookie does not open the API.
	wantStatus(t, hs.do(http.MethodGet, "/admin/", nil, "", "Authorization", "Bearer "+testToken),
		http.StatusSeeOther)
	wantStatus(t, hs.do(http.MethodGet, "/admin/api/stats", nil, cookie), http.StatusUnauthorized)
}
