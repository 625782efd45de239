package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"perfect/internal/webhook"
	"perfect/store"
)

// StepView is the JSON shape of a step in lists.
type StepView struct {
	ID           string     `json:"id"`
	RunID        string     `json:"run_id"`
	Flow         string     `json:"flow"`
	Email        string     `json:"email"`
	Template     string     `json:"template"`
	EmailNumber  int        `json:"email_number"`
	DueAt        time.Time  `json:"due_at"`
	Status       string     `json:"status"`
	Attempts     int        `json:"attempts"`
	LastError    string     `json:"last_error"`
	SentAt       *time.Time `json:"sent_at"`
	ProviderID   string     `json:"provider_id"`
	CancelReason string     `json:"cancel_reason,omitempty"`
}

// View returns the list shape of a step.
func View(s store.Step) StepView {
	return StepView{
		ID: s.ID, RunID: s.RunID, Flow: s.Flow, Email: s.Email, Template: s.Template,
		EmailNumber: s.EmailNumber, DueAt: s.DueAt, Status: string(s.Status),
		Attempts: s.Attempts, LastError: s.LastError, SentAt: s.SentAt,
		ProviderID: s.ProviderID, CancelReason: s.CancelReason,
	}
}

func (s *Server) adminAPI(mux *http.ServeMux) {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, b *Backend)) {
		mux.Handle(pattern, s.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := s.backend.Load()
			if b == nil {
				writeDetail(w, http.StatusServiceUnavailable, "starting: data file not open yet")
				return
			}
			fn(w, r, b)
		})))
	}
	h("GET /admin/api/steps", s.listSteps)
	h("GET /admin/api/steps/{id}", s.showStep)
	h("POST /admin/api/steps/{id}/cancel", s.cancelStep)
	h("POST /admin/api/steps/{id}/retry", s.retryStep)
	h("POST /admin/api/steps/{id}/send-now", s.sendNow)
	h("POST /admin/api/steps/{id}/reschedule", s.reschedule)
	h("POST /admin/api/contacts/cancel", s.cancelContact)
	h("GET /admin/api/outbox", s.listOutbox)
	h("GET /admin/api/stats", s.stats)
	h("GET /admin/api/backup", s.backup)
	h("GET /admin/api/suppressions", s.listSuppressions)
	h("POST /admin/api/suppressions", s.addSuppression)
	h("DELETE /admin/api/suppressions/{email}", s.removeSuppression)
}

// backup streams a consistent copy of the data file from a read
// transaction, so a backup needs no stop.
func (s *Server) backup(w http.ResponseWriter, r *http.Request, b *Backend) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="perfect.db"`)
	if _, err := b.Engine.DB().Backup(w); err != nil {
		s.log.ErrorContext(r.Context(), "backup", "err", err)
	}
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request, b *Backend) {
	list, err := b.Engine.DB().ListSuppressed(10000)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []store.Suppression{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"suppressions": list})
}

func (s *Server) addSuppression(w http.ResponseWriter, r *http.Request, b *Backend) {
	a, err := readAction(r)
	if err != nil || a.Email == "" {
		writeDetail(w, http.StatusBadRequest, "body must be JSON with an email")
		return
	}
	if a.Email, err = webhook.NormalizeEmail(a.Email); err != nil {
		writeDetail(w, http.StatusBadRequest, "not an email address: "+err.Error())
		return
	}
	reason := a.Reason
	if reason == "" {
		reason = "admin"
	}
	n, err := s.suppress(r.Context(), b, store.Suppression{Email: a.Email, Reason: reason,
		Source: "admin", By: actor(a, r), At: b.Engine.Now()})
	if err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"email": a.Email, "cancelled": n})
}

func (s *Server) removeSuppression(w http.ResponseWriter, r *http.Request, b *Backend) {
	if err := b.Engine.DB().Unsuppress(r.PathValue("email")); err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"email": r.PathValue("email"), "removed": true})
}

func (s *Server) listSteps(w http.ResponseWriter, r *http.Request, b *Backend) {
	q := r.URL.Query()
	f := store.Filter{Email: q.Get("email"), Status: store.Status(q.Get("status")),
		Flow: q.Get("flow"), RunID: q.Get("run_id"), After: q.Get("after")}
	if f.Status != "" && !f.Status.Valid() {
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf("unknown status %q", f.Status))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeDetail(w, http.StatusBadRequest, "limit must be 1-1000")
			return
		}
		f.Limit = n
	}
	steps, err := b.Engine.DB().List(f)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := struct {
		Steps []StepView `json:"steps"`
		Next  string     `json:"next,omitempty"`
	}{Steps: make([]StepView, 0, len(steps))}
	for _, st := range steps {
		out.Steps = append(out.Steps, View(st))
	}
	if f.Limit > 0 && len(steps) == f.Limit || f.Limit == 0 && len(steps) == 100 {
		out.Next = steps[len(steps)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) showStep(w http.ResponseWriter, r *http.Request, b *Backend) {
	st, err := b.Engine.DB().GetStep(r.PathValue("id"))
	if err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	run, err := b.Engine.DB().GetRun(st.RunID)
	if err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": st, "view": View(st), "run": run})
}

type actionBody struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	DueAt  string `json:"due_at"`
	Email  string `json:"email"`
}

func readAction(r *http.Request) (actionBody, error) {
	var a actionBody
	if r.ContentLength == 0 {
		return a, nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err := dec.Decode(&a); err != nil {
		return a, fmt.Errorf("invalid JSON body: %w", err)
	}
	return a, nil
}

func actor(a actionBody, r *http.Request) string {
	if a.By != "" {
		return a.By
	}
	return "admin-api@" + r.RemoteAddr
}

func (s *Server) stepAction(w http.ResponseWriter, r *http.Request, b *Backend,
	act func(a actionBody, by string, now time.Time) (store.Step, error)) {
	a, err := readAction(r)
	if err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := act(a, actor(a, r), b.Engine.Now())
	if err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	b.Engine.Wake()
	writeJSON(w, http.StatusOK, View(st))
}

func (s *Server) cancelStep(w http.ResponseWriter, r *http.Request, b *Backend) {
	s.stepAction(w, r, b, func(a actionBody, by string, now time.Time) (store.Step, error) {
		reason := a.Reason
		if reason == "" {
			reason = "cancelled by admin"
		}
		return b.Engine.DB().CancelStep(r.PathValue("id"), by, reason, now)
	})
}

func (s *Server) retryStep(w http.ResponseWriter, r *http.Request, b *Backend) {
	s.stepAction(w, r, b, func(a actionBody, by string, now time.Time) (store.Step, error) {
		return b.Engine.Requeue(r.PathValue("id"), by, "retry", now, store.StatusFailed)
	})
}

func (s *Server) sendNow(w http.ResponseWriter, r *http.Request, b *Backend) {
	s.stepAction(w, r, b, func(a actionBody, by string, now time.Time) (store.Step, error) {
		return b.Engine.Requeue(r.PathValue("id"), by, "send-now", now, store.StatusPlanned, store.StatusFailed)
	})
}

func (s *Server) reschedule(w http.ResponseWriter, r *http.Request, b *Backend) {
	s.stepAction(w, r, b, func(a actionBody, by string, now time.Time) (store.Step, error) {
		at, err := time.Parse(time.RFC3339, a.DueAt)
		if err != nil {
			return store.Step{}, fmt.Errorf("due_at must be RFC 3339: %w", errBadRequest)
		}
		return b.Engine.Reschedule(r.PathValue("id"), by, at, now)
	})
}

var errBadRequest = errors.New("bad request")

func (s *Server) cancelContact(w http.ResponseWriter, r *http.Request, b *Backend) {
	a, err := readAction(r)
	if err != nil || a.Email == "" {
		writeDetail(w, http.StatusBadRequest, "body must be JSON with an email")
		return
	}
	reason := a.Reason
	if reason == "" {
		reason = "cancelled by admin"
	}
	steps, err := b.Engine.DB().CancelMatching(a.Email, func(store.Step) bool { return true },
		actor(a, r), reason, b.Engine.Now())
	if err != nil {
		writeDetail(w, errorStatus(err), err.Error())
		return
	}
	out := make([]StepView, 0, len(steps))
	for _, st := range steps {
		out = append(out, View(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"cancelled": out})
}

func (s *Server) listOutbox(w http.ResponseWriter, r *http.Request, b *Backend) {
	items, err := b.Engine.DB().ListOutbox(500)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if items == nil {
		items = []store.OutboxItem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, b *Backend) {
	st, err := b.Engine.DB().Stats(b.Engine.Now())
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}
