package admin

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"perfect/store"
)

func TestStepActions(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tests := []struct {
		name    string
		prepare func(hs *harness, id string)
		action  string
		form    url.Values
		confirm []string // on the confirmation page
		check   func(t *testing.T, s store.Step)
		event   string
	}{
		{
			name: "cancel", action: "cancel",
			form:    url.Values{"reason": {"asked by phone"}},
			confirm: []string{"Cancel this email?", "Yes, cancel this email", `name="reason"`},
			check: func(t *testing.T, s store.Step) {
				if s.Status != store.StatusCancelled || s.CancelReason != "asked by phone" {
					t.Errorf("step = %s (%q), want cancelled with the reason", s.Status, s.CancelReason)
				}
			},
			event: "cancelled",
		},
		{
			name: "retry a failed step",
			prepare: func(hs *harness, id string) {
				hs.setStep(id, func(s *store.Step) {
					s.Status, s.LastError, s.Attempts = store.StatusFailed, "resend 500", 8
					s.Rendered = &store.Rendered{Subject: "old"}
				})
			},
			action:  "retry",
			confirm: []string{"Send this failed email again?", "Yes, send it again"},
			check: func(t *testing.T, s store.Step) {
				if s.Status != store.StatusPlanned || !s.DueAt.Equal(testNow) || s.Attempts != 0 || s.Rendered != nil {
					t.Errorf("step = %s due %s attempts %d, want planned now, reset", s.Status, s.DueAt, s.Attempts)
				}
			},
			event: "retry",
		},
		{
			name: "send now", action: "send-now",
			confirm: []string{"Send this email now?", "Yes, send it now"},
			check: func(t *testing.T, s store.Step) {
				if s.Status != store.StatusPlanned || !s.DueAt.Equal(testNow) {
					t.Errorf("step = %s due %s, want planned now", s.Status, s.DueAt)
				}
			},
			event: "send-now",
		},
		{
			name: "reschedule in the admin time zone", action: "reschedule",
			form: url.Values{"at": {"2025-12-01T10:30"}},
			confirm: []string{"Reschedule this email?", "Mon 1 Dec 2025, 10:30 CET", "2025-12-01T09:30:00Z",
				`name="at" value="2025-12-01T10:30"`},
			check: func(t *testing.T, s store.Step) {
				want := time.Date(2025, time.December, 1, 9, 30, 0, 0, time.UTC)
				if s.Status != store.StatusPlanned || !s.DueAt.Equal(want) {
					t.Errorf("step = %s due %s, want planned at %s", s.Status, s.DueAt, want)
				}
			},
			event: "rescheduled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs := newHarness(t, harnessOpts{token: testToken, loc: berlin})
			res := hs.startSignup("lead_nurture_critical")
			id := res.Steps[1].ID
			if tt.prepare != nil {
				tt.prepare(hs, id)
			}
			before := hs.step(id)
			cookie := hs.login()
			ret := contactURL(before.Email)

			form := url.Values{"csrf": {hs.csrf(cookie)}, "return": {ret}}
			for k, v := range tt.form {
				form[k] = v
			}
			rec := hs.do(http.MethodPost, "/admin/steps/"+id+"/"+tt.action, form, cookie)
			wantStatus(t, rec, http.StatusOK)
			wantBody(t, rec, tt.confirm...)
			wantBody(t, rec, `name="confirm" value="yes"`, `href="`+ret+`">No, go back`)
			if got := hs.step(id); got.Status != before.Status || !got.DueAt.Equal(before.DueAt) ||
				len(got.History) != len(before.History) {
				t.Fatalf("the confirmation page changed the step: %+v", got)
			}

			form.Set("confirm", "yes")
			rec = hs.do(http.MethodPost, "/admin/steps/"+id+"/"+tt.action, form, cookie)
			wantStatus(t, rec, http.StatusSeeOther)
			if got, want := rec.Header().Get("Location"), ret+"?done="+tt.action+"#step-"+id; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			after := hs.step(id)
			tt.check(t, after)
			last := after.History[len(after.History)-1]
			if last.Action != tt.event || last.By != "admin@192.0.2.7" || !last.At.Equal(testNow) {
				t.Errorf("history = %+v, want %s by admin@192.0.2.7 at %s", last, tt.event, testNow)
			}

			rec = hs.do(http.MethodGet, ret+"?done="+tt.action, nil, cookie)
			wantBody(t, rec, `class="flash"`, flashes[tt.action])
		})
	}
}

func TestStepActions_Refused(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	sent, planned := res.Steps[0].ID, res.Steps[1].ID
	hs.setStep(sent, func(s *store.Step) { s.Status = store.StatusSent })
	cookie := hs.login()
	csrf := hs.csrf(cookie)

	tests := []struct {
		name, target string
		form         url.Values
		want         int
	}{
		{"cancel a sent email", "/admin/steps/" + sent + "/cancel", nil, http.StatusConflict},
		{"send a sent email now", "/admin/steps/" + sent + "/send-now", nil, http.StatusConflict},
		{"reschedule a sent email", "/admin/steps/" + sent + "/reschedule",
			url.Values{"at": {"2025-12-01T10:00"}}, http.StatusConflict},
		{"retry a planned email", "/admin/steps/" + planned + "/retry", nil, http.StatusConflict},
		{"reschedule without a time", "/admin/steps/" + planned + "/reschedule", nil, http.StatusBadRequest},
		{"reschedule to nonsense", "/admin/steps/" + planned + "/reschedule",
			url.Values{"at": {"tomorrow"}}, http.StatusBadRequest},
		{"unknown step", "/admin/steps/nope/cancel", nil, http.StatusNotFound},
		{"unknown run", "/admin/runs/nope/cancel", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, confirm := range []string{"", "yes"} {
				form := url.Values{"csrf": {csrf}, "confirm": {confirm}}
				for k, v := range tt.form {
					form[k] = v
				}
				wantStatus(t, hs.do(http.MethodPost, tt.target, form, cookie), tt.want)
			}
		})
	}
	if s := hs.step(planned); s.Status != store.StatusPlanned || len(s.History) != 0 {
		t.Errorf("planned step changed: %s %+v", s.Status, s.History)
	}
}

func TestCancelRun(t *testing.T) {
	t.Parallel()
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	hs.setStep(res.Steps[0].ID, func(s *store.Step) { s.Status = store.StatusSent })
	cookie := hs.login()
	ret := contactURL(res.Steps[0].Email)
	form := url.Values{"csrf": {hs.csrf(cookie)}, "return": {ret}}

	rec := hs.do(http.MethodPost, "/admin/runs/"+res.RunID+"/cancel", form, cookie)
	wantStatus(t, rec, http.StatusOK)
	wantBody(t, rec, "Cancel the whole sequence?", "stays as it is", "will be cancelled")
	if run, _ := hs.db.GetRun(res.RunID); run.CancelledAt != nil {
		t.Fatal("the confirmation page cancelled the run")
	}

	form.Set("confirm", "yes")
	form.Set("reason", "unsubscribed by phone")
	rec = hs.do(http.MethodPost, "/admin/runs/"+res.RunID+"/cancel", form, cookie)
	wantStatus(t, rec, http.StatusSeeOther)
	if got, want := rec.Header().Get("Location"), ret+"?done=cancel-run#run-"+res.RunID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	run, err := hs.db.GetRun(res.RunID)
	if err != nil || run.CancelledAt == nil || run.CancelReason != "unsubscribed by phone" {
		t.Fatalf("run = %+v (%v), want cancelled with the reason", run, err)
	}
	steps, _ := hs.db.StepsByRun(res.RunID)
	for i, s := range steps {
		want := store.StatusCancelled
		if i == 0 {
			want = store.StatusSent
		}
		if s.Status != want {
			t.Errorf("step %d = %s, want %s", i, s.Status, want)
		}
		if want == store.StatusCancelled && s.History[len(s.History)-1].By != "admin@192.0.2.7" {
			t.Errorf("step %d history %+v lacks the actor", i, s.History)
		}
	}

	rec = hs.do(http.MethodGet, ret+"?done=cancel-run", nil, cookie)
	wantBody(t, rec, "Sequence cancelled", "unsubscribed by phone", flashes["cancel-run"])
	wantNoBody(t, rec, "Cancel whole sequence…")
}
