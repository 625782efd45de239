// Package admin serves the admin page of perfect: server-rendered HTML under
// /admin/ to see the queue of planned emails and act on it (cancel, retry,
// send now, reschedule). The JSON admin API stays in httpapi under
// /admin/api/; none of the patterns here overlap it.
//
// The page works without JavaScript. It is reached with a login form that
// checks ADMIN_TOKEN and sets a signed session cookie; without a token it
// answers only to loopback clients. Every action is a POST with a CSRF token
// tied to the session, and is confirmed on a second page before it runs.
package admin

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"perfect/internal/engine"
	"perfect/internal/httpapi"
)

// ModeInfo describes the running configuration shown on the overview. The
// testing and outbox modes are read from the engine itself.
type ModeInfo struct {
	// Templates is where templates come from: "notion", "dir" or "embedded".
	Templates string
	// NotionConfigured reports whether tracking writes go to Notion.
	NotionConfigured bool
	// DataFile is the path of the bbolt file.
	DataFile string
	// Version is the build version, shown in the footer.
	Version string
}

// Config wires a Handler.
type Config struct {
	// Engine and Renderer may be nil at construction and set later with
	// SetEngine, because serve opens the data file after it starts
	// listening. Until then the pages answer 503.
	Engine   *engine.Engine
	Renderer *engine.Renderer
	// Token is ADMIN_TOKEN. Empty serves the page to loopback clients only,
	// without a login.
	Token string
	// Location is ADMIN_TIMEZONE; nil means UTC.
	Location *time.Location
	Logger   *slog.Logger
	Info     ModeInfo
	// SessionTTL is how long a login lasts; zero means 12 hours.
	SessionTTL time.Duration
	// SessionKey signs session cookies and CSRF tokens. Empty derives it
	// from Token, so sessions survive a restart and end when the token
	// changes; without a token a random key is drawn.
	SessionKey []byte
}

// Handler is the admin page.
type Handler struct {
	token   string
	loc     *time.Location
	log     *slog.Logger
	info    ModeInfo
	ttl     time.Duration
	key     []byte
	backend atomic.Pointer[backend]
	pages   map[string]*template.Template
	// logins limits failed login attempts, so the token cannot be guessed
	// at network speed.
	logins *rate.Limiter
}

type backend struct {
	eng *engine.Engine
	rnd *engine.Renderer
}

// New returns the admin handler.
func New(cfg Config) (*Handler, error) {
	h := &Handler{
		token: cfg.Token, loc: cfg.Location, log: cfg.Logger, info: cfg.Info,
		ttl: cfg.SessionTTL, logins: rate.NewLimiter(rate.Every(time.Second), 10),
	}
	if h.loc == nil {
		h.loc = time.UTC
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.ttl <= 0 {
		h.ttl = 12 * time.Hour
	}
	key, err := sessionKey(cfg.SessionKey, cfg.Token)
	if err != nil {
		return nil, err
	}
	h.key = key
	if h.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("parse admin templates: %w", err)
	}
	if cfg.Engine != nil {
		h.SetEngine(cfg.Engine, cfg.Renderer)
	}
	return h, nil
}

// SetEngine makes the pages ready once the data file is open. r renders
// the preview of emails not rendered yet; nil leaves the preview out.
func (h *Handler) SetEngine(e *engine.Engine, r *engine.Renderer) {
	h.backend.Store(&backend{eng: e, rnd: r})
}

// LoadLocation reads ADMIN_TIMEZONE: an IANA name, empty for UTC.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("load time zone %q: %w", name, err)
	}
	return loc, nil
}

// Routes returns the page's routes for httpapi.Server.Extra. They carry
// their own authentication (session cookie or loopback), so Admin is false:
// httpapi's bearer check must not wrap them.
func (h *Handler) Routes() []httpapi.Route {
	var out []httpapi.Route
	for _, r := range h.routes() {
		out = append(out, httpapi.Route{Pattern: r.pattern, Handler: r.handler})
	}
	return out
}

// Handler returns the routes on a mux of their own, for mounting at
// "/admin" and "/admin/" next to a JSON API that keeps "/admin/api/".
func (h *Handler) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range h.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	return mux
}

type route struct {
	pattern string
	handler http.Handler
}

// routes lists every pattern. Each names a method and a path whose second
// segment is never "api", so none overlaps httpapi's /admin/api/ routes.
func (h *Handler) routes() []route {
	page := func(fn http.HandlerFunc) http.Handler { return h.secure(h.authenticated(fn)) }
	public := func(fn http.HandlerFunc) http.Handler { return h.secure(fn) }
	return []route{
		{"GET /admin", public(redirectTo("/admin/"))},
		{"GET /admin/{$}", page(h.overview)},
		{"GET /admin/login", public(h.loginForm)},
		{"POST /admin/login", public(h.login)},
		{"POST /admin/logout", page(h.logout)},
		{"GET /admin/static/{file}", public(h.static)},
		{"GET /admin/steps", page(h.stepsList)},
		{"GET /admin/steps/{id}", page(h.stepPage)},
		{"GET /admin/steps/{id}/preview", h.securePreview(h.authenticated(http.HandlerFunc(h.preview)))},
		{"POST /admin/steps/{id}/cancel", page(h.stepAction(actCancel))},
		{"POST /admin/steps/{id}/retry", page(h.stepAction(actRetry))},
		{"POST /admin/steps/{id}/send-now", page(h.stepAction(actSendNow))},
		{"POST /admin/steps/{id}/reschedule", page(h.stepAction(actReschedule))},
		{"POST /admin/runs/{id}/cancel", page(h.cancelRun)},
		{"GET /admin/contacts", page(h.contactSearch)},
		{"GET /admin/contacts/{email}", page(h.contactPage)},
		{"GET /admin/outbox", page(h.outboxPage)},
	}
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
}

// errStarting is shown while the data file is not open yet.
var errStarting = errors.New("starting: the data file is not open yet")

// ready returns the backend, or answers 503 while the data file is not open.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) (*backend, bool) {
	b := h.backend.Load()
	if b == nil || b.eng == nil {
		w.Header().Set("Retry-After", "5")
		h.errorPage(w, r, http.StatusServiceUnavailable, errStarting.Error())
		return nil, false
	}
	return b, true
}
