package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"perfect/store"
)

// stepActionDef is one thing a person can do to a step.
type stepActionDef struct {
	name string
	// question heads the confirmation page.
	question string
	// label is the button of the confirmation page.
	label string
	// explain says on the confirmation page what will happen.
	explain string
	allowed func(store.Step) bool
	do      func(b *backend, id, by string, req actionRequest) (store.Step, error)
}

// actionRequest is the form of an action, read before it is confirmed.
type actionRequest struct {
	now    time.Time
	reason string
	at     time.Time
}

var (
	actCancel = stepActionDef{
		name: "cancel", question: "Cancel this email?", label: "Yes, cancel this email",
		explain: "The email will not be sent. This cannot be undone; the rest of the sequence is kept.",
		allowed: canCancel,
		do: func(b *backend, id, by string, req actionRequest) (store.Step, error) {
			return b.eng.DB().CancelStep(id, by, req.reason, req.now)
		},
	}
	actRetry = stepActionDef{
		name: "retry", question: "Send this failed email again?", label: "Yes, send it again",
		explain: "The failed email is rendered again from the current template and sent now.",
		allowed: func(s store.Step) bool { return s.Status == store.StatusFailed },
		do: func(b *backend, id, by string, req actionRequest) (store.Step, error) {
			return b.eng.Requeue(id, by, "retry", req.now, store.StatusFailed)
		},
	}
	actSendNow = stepActionDef{
		name: "send-now", question: "Send this email now?", label: "Yes, send it now",
		explain: "The email is moved to now and the scheduler sends it next, instead of at its planned time.",
		allowed: canReschedule,
		do: func(b *backend, id, by string, req actionRequest) (store.Step, error) {
			return b.eng.Requeue(id, by, "send-now", req.now, store.StatusPlanned, store.StatusFailed)
		},
	}
	actReschedule = stepActionDef{
		name: "reschedule", question: "Reschedule this email?", label: "Yes, reschedule it",
		explain: "The email will be sent at the new time instead of its planned one.",
		allowed: canReschedule,
		do: func(b *backend, id, by string, req actionRequest) (store.Step, error) {
			return b.eng.Reschedule(id, by, req.at, req.now)
		},
	}
)

// defaultReason is recorded when a cancel gives none.
const defaultReason = "cancelled from the admin page"

// confirmData is the confirmation page of any action.
type confirmData struct {
	Action   string
	Question string
	Label    string
	Explain  string
	// Post is where the confirmed form goes; Fields are carried over.
	Post   string
	Fields map[string]string
	Step   *store.Step
	Run    *runView
	At     time.Time
	Reason bool
	Return string
}

// stepAction runs a step action: the first POST shows the confirmation
// page, the second (confirm=yes) does it and goes back where it started.
func (h *Handler) stepAction(act stepActionDef) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, ok := h.ready(w, r)
		if !ok {
			return
		}
		s, err := b.eng.DB().GetStep(r.PathValue("id"))
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		if !act.allowed(s) {
			h.errorPage(w, r, http.StatusConflict, fmt.Sprintf(
				"This email is %s, so it cannot be changed with %q.", s.Status, act.name))
			return
		}
		req, err := h.readAction(r, b, act)
		if err != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The new time cannot be read: "+err.Error()+".")
			return
		}
		ret := safeNext(r.PostFormValue("return"))
		if r.PostFormValue("confirm") != "yes" {
			h.confirmStep(w, r, act, s, req, ret)
			return
		}
		by := sessionFrom(r.Context()).Actor
		if _, err := act.do(b, s.ID, by, req); err != nil {
			h.storeError(w, r, err)
			return
		}
		h.log.InfoContext(r.Context(), "admin action", "action", act.name, "step_id", s.ID,
			"run_id", s.RunID, "by", by)
		http.Redirect(w, r, doneURL(ret, act.name, "step-"+s.ID), http.StatusSeeOther)
	}
}

func (h *Handler) readAction(r *http.Request, b *backend, act stepActionDef) (actionRequest, error) {
	req := actionRequest{now: b.eng.Now(), reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if req.reason == "" {
		req.reason = defaultReason
	}
	if act.name != actReschedule.name {
		return req, nil
	}
	at, err := parseLocal(r.PostFormValue("at"), h.loc)
	if err != nil {
		return req, err
	}
	req.at = at
	return req, nil
}

func (h *Handler) confirmStep(w http.ResponseWriter, r *http.Request, act stepActionDef,
	s store.Step, req actionRequest, ret string) {
	d := confirmData{
		Action: act.name, Question: act.question, Label: act.label, Explain: act.explain,
		Post:   "/admin/steps/" + url.PathEscape(s.ID) + "/" + act.name,
		Fields: map[string]string{"return": ret}, Step: &s,
		Reason: act.name == actCancel.name, Return: ret,
	}
	if act.name == actReschedule.name {
		d.At = req.at
		d.Fields["at"] = r.PostFormValue("at")
	}
	h.render(w, r, http.StatusOK, "confirm", h.page(r, "Confirm: "+act.name, "steps", d))
}

// cancelRun cancels a contact's whole sequence, after confirmation.
func (h *Handler) cancelRun(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	db := b.eng.DB()
	run, err := db.GetRun(r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	ret := safeNext(r.PostFormValue("return"))
	if r.PostFormValue("confirm") != "yes" {
		steps, err := db.StepsByRun(run.ID)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, "confirm", h.page(r, "Confirm: cancel sequence", "steps", confirmData{
			Action: "cancel-run", Question: "Cancel the whole sequence?",
			Label: "Yes, cancel the whole sequence",
			Explain: "Every email of this sequence that has not been sent is cancelled, and the " +
				"contact may start the sequence again. Emails already sent stay as they are.",
			Post:   "/admin/runs/" + url.PathEscape(run.ID) + "/cancel",
			Fields: map[string]string{"return": ret}, Run: &runView{Run: run, Steps: steps},
			Reason: true, Return: ret,
		}))
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = defaultReason
	}
	by := sessionFrom(r.Context()).Actor
	changed, err := db.CancelRun(run.ID, by, reason, b.eng.Now())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "admin action", "action", "cancel-run", "run_id", run.ID,
		"steps", len(changed), "by", by)
	http.Redirect(w, r, doneURL(ret, "cancel-run", "run-"+run.ID), http.StatusSeeOther)
}

// doneURL is where an action returns: the page it started from, with the
// message key and an anchor on the changed item.
func doneURL(ret, action, anchor string) string {
	u, err := url.Parse(ret)
	if err != nil {
		u = &url.URL{Path: "/admin/"}
	}
	q := u.Query()
	q.Set("done", action)
	u.RawQuery = q.Encode()
	u.Fragment = anchor
	return u.String()
}
