package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Secrets are the webhook senders' secrets; an empty one turns its check off.
type Secrets struct {
	// CalcomSecret keys X-Cal-Signature-256 (hex HMAC-SHA256 of the body).
	CalcomSecret string
	// CalendlyKey keys Calendly-Webhook-Signature (t=...,v1=... over "t.body").
	CalendlyKey string
	// WebhookToken is the shared secret of the website, CRM and payment
	// senders, as "Authorization: Bearer" or "X-Webhook-Token".
	WebhookToken string
}

// calendlyTolerance is how old a signed Calendly delivery may be.
const calendlyTolerance = 3 * time.Minute

var errBadSignature = errors.New("invalid signature")

// sender says which check a webhook path uses.
type sender int

const (
	senderToken sender = iota
	senderCalcom
	senderCalendly
	senderCalendlyOrToken
	senderSvix
)

func senderOf(path string) sender {
	switch path {
	case "/webhook/calcom-booking":
		return senderCalcom
	case "/webhook/calendly":
		return senderCalendly
	case "/webhook/calendly-noshow":
		return senderCalendlyOrToken
	case "/webhook/resend":
		return senderSvix
	}
	return senderToken
}

// authenticate checks the request's signature or token against the raw
// body, in constant time. It returns nil when the check is off. A Calendly
// signature counts as used only once the delivery was answered 2xx
// (markUsed), so a delivery answered 503 can be retried as it is.
func (s *Server) authenticate(path string, r *http.Request, body []byte) error {
	sec := s.Secrets
	now := s.now()
	switch senderOf(path) {
	case senderCalcom:
		if sec.CalcomSecret == "" {
			return nil
		}
		return checkHexHMAC(sec.CalcomSecret, body, r.Header.Get("X-Cal-Signature-256"))
	case senderCalendly:
		if sec.CalendlyKey == "" {
			return nil
		}
		return s.checkCalendly(r.Header.Get("Calendly-Webhook-Signature"), body, now)
	case senderCalendlyOrToken:
		if sec.CalendlyKey == "" && sec.WebhookToken == "" {
			return nil
		}
		if h := r.Header.Get("Calendly-Webhook-Signature"); h != "" && sec.CalendlyKey != "" {
			return s.checkCalendly(h, body, now)
		}
		return checkToken(sec.WebhookToken, r)
	case senderSvix:
		return nil // checked by the handler, which knows the event's secret
	}
	return checkToken(sec.WebhookToken, r)
}

func checkToken(want string, r *http.Request) error {
	if want == "" {
		return nil
	}
	got := r.Header.Get("X-Webhook-Token")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = v
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errors.New("missing or wrong webhook token")
	}
	return nil
}

func checkHexHMAC(secret string, body []byte, header string) error {
	got, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil || len(got) != sha256.Size {
		return errBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errBadSignature
	}
	return nil
}

// checkCalendly verifies "t=<unix>,v1=<hex>" and refuses a signature seen
// before within the tolerance (a replay).
func (s *Server) checkCalendly(header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > calendlyTolerance || d < -calendlyTolerance {
		return errors.New("signature timestamp outside tolerance")
	}
	if err := checkHexHMAC(s.Secrets.CalendlyKey, append([]byte(ts+"."), body...), sig); err != nil {
		return err
	}
	if s.replays.seen(sig, now) {
		return errors.New("replayed delivery")
	}
	return nil
}

// markUsed records the Calendly signature of a delivery that was accepted.
func (s *Server) markUsed(r *http.Request, now time.Time) {
	h := r.Header.Get("Calendly-Webhook-Signature")
	if h == "" || s.Secrets.CalendlyKey == "" {
		return
	}
	for _, part := range strings.Split(h, ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "v1" && v != "" {
			s.replays.mark(v, now)
		}
	}
}

// replayCache remembers signatures for the tolerance window.
type replayCache struct {
	mu   sync.Mutex
	used map[string]time.Time
}

func (c *replayCache) seen(sig string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.used[sig]
	return ok
}

func (c *replayCache) mark(sig string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]time.Time{}
	}
	for k, at := range c.used {
		if now.Sub(at) > 2*calendlyTolerance {
			delete(c.used, k)
		}
	}
	c.used[sig] = now
}

// isJSON accepts application/json, any +json type, and a missing type
// (legacy callers that never set one).
func isJSON(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// limiter is a token bucket per client address.
type limiter struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perSec float64, burst int) *limiter {
	if perSec <= 0 {
		return nil
	}
	return &limiter{perSec: rate.Limit(perSec), burst: max(burst, 1), buckets: map[string]*bucket{}}
}

// allow reports whether addr may make a request now, and otherwise how
// long it should wait.
func (l *limiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.perSec, l.burst)}
		l.buckets[addr] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientAddr is the caller's address: the remote address, or the first
// X-Forwarded-For hop when the service sits behind a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	if s.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// cors answers preflights and sets CORS headers for allowed origins only.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.CORSOrigins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || (!allowed[origin] && !allowed["*"]) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Webhook-Token")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminHeaders sets the security headers of every admin route.
func adminHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		next.ServeHTTP(w, r)
	})
}
