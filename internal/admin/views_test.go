package admin

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"perfect/flows"
	"perfect/store"
)

func TestOverview(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	hs.setStep(res.Steps[0].ID, func(s *store.Step) {
		s.Status, s.LastError, s.UpdatedAt = store.StatusFailed, "resend 422: invalid from address", testNow.Add(-time.Hour)
	})
	hs.setStep(res.Steps[1].ID, func(s *store.Step) {
		s.Status, s.LastError, s.UpdatedAt = store.StatusFailed, "an old failure", testNow.Add(-30*time.Hour)
	})
	cookie := hs.login()

	rec := hs.do(http.MethodGet, "/admin/", nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec,
		"Outbox mode: recorded, not sent (no Resend)", "Production", "Local (embedded)", "Local only",
		`href="/admin/steps?status=planned"><strong>2</strong>`,
		`href="/admin/steps?status=failed"><strong>2</strong>`,
		flows.ChristmasSignup, "5-Day E4", "5-Day E5", // next due
		"resend 422: invalid from address", // failure of the last 24 h
		"tracking pending",
	)
	wantNoBody(t, rec, "an old failure")
}

func TestOverview_EmptyInTestingMode(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{testing: true})
	hs.remote = "127.0.0.1:1"
	rec := hs.do(http.MethodGet, "/admin/", nil, "")
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "Testing mode (minutes)", "No email planned yet.", "Nothing is planned.",
		"No email failed in the last 24 hours.")
}

func TestNotReadyAnswers503(t *testing.T) {
	t.Parallel()
	h, err := New(Config{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	hs := &harness{t: t, h: h, mux: h.Handler(), token: testToken, remote: "192.0.2.7:1"}
	cookie := hs.login()
	rec := hs.do(http.MethodGet, "/admin/", nil, cookie)
	wantStatus(t, rec, http.StatusServiceUnavailable)
	wantBody(t, rec, "data file is not open yet")
}

func TestStepsList(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	crit := hs.startSignup("lead_nurture_critical")
	urg := hs.startSignup("lead_nurture_urgent")
	hs.setStep(urg.Steps[0].ID, func(s *store.Step) { s.Status = store.StatusFailed })
	cookie := hs.login()

	tests := []struct {
		name       string
		query      string
		want, not  []string
		wantStatus int
	}{
		{name: "all", query: "", want: []string{"e2e-critical-segment@example.com", "e2e-urgent-segment@example.com"}},
		{name: "whole address", query: "q=E2E-Critical-Segment@example.com",
			want: []string{"e2e-critical-segment@example.com", `href="/admin/contacts/e2e-critical-segment@example.com"`},
			not:  []string{"e2e-urgent-segment@"}},
		{name: "part of an address", query: "q=urgent",
			want: []string{"e2e-urgent-segment@example.com"}, not: []string{"e2e-critical-segment@"}},
		{name: "status", query: "status=failed",
			want: []string{urg.Steps[0].ID}, not: []string{crit.Steps[0].ID, urg.Steps[1].ID}},
		{name: "flow", query: "flow=" + flows.NoShowRecovery, want: []string{"No email matches."}},
		{name: "unknown status", query: "status=bogus", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := hs.do(http.MethodGet, "/admin/steps?"+tt.query, nil, cookie)
			want := tt.wantStatus
			if want == 0 {
				want = http.StatusOK
			}
			wantStatus(t, rec, want)
			wantBody(t, rec, tt.want...)
			wantNoBody(t, rec, tt.not...)
		})
	}
}

func TestStepsList_Pages(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	_, params := fixtureParams(t, "lead_nurture_critical")
	var ids []string
	for i := range 14 { // 56 steps: one full page and a short one
		res := hs.start(fmt.Sprintf("page%02d@example.com", i), params)
		for _, s := range res.Steps {
			ids = append(ids, s.ID)
		}
	}
	cookie := hs.login()

	rec := hs.do(http.MethodGet, "/admin/steps", nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	next := "/admin/steps?" + url.Values{"after": {ids[pageSize-1]}}.Encode()
	wantBody(t, rec, `href="`+html.EscapeString(next)+`" rel="next"`, ids[0], ids[pageSize-1])
	wantNoBody(t, rec, ids[pageSize], "First page")

	rec = hs.do(http.MethodGet, next, nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, ids[pageSize], ids[len(ids)-1], "First page")
	wantNoBody(t, rec, ids[pageSize-1]+`"`, `rel="next"`)

	// A substring search pages the same way and keeps its query.
	rec = hs.do(http.MethodGet, "/admin/steps?q=page", nil, cookie)
	wantBody(t, rec, html.EscapeString("/admin/steps?"+url.Values{"after": {ids[pageSize-1]}, "q": {"page"}}.Encode()))
}

func TestContactSearchRedirects(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	cookie := hs.login()
	tests := []struct{ q, want string }{
		{"Someone@Example.com", "/admin/contacts/someone@example.com"},
		{"someone", "/admin/steps?q=someone"},
	}
	for _, tt := range tests {
		rec := hs.do(http.MethodGet, "/admin/contacts?email="+url.QueryEscape(tt.q), nil, cookie)
		wantStatus(t, rec, http.StatusSeeOther)
		if got := rec.Header().Get("Location"); got != tt.want {
			t.Errorf("%q: Location = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestContactPage(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	hs := newHarness(t, harnessOpts{token: testToken, loc: berlin})
	res := hs.startSignup("lead_nurture_critical")
	sent := testNow.Add(-2 * time.Hour)
	hs.setStep(res.Steps[0].ID, func(s *store.Step) {
		s.Status, s.SentAt, s.ProviderID = store.StatusSent, &sent, "re_49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"
	})
	hs.setStep(res.Steps[1].ID, func(s *store.Step) {
		s.Status, s.LastError, s.Attempts = store.StatusFailed, "resend 422: the to field is invalid", 3
	})
	if _, err := hs.db.CancelStep(res.Steps[2].ID, "admin@192.0.2.1", "booked a call", testNow); err != nil {
		t.Fatal(err)
	}
	cookie := hs.login()

	rec := hs.do(http.MethodGet, "/admin/contacts/E2E-Critical-Segment@example.com", nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec,
		"<h1>e2e-critical-segment@example.com</h1>", flows.ChristmasSignup, "/webhook/christmas-signup",
		// planned time of E2 (intake + 24 h) in Berlin, with a relative hint
		"Fri 21 Nov 2025, 10:00 CET", "in 24 h",
		"Thu 20 Nov 2025, 08:00 CET", "2 h ago", // sent time
		"re_49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
		"resend 422: the to field is invalid",
		"booked a call", "<strong>cancelled</strong> by admin@192.0.2.1",
		`id="step-`+res.Steps[3].ID+`"`,
		"Cancel whole sequence…", "Retry…", "Send now…",
		"Times in Europe/Berlin",
	)

	rec = hs.do(http.MethodGet, "/admin/contacts/nobody@example.com", nil, cookie)
	wantStatus(t, rec, http.StatusNotFound)
}

func TestStepPage(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	planned, sentID := res.Steps[1], res.Steps[0].ID
	hs.setStep(sentID, func(s *store.Step) {
		s.Status = store.StatusSent
		s.Rendered = &store.Rendered{From: "Team <team@example.com>", To: s.Email,
			Subject: "Stored subject <b>", HTML: "<p>stored body</p>", Text: "stored body"}
	})
	cookie := hs.login()

	t.Run("planned is previewed, not stored", func(t *testing.T) {
		run, err := hs.db.GetRun(planned.RunID)
		if err != nil {
			t.Fatal(err)
		}
		want, err := hs.h.backend.Load().rnd.Render(t.Context(), run, planned, testNow)
		if err != nil {
			t.Fatal(err)
		}
		rec := hs.do(http.MethodGet, "/admin/steps/"+planned.ID, nil, cookie)
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "Preview rendered now", html.EscapeString(want.Subject),
			`<iframe class="preview" sandbox="" src="/admin/steps/`+planned.ID+`/preview"`,
			"Text part", "Reschedule…", `type="datetime-local" name="at" value="2025-11-23T09:00"`,
			"Team &lt;team@example.com&gt;", "help@example.com")

		rec = hs.do(http.MethodGet, "/admin/steps/"+planned.ID+"/preview", nil, cookie)
		wantStatus(t, rec, http.StatusOK)
		if rec.Body.String() != want.HTML {
			t.Errorf("preview body differs from the rendered HTML")
		}
		if got := hs.step(planned.ID); got.Rendered != nil {
			t.Error("viewing the step stored a rendering")
		}
	})
	t.Run("sent shows the stored email", func(t *testing.T) {
		rec := hs.do(http.MethodGet, "/admin/steps/"+sentID, nil, cookie)
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "As it was sent.", "Stored subject &lt;b&gt;", "stored body",
			"nothing more can be done")
		wantNoBody(t, rec, "Reschedule…", "Cancel…")
		rec = hs.do(http.MethodGet, "/admin/steps/"+sentID+"/preview", nil, cookie)
		if rec.Body.String() != "<p>stored body</p>" {
			t.Errorf("preview = %q", rec.Body.String())
		}
	})
	t.Run("unknown", func(t *testing.T) {
		wantStatus(t, hs.do(http.MethodGet, "/admin/steps/nope", nil, cookie), http.StatusNotFound)
		wantStatus(t, hs.do(http.MethodGet, "/admin/steps/nope/preview", nil, cookie), http.StatusNotFound)
	})
	t.Run("template missing", func(t *testing.T) {
		hs.setStep(planned.ID, func(s *store.Step) { s.Template = "no-such-template" })
		rec := hs.do(http.MethodGet, "/admin/steps/"+planned.ID, nil, cookie)
		wantStatus(t, rec, http.StatusOK)
		wantBody(t, rec, "cannot be rendered now")
		wantStatus(t, hs.do(http.MethodGet, "/admin/steps/"+planned.ID+"/preview", nil, cookie),
			http.StatusUnprocessableEntity)
	})
}

func TestOutboxPage(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	err := hs.db.AddOutbox(
		store.OutboxItem{ID: "o1", Kind: "notion.sequence", CreatedAt: testNow, NextAt: testNow.Add(time.Minute)},
		store.OutboxItem{ID: "o2", Kind: "discord.alert", CreatedAt: testNow, NextAt: testNow},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.db.ParkOutbox("o2", "discord 404: unknown webhook"); err != nil {
		t.Fatal(err)
	}
	cookie := hs.login()
	rec := hs.do(http.MethodGet, "/admin/outbox", nil, cookie)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "1 pending, 1 parked", "notion.sequence", "discord.alert",
		"discord 404: unknown webhook", "in 1 min")
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	tests := []struct{ path, ctype string }{
		{"/admin/static/admin.css", "text/css; charset=utf-8"},
		{"/admin/static/admin.js", "text/javascript; charset=utf-8"},
	}
	for _, tt := range tests {
		rec := hs.do(http.MethodGet, tt.path, nil, "")
		wantStatus(t, rec, http.StatusOK)
		if got := rec.Header().Get("Content-Type"); got != tt.ctype {
			t.Errorf("%s: Content-Type %q", tt.path, got)
		}
	}
	wantStatus(t, hs.do(http.MethodGet, "/admin/static/nope.css", nil, ""), http.StatusNotFound)
	if !strings.Contains(hs.do(http.MethodGet, "/admin/static/admin.css", nil, "").Body.String(), ".timeline") {
		t.Error("css lacks the timeline")
	}
}
