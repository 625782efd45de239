package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"perfect/internal/engine"
	"perfect/internal/unsubscribe"
	"perfect/store"
)

// Suppressor records suppressions; the app adds tracking (Notion) to it.
type Suppressor func(ctx context.Context, s store.Suppression) (cancelled int, err error)

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.3rem;background:#333;color:#fff;cursor:pointer}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Token}}<form method="post" action="/unsubscribe"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Unsubscribe {{.Email}}</button></form>{{end}}
</body></html>`))

type page struct {
	Title, Text, Token, Email string
}

func writePage(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

func (s *Server) unsubscribeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /unsubscribe", s.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe", s.unsubscribe)
	s.webhook(mux, "/webhook/resend", s.handleResendEvent)
}

func (s *Server) verifyToken(w http.ResponseWriter, token string) (string, *Backend, bool) {
	b := s.backend.Load()
	if b == nil || b.Unsubscribe == nil {
		writePage(w, http.StatusServiceUnavailable, page{Title: "Please try again",
			Text: "The service is starting. Please try the link again in a minute."})
		return "", nil, false
	}
	email, err := b.Unsubscribe.Verify(token, b.Engine.Now())
	switch {
	case errors.Is(err, unsubscribe.ErrExpired):
		writePage(w, http.StatusGone, page{Title: "This link has expired",
			Text: "Please use the unsubscribe link of a more recent email, or reply to it and we will remove you."})
		return "", nil, false
	case err != nil:
		writePage(w, http.StatusBadRequest, page{Title: "This link is not valid",
			Text: "The unsubscribe link is incomplete or was changed. Please use the link from the email as it is."})
		return "", nil, false
	}
	return email, b, true
}

func (s *Server) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	email, _, ok := s.verifyToken(w, token)
	if !ok {
		return
	}
	writePage(w, http.StatusOK, page{Title: "Unsubscribe",
		Text: "Press the button to stop receiving marketing emails from us at this address.", Token: token, Email: email})
}

// unsubscribe handles the confirmation form and RFC 8058 one-click POSTs
// (body "List-Unsubscribe=One-Click", token in the URL).
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, page{Title: "This link is not valid", Text: "The request could not be read."})
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	email, b, ok := s.verifyToken(w, token)
	if !ok {
		return
	}
	source := "unsubscribe link"
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" || r.URL.Query().Get("List-Unsubscribe") == "One-Click" {
		source = "one-click"
	}
	n, err := s.suppress(r.Context(), b, store.Suppression{Email: email, Reason: "unsubscribed",
		Source: source, By: "contact", At: b.Engine.Now()})
	if err == nil {
		s.log.InfoContext(r.Context(), "address unsubscribed", "email", engine.MaskEmail(email),
			"source", source, "cancelled", n)
	}
	if err != nil {
		writePage(w, http.StatusServiceUnavailable, page{Title: "Please try again",
			Text: "We could not record your request just now. Please try again in a minute."})
		return
	}
	writePage(w, http.StatusOK, page{Title: "You are unsubscribed",
		Text: "You will not receive marketing emails from us at this address any more."})
}

func (s *Server) suppress(ctx context.Context, b *Backend, sup store.Suppression) (int, error) {
	if b.Suppress != nil {
		return b.Suppress(ctx, sup)
	}
	_, cancelled, err := b.Engine.DB().Suppress(sup)
	return len(cancelled), err
}

// resendEvent is the part of a Resend webhook event we use.
type resendEvent struct {
	Type string `json:"type"`
	Data struct {
		To     []string `json:"to"`
		Bounce struct {
			Type string `json:"type"`
		} `json:"bounce"`
	} `json:"data"`
}

// handleResendEvent adds hard bounces and complaints to the suppression
// list. The body is checked against the Svix-style signature first.
func (s *Server) handleResendEvent(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	// Unsigned events could suppress any address, so without a secret the
	// endpoint refuses everything.
	if s.ResendWebhookSecret == "" {
		writeDetail(w, http.StatusUnauthorized, "RESEND_WEBHOOK_SECRET is not set: events are refused")
		return
	}
	if err := verifySvix(s.ResendWebhookSecret, r.Header, body, b.Engine.Now()); err != nil {
		s.log.WarnContext(r.Context(), "resend webhook refused", "remote", s.clientAddr(r), "reason", err.Error())
		writeDetail(w, http.StatusUnauthorized, "invalid signature")
		return
	}
	var ev resendEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		writeDetail(w, http.StatusBadRequest, "body is not a Resend event")
		return
	}
	reason := ""
	switch {
	case ev.Type == "email.complained":
		reason = "complained"
	case ev.Type == "email.bounced" && !strings.EqualFold(ev.Data.Bounce.Type, "Transient"):
		reason = "bounced"
	}
	if reason == "" {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "event": ev.Type})
		return
	}
	for _, to := range ev.Data.To {
		if _, err := s.suppress(r.Context(), b, store.Suppression{Email: to, Reason: reason,
			Source: "resend " + ev.Type, By: "resend", At: b.Engine.Now()}); err != nil {
			writeDetail(w, http.StatusServiceUnavailable, "could not record the event, try again")
			return
		}
		s.log.InfoContext(r.Context(), "address suppressed", "email", engine.MaskEmail(to), "reason", reason)
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "processed", "event": ev.Type, "suppressed": len(ev.Data.To)})
}

// svixTolerance bounds the age of a signed Resend event.
const svixTolerance = 5 * time.Minute

// verifySvix checks svix-id, svix-timestamp and svix-signature headers:
// base64(HMAC-SHA256(secret, id.timestamp.body)), secret "whsec_<base64>".
func verifySvix(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("svix-id"), h.Get("svix-timestamp"), h.Get("svix-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing svix headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad svix-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > svixTolerance || d < -svixTolerance {
		return errors.New("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("RESEND_WEBHOOK_SECRET is not whsec_<base64>")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, part := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(part, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}
