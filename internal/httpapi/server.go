// Package httpapi serves perfect's HTTP interface: the legacy webhooks,
// /health, and the admin JSON API over the queue.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"perfect/internal/engine"
	"perfect/internal/unsubscribe"
	"perfect/store"
)

// Info describes the running configuration for /health.
type Info struct {
	TestingRaw        string
	NotionConfigured  bool
	ResendConfigured  bool
	DiscordConfigured bool
	Templates         string // "notion", "dir" or "embedded"
	DataFile          string
	Prefect           string // "off" or the backends in use
}

// Backend is what the handlers need from the engine once the store is open.
type Backend struct {
	Engine *engine.Engine
	// Triggers picks the backend of each flow; nil means the engine for all.
	Triggers func(flow string) engine.Trigger
	// Lifecycle runs after a webhook was stored, for cancellations it implies.
	Lifecycle *Lifecycle
	// Unsubscribe signs and checks unsubscribe links.
	Unsubscribe *unsubscribe.Signer
	// Suppress records a suppression; nil writes only to the store.
	Suppress Suppressor
}

// Server is the HTTP handler of perfect serve.
type Server struct {
	log        *slog.Logger
	info       Info
	adminToken string
	now        func() time.Time
	backend    atomic.Pointer[Backend]
	mux        *http.ServeMux
	// MaxBody caps webhook bodies in bytes.
	MaxBody int64
	// Extra routes registered by other packages (Prefect API, admin page).
	Extra []Route
	// Secrets are the webhook senders' secrets.
	Secrets Secrets
	// TrustProxy takes the client address from X-Forwarded-For (behind
	// Coolify's proxy); off, the remote address is used.
	TrustProxy bool
	// CORSOrigins may call the webhooks from a browser; empty means none.
	CORSOrigins []string
	// WebhookRate and WebhookBurst limit webhook requests per address;
	// zero rate turns the limit off.
	WebhookRate  float64
	WebhookBurst int
	limiter      *limiter
	limiterOnce  sync.Once
	replays      replayCache
	lastWriteErr atomic.Pointer[writeFailure]
	// Metrics, when set, measures every answer and serves /metrics.
	Metrics interface {
		Middleware(http.Handler) http.Handler
		Handler() http.Handler
	}
	// ResendWebhookSecret checks /webhook/resend; empty turns the check off.
	ResendWebhookSecret string
	// OnCritical is called when an assessment is CRITICAL (Discord alert).
	OnCritical func(ctx context.Context, email string, red int)
	handler    http.Handler
}

// Route is a pattern and handler added to the mux.
type Route struct {
	Pattern string
	Handler http.Handler
	Admin   bool
}

// New returns a server. Until SetBackend is called, /health answers 503
// and every other route 503 too: the data file is not open yet.
func New(log *slog.Logger, info Info, adminToken string, now func() time.Time) *Server {
	s := &Server{log: log, info: info, adminToken: adminToken, now: now, MaxBody: 1 << 20}
	return s
}

// SetPrefectMode sets what /health reports about Prefect.
func (s *Server) SetPrefectMode(mode string) { s.info.Prefect = mode }

// SetBackend makes the server ready.
func (s *Server) SetBackend(b *Backend) { s.backend.Store(b) }

// Handler builds the routes; call it once, after Extra is set.
func (s *Server) Handler() http.Handler {
	if s.handler != nil {
		return s.handler
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.handleHealth)
	s.webhook(mux, "/webhook/signup", s.handleSignup)
	s.webhook(mux, "/webhook/assessment", s.handleAssessment)
	s.webhook(mux, "/webhook/christmas-signup", s.handleChristmasSignup)
	s.webhook(mux, "/webhook/calcom-booking", s.handleCalcom)
	s.webhook(mux, "/webhook/calendly-noshow", s.handleNoShow)
	s.webhook(mux, "/webhook/calendly", s.handleCalendly)
	s.webhook(mux, "/webhook/postcall-maybe", s.handlePostCall)
	s.webhook(mux, "/webhook/onboarding-start", s.handleOnboarding)
	s.adminAPI(mux)
	s.unsubscribeRoutes(mux)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.requireAdmin(s.Metrics.Handler()))
	}
	for _, r := range s.Extra {
		h := r.Handler
		if r.Admin {
			h = s.requireAdmin(h)
		}
		mux.Handle(r.Pattern, h)
	}
	s.mux = mux
	var h http.Handler = jsonErrors(mux)
	if s.Metrics != nil {
		h = s.Metrics.Middleware(h)
	}
	s.handler = s.recoverer(s.cors(h))
	return s.handler
}

func (s *Server) webhook(mux *http.ServeMux, path string, h func(w http.ResponseWriter, r *http.Request, b *Backend, body []byte)) {
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		if !isJSON(r) {
			writeDetail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
		if ok, wait := s.allow(r); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeDetail(w, http.StatusTooManyRequests, "too many requests from this address")
			return
		}
		b := s.backend.Load()
		if b == nil {
			w.Header().Set("Retry-After", "5")
			writeDetail(w, http.StatusServiceUnavailable, "starting: data file not open yet")
			return
		}
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		if err := s.authenticate(path, r, body); err != nil {
			// The body of a refused request is never logged.
			s.log.WarnContext(r.Context(), "webhook refused", "path", path,
				"remote", s.clientAddr(r), "reason", err.Error())
			writeDetail(w, http.StatusUnauthorized, "invalid signature or token")
			return
		}
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r, b, body)
		if rec.code < 300 {
			s.markUsed(r, s.now())
		}
	})
}

// readBody reads the request body within MaxBody; it answers 413 itself.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeDetail(w, http.StatusRequestEntityTooLarge, "request body too large")
		return nil, false
	case err != nil:
		writeDetail(w, http.StatusBadRequest, "could not read request body")
		return nil, false
	}
	return body, true
}

// jsonErrors turns the mux's own plain-text 404 and 405 answers into
// FastAPI's JSON bodies; answers our handlers wrote as JSON pass unchanged.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&detailWriter{ResponseWriter: w}, r)
	})
}

type detailWriter struct {
	http.ResponseWriter
	swallow bool
}

func (d *detailWriter) WriteHeader(code int) {
	plain := strings.HasPrefix(d.Header().Get("Content-Type"), "text/plain")
	if plain && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		d.swallow = true
		d.Header().Del("X-Content-Type-Options")
		writeDetail(d.ResponseWriter, code, http.StatusText(code))
		return
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *detailWriter) Write(b []byte) (int, error) {
	if d.swallow {
		return len(b), nil
	}
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (d *detailWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// codeRecorder remembers the status a handler answered.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic", "path", r.URL.Path, "panic", v)
				writeDetail(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireAdmin allows a request with the admin bearer token, or from
// loopback when no token is configured.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return adminHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.adminAllowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perfect"`)
			writeDetail(w, http.StatusUnauthorized, "admin token required")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && crossSite(r) {
			writeDetail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func (s *Server) allow(r *http.Request) (bool, time.Duration) {
	s.limiterOnce.Do(func() { s.limiter = newLimiter(s.WebhookRate, s.WebhookBurst) })
	if s.limiter == nil {
		return true, 0
	}
	return s.limiter.allow(s.clientAddr(r), time.Now())
}

func (s *Server) adminAllowed(r *http.Request) bool {
	if s.adminToken == "" {
		// A request forwarded by a proxy on this host arrives from loopback
		// too: it is not trusted without a token.
		forwarded := r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != ""
		return isLoopback(r.RemoteAddr) && !forwarded
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.adminToken)) == 1
}

// AdminAllowed exposes the admin check to other packages' routes.
func (s *Server) AdminAllowed(r *http.Request) bool { return s.adminAllowed(r) }

// crossSite reports a browser request sent by another site: a change to
// the queue must come from a script, the CLI or the admin page itself.
func crossSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

// timestamp is the response time in RFC 3339 UTC (decisions §2).
func (s *Server) timestamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

// errorStatus maps store errors to HTTP statuses.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, engine.ErrUnknownFlow), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	default:
		return http.StatusServiceUnavailable
	}
}
