package admin

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"perfect/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pageNames are the pages; each file defines "content" for the layout.
var pageNames = []string{
	"overview", "steps", "contact", "step", "confirm", "outbox", "login", "error",
}

// pageData is what every page gets; Data holds the page's own values.
type pageData struct {
	Title   string
	Section string
	Session *session
	CSRF    string
	Zone    string
	Now     time.Time
	Flash   string
	Version string
	Data    any
	loc     *time.Location
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFiles,
		"templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFiles, "templates/"+name+".html"); err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// funcs are the template helpers. Times are formatted through stampIn,
// which the page data's zone and clock feed.
var funcs = template.FuncMap{
	"contactURL": contactURL,
	"stepURL":    func(id string) string { return "/admin/steps/" + url.PathEscape(id) },
	"canCancel":  canCancel,
	"canRetry":   func(s store.Step) bool { return s.Status == store.StatusFailed },
	"canSendNow": canReschedule,
	"canResched": canReschedule,
	"statuses":   func() []store.Status { return allStatuses },
	"short":      shortID,
	"actx": func(p pageData, s store.Step, ret string) actionCtx {
		return actionCtx{P: p, S: s, Return: ret}
	},
	"rows": func(p pageData, steps []store.Step, empty string) rowsCtx {
		return rowsCtx{P: p, Steps: steps, Empty: empty}
	},
	"stampIn": func(p pageData, t any) stamp {
		loc := p.loc
		if loc == nil {
			loc = time.UTC
		}
		switch v := t.(type) {
		case time.Time:
			return newStamp(v, p.Now, loc)
		case *time.Time:
			if v != nil {
				return newStamp(*v, p.Now, loc)
			}
		}
		return stamp{}
	},
}

// actionCtx feeds the stepActions template.
type actionCtx struct {
	P      pageData
	S      store.Step
	Return string
}

// rowsCtx feeds the stepRows template.
type rowsCtx struct {
	P     pageData
	Steps []store.Step
	Empty string
}

// allStatuses is the display order of statuses.
var allStatuses = []store.Status{
	store.StatusPlanned, store.StatusSending, store.StatusSent, store.StatusOutbox,
	store.StatusFailed, store.StatusCancelled, store.StatusExpired,
}

func contactURL(email string) string {
	return "/admin/contacts/" + url.PathEscape(store.Key(email))
}

func canCancel(s store.Step) bool {
	return !s.Status.Final() && s.Status != store.StatusSending
}

func canReschedule(s store.Step) bool {
	return s.Status == store.StatusPlanned || s.Status == store.StatusFailed
}

// shortID keeps the tail of a long id, enough to tell steps apart.
func shortID(id string) string {
	if len(id) <= 12 {
		return id
	}
	return "…" + id[len(id)-12:]
}

// page fills the common fields of a page from the request.
func (h *Handler) page(r *http.Request, title, section string, data any) pageData {
	s := sessionFrom(r.Context())
	p := pageData{
		Title: title, Section: section, Session: s, CSRF: h.csrfToken(s),
		Zone: h.loc.String(), Now: time.Now(), Version: h.info.Version, Data: data,
		loc: h.loc,
	}
	if b := h.backend.Load(); b != nil && b.eng != nil {
		p.Now = b.eng.Now()
	}
	p.Flash = flash(r.URL.Query())
	return p
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p pageData) {
	if p.loc == nil {
		p = h.fill(r, p)
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "render admin page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fill completes a pageData built without h.page.
func (h *Handler) fill(r *http.Request, p pageData) pageData {
	full := h.page(r, p.Title, p.Section, p.Data)
	if p.Flash != "" {
		full.Flash = p.Flash
	}
	return full
}

// errorPage shows a message with a way back.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", pageData{
		Title: http.StatusText(status),
		Data:  errorData{Status: status, Message: msg},
	})
}

type errorData struct {
	Status  int
	Message string
}

// static serves the embedded CSS and script.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(staticFiles, "static/"+path.Base(name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_, _ = w.Write(b)
}

// flashes are the messages shown after an action, picked by a fixed key so
// nothing from the query string reaches the page as text.
var flashes = map[string]string{
	"cancel":     "Email cancelled.",
	"retry":      "Email queued again: the scheduler sends it now.",
	"send-now":   "Email moved to now: the scheduler sends it next.",
	"reschedule": "Email rescheduled.",
	"cancel-run": "Sequence cancelled: its unsent emails will not go out.",
}

func flash(q url.Values) string {
	return flashes[q.Get("done")]
}
