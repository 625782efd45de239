package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// cookieName is the session cookie; its Path is /admin so it never leaves
// the admin page.
const cookieName = "perfect_admin"

// session is what the signed cookie carries. It never holds the token.
type session struct {
	// ID ties CSRF tokens to this login.
	ID string `json:"sid"`
	// Actor is recorded as "by" in the history of every change.
	Actor   string `json:"act"`
	Expires int64  `json:"exp"`
}

type sessionKeyCtx struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKeyCtx{}).(*session)
	return s
}

// sessionKey picks the signing key: the configured one, one derived from
// the token, or a random one when neither exists.
func sessionKey(configured []byte, token string) ([]byte, error) {
	switch {
	case len(configured) > 0:
		return configured, nil
	case token != "":
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("perfect admin session key v1"))
		return m.Sum(nil), nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("draw session key: %w", err)
	}
	return k, nil
}

func (h *Handler) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, h.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// encode signs a session as "payload.mac", both base64url.
func (h *Handler) encode(s *session) string {
	raw, _ := json.Marshal(s)
	payload := b64.EncodeToString(raw)
	return payload + "." + b64.EncodeToString(h.mac("session", payload))
}

var errBadSession = errors.New("invalid session")

// decode checks the signature and the expiry of a cookie value.
func (h *Handler) decode(v string, now time.Time) (*session, error) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errBadSession
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac("session", payload)) {
		return nil, errBadSession
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return nil, errBadSession
	}
	var s session
	if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" {
		return nil, errBadSession
	}
	if now.Unix() >= s.Expires {
		return nil, fmt.Errorf("session expired: %w", errBadSession)
	}
	return &s, nil
}

// csrfToken is the synchronizer token of a session: an HMAC of its id, so
// it needs no server-side state and dies with the session.
func (h *Handler) csrfToken(s *session) string {
	if s == nil {
		return ""
	}
	return b64.EncodeToString(h.mac("csrf", s.ID))
}

func (h *Handler) validCSRF(r *http.Request, s *session) bool {
	got := r.PostFormValue("csrf")
	want := h.csrfToken(s)
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (h *Handler) newSession(actor string) (*session, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("draw session id: %w", err)
	}
	return &session{
		ID: b64.EncodeToString(id), Actor: actor,
		Expires: time.Now().Add(h.ttl).Unix(),
	}, nil
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: h.encode(s), Path: "/admin",
		MaxAge: int(h.ttl.Seconds()), HttpOnly: true, Secure: isTLS(r),
		SameSite: http.SameSiteStrictMode,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/admin", MaxAge: -1,
		HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteStrictMode,
	})
}

// isTLS reports whether the browser reached us over HTTPS, directly or
// through a proxy that says so.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) cookieSession(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s, err := h.decode(c.Value, time.Now())
	if err != nil {
		return nil
	}
	return s
}

// authenticated lets a request through with a valid session. Without a
// token, loopback clients get a session on first sight and others a 403.
// Every POST must carry the session's CSRF token and must not come from
// another site.
func (h *Handler) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.resolveSession(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPost && !h.postAllowed(r, s) {
			h.log.WarnContext(r.Context(), "admin form refused", "reason", "csrf",
				"path", r.URL.Path, "remote", clientIP(r))
			h.errorPage(w, r, http.StatusForbidden,
				"The form was refused: its security token is missing or out of date. "+
					"Go back, reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKeyCtx{}, s)))
	})
}

func (h *Handler) resolveSession(w http.ResponseWriter, r *http.Request) (*session, bool) {
	if h.token == "" {
		if !localOnly(r) {
			h.errorPage(w, r, http.StatusForbidden,
				"The admin page answers only on this machine while ADMIN_TOKEN is not set.")
			return nil, false
		}
		if s := h.cookieSession(r); s != nil {
			return s, true
		}
		s, err := h.newSession("local@" + clientIP(r))
		if err != nil {
			h.errorPage(w, r, http.StatusInternalServerError, err.Error())
			return nil, false
		}
		h.setCookie(w, r, s)
		return s, true
	}
	if s := h.cookieSession(r); s != nil {
		return s, true
	}
	target := "/admin/login"
	if r.Method == http.MethodGet && r.URL.Path != "/admin/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil, false
}

// postAllowed checks the CSRF token, and refuses requests a browser marks as
// cross-site even before looking at it.
func (h *Handler) postAllowed(r *http.Request, s *session) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return false
	}
	return h.validCSRF(r, s)
}

// localOnly reports whether a request comes straight from this machine. A
// request that went through a proxy is not local even when the proxy is.
func localOnly(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" ||
		r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	ip := net.ParseIP(clientIP(r))
	return ip != nil && ip.IsLoopback()
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if h.token == "" {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in",
		Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

type loginData struct {
	Next  string
	Error string
}

// login checks the token in constant time and starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if h.token == "" {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if h.logins.Tokens() < 1 {
		w.Header().Set("Retry-After", "10")
		h.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in",
			Data: loginData{Next: next, Error: "Too many failed attempts. Wait a few seconds."}})
		return
	}
	got := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
		h.logins.Allow()
		h.log.WarnContext(r.Context(), "admin login failed", "remote", clientIP(r))
		h.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in",
			Data: loginData{Next: next, Error: "That token is not right."}})
		return
	}
	s, err := h.newSession("admin@" + clientIP(r))
	if err != nil {
		h.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	h.setCookie(w, r, s)
	h.log.InfoContext(r.Context(), "admin login", "actor", s.Actor)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.clearCookie(w, r)
	if h.token == "" {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on the admin page: a local path under
// /admin/, never another host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin/") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "//") {
		return "/admin/"
	}
	return next
}
