package admin

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"perfect/flows"
	"perfect/store"
)

type overviewData struct {
	Stats    store.Stats
	Flows    []flowRow
	Due      []store.Step
	Failures []store.Step
	// FailuresMore counts failures of the last 24 h beyond those listed.
	FailuresMore int
	Testing      bool
	OutboxMode   bool
	Info         ModeInfo
}

type flowRow struct {
	Name   string
	Counts []int
	Total  int
}

// failureWindow is how far back the overview lists failed emails.
const failureWindow = 24 * time.Hour

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	db, now := b.eng.DB(), b.eng.Now()
	st, err := db.Stats(now)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	due, err := db.Due(10)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	failures, more, err := recentFailures(db, now.Add(-failureWindow), 20)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "overview", h.page(r, "Overview", "overview", overviewData{
		Stats: st, Flows: flowRows(st), Due: due, Failures: failures, FailuresMore: more,
		Testing: b.eng.Testing(), OutboxMode: b.eng.OutboxMode(), Info: h.info,
	}))
}

// recentFailures returns the failed steps changed since, newest first, at
// most limit of them, and how many more there are.
func recentFailures(db *store.DB, since time.Time, limit int) ([]store.Step, int, error) {
	failed, err := db.List(store.Filter{Status: store.StatusFailed, Limit: 5000})
	if err != nil {
		return nil, 0, err
	}
	var out []store.Step
	for _, s := range failed {
		if !s.UpdatedAt.Before(since) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	if len(out) > limit {
		return out[:limit], len(out) - limit, nil
	}
	return out, 0, nil
}

// flowRows lays the per-flow counters out in allStatuses order, flows in
// their defined order first, then any other flow found in the counters.
func flowRows(st store.Stats) []flowRow {
	var names []string
	seen := map[string]bool{}
	for _, f := range flows.All() {
		if st.ByFlow[f.Name] != nil {
			names = append(names, f.Name)
			seen[f.Name] = true
		}
	}
	var extra []string
	for name := range st.ByFlow {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	var rows []flowRow
	for _, name := range append(names, extra...) {
		row := flowRow{Name: name}
		for _, s := range allStatuses {
			n := st.ByFlow[name][s]
			row.Counts = append(row.Counts, n)
			row.Total += n
		}
		rows = append(rows, row)
	}
	return rows
}

type stepsData struct {
	Query  string
	Status string
	Flow   string
	Flows  []string
	Steps  []store.Step
	// Next is the query string of the next page; empty on the last one.
	Next string
	// FirstURL links back to the first page; empty on the first page.
	FirstURL string
	// Partial marks a substring search that stopped before the end.
	Partial bool
	// Contacts are the addresses of a search's results, for their timelines.
	Contacts []string
}

// pageSize is the number of steps per list page.
const pageSize = 50

func (h *Handler) stepsList(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := stepsData{
		Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Flow: q.Get("flow"),
		Flows: flowNames(),
	}
	if d.Status != "" && !store.Status(d.Status).Valid() {
		h.errorPage(w, r, http.StatusBadRequest, "Unknown status "+d.Status+".")
		return
	}
	f := store.Filter{Status: store.Status(d.Status), Flow: d.Flow, After: q.Get("after"), Limit: pageSize}
	res, err := search(b.eng.DB(), f, d.Query)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	d.Steps, d.Partial = res.steps, res.partial
	if res.next != "" {
		d.Next = d.url(res.next)
	}
	if f.After != "" {
		d.FirstURL = d.url("")
	}
	if d.Query != "" {
		d.Contacts = contacts(d.Steps, 10)
	}
	h.render(w, r, http.StatusOK, "steps", h.page(r, "Emails", "steps", d))
}

// url is the list's address with the same filters, from after on.
func (d stepsData) url(after string) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": d.Query, "status": d.Status, "flow": d.Flow, "after": after} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if len(v) == 0 {
		return "/admin/steps"
	}
	return "/admin/steps?" + v.Encode()
}

// contacts returns the distinct addresses of steps, at most limit.
func contacts(steps []store.Step, limit int) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range steps {
		k := store.Key(s.Email)
		if !seen[k] && len(out) < limit {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func flowNames() []string {
	var names []string
	for _, f := range flows.All() {
		if len(f.Steps) > 0 {
			names = append(names, f.Name)
		}
	}
	return names
}

type searchResult struct {
	steps   []store.Step
	next    string
	partial bool
}

// scanCap bounds how many steps one substring search reads.
const scanCap = 20000

// search lists one page of steps. A whole address uses the email index; any
// other text is matched as a substring of the address, scanning the steps in
// id order, at most scanCap of them per page.
func search(db *store.DB, f store.Filter, q string) (searchResult, error) {
	if q == "" || isAddress(q) {
		f.Email = q
		steps, err := db.List(f)
		if err != nil {
			return searchResult{}, err
		}
		res := searchResult{steps: steps}
		if len(steps) == f.Limit {
			res.next = steps[len(steps)-1].ID
		}
		return res, nil
	}
	needle := strings.ToLower(q)
	limit := f.Limit
	f.Limit = 500
	var res searchResult
	for scanned := 0; ; {
		batch, err := db.List(f)
		if err != nil {
			return searchResult{}, err
		}
		for _, s := range batch {
			scanned++
			f.After = s.ID
			if strings.Contains(store.Key(s.Email), needle) {
				res.steps = append(res.steps, s)
				if len(res.steps) == limit {
					res.next = s.ID
					return res, nil
				}
			}
		}
		if len(batch) < f.Limit {
			return res, nil
		}
		if scanned >= scanCap {
			res.next, res.partial = f.After, true
			return res, nil
		}
	}
}

// isAddress reports whether q is a whole address rather than a fragment.
func isAddress(q string) bool {
	local, domain, ok := strings.Cut(q, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.Contains(domain, "@")
}

type contactData struct {
	Email string
	Runs  []runView
}

type runView struct {
	Run   store.Run
	Steps []store.Step
	// Open reports whether anything of the run can still be cancelled.
	Open bool
}

// contactSearch sends a search box value to the contact's page when it is a
// known address, and to the filtered list otherwise.
func (h *Handler) contactSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("email"))
	if isAddress(q) {
		http.Redirect(w, r, contactURL(q), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/admin/steps?"+url.Values{"q": {q}}.Encode(), http.StatusSeeOther)
}

func (h *Handler) contactPage(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	email := store.Key(r.PathValue("email"))
	runs, err := contactRuns(b.eng.DB(), email)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	if len(runs) == 0 {
		h.errorPage(w, r, http.StatusNotFound, "No sequence was ever started for "+email+".")
		return
	}
	h.render(w, r, http.StatusOK, "contact", h.page(r, email, "steps",
		contactData{Email: email, Runs: runs}))
}

// contactRuns reads every run of a contact with its steps, newest run first.
func contactRuns(db *store.DB, email string) ([]runView, error) {
	runs, err := db.RunsByEmail(email)
	if err != nil {
		return nil, err
	}
	out := make([]runView, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		steps, err := db.StepsByRun(runs[i].ID)
		if err != nil {
			return nil, err
		}
		v := runView{Run: runs[i], Steps: steps, Open: runs[i].CancelledAt == nil}
		for _, s := range steps {
			v.Open = v.Open || canCancel(s)
		}
		out = append(out, v)
	}
	return out, nil
}

type stepData struct {
	Step  store.Step
	Run   store.Run
	Email *store.Rendered
	// Source says whether Email was stored or rendered for this page.
	Source     string
	RenderErr  string
	Reschedule string
}

const (
	sourceStored  = "stored"
	sourcePreview = "preview"
)

func (h *Handler) stepPage(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	s, run, ok := h.loadStep(w, r, b)
	if !ok {
		return
	}
	d := stepData{Step: s, Run: run, Reschedule: s.DueAt.In(h.loc).Format(inputLayout)}
	d.Email, d.Source, d.RenderErr = h.email(r, b, run, s)
	h.render(w, r, http.StatusOK, "step", h.page(r, "Email "+s.Template, "steps", d))
}

// email returns the email as it was stored when the step was claimed, or
// renders it now as it would be sent. Rendering here stores nothing.
func (h *Handler) email(r *http.Request, b *backend, run store.Run,
	s store.Step) (email *store.Rendered, source, problem string) {
	if s.Rendered != nil {
		return s.Rendered, sourceStored, ""
	}
	if b.rnd == nil {
		return nil, "", "No renderer is configured, so the email cannot be previewed."
	}
	out, err := b.rnd.Render(r.Context(), run, s, b.eng.Now())
	if err != nil {
		return nil, "", "The email cannot be rendered now: " + err.Error()
	}
	return out, sourcePreview, ""
}

func (h *Handler) loadStep(w http.ResponseWriter, r *http.Request, b *backend) (store.Step, store.Run, bool) {
	s, err := b.eng.DB().GetStep(r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return store.Step{}, store.Run{}, false
	}
	run, err := b.eng.DB().GetRun(s.RunID)
	if err != nil {
		h.storeError(w, r, err)
		return store.Step{}, store.Run{}, false
	}
	return s, run, true
}

// preview serves the email's HTML alone, for the sandboxed frame of the step
// page; securePreview gives it a CSP sandbox of its own.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	s, run, ok := h.loadStep(w, r, b)
	if !ok {
		return
	}
	email, _, msg := h.email(r, b, run, s)
	if email == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(msg))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(email.HTML))
}

type outboxData struct {
	Items []store.OutboxItem
	Stats store.Stats
}

func (h *Handler) outboxPage(w http.ResponseWriter, r *http.Request) {
	b, ok := h.ready(w, r)
	if !ok {
		return
	}
	items, err := b.eng.DB().ListOutbox(200)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	st, err := b.eng.DB().Stats(b.eng.Now())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "outbox", h.page(r, "Outbox", "outbox",
		outboxData{Items: items, Stats: st}))
}

// storeError maps store errors to pages: 404, 409 or 500.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.errorPage(w, r, http.StatusNotFound, "Not found: "+err.Error()+".")
	case errors.Is(err, store.ErrConflict):
		h.errorPage(w, r, http.StatusConflict, "Not done: "+err.Error()+".")
	default:
		h.log.ErrorContext(r.Context(), "admin page store error", "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "The data file could not be read.")
	}
}
