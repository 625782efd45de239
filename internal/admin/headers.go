package admin

import "net/http"

// pageCSP allows only the page's own CSS, script, images and frames (the
// email preview) and no framing of the page itself.
const pageCSP = "default-src 'self'; frame-src 'self'; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// previewCSP serves an email's HTML as a sandboxed document: no script, no
// forms, no same-origin access, only its inline styles and remote images,
// framed by the admin page alone.
const previewCSP = "sandbox; default-src 'none'; img-src https: data:; " +
	"style-src 'unsafe-inline'; font-src https: data:; frame-ancestors 'self'; " +
	"base-uri 'none'; form-action 'none'"

func commonHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// secure sets the security headers of every admin response.
func (h *Handler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		commonHeaders(w.Header())
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// securePreview is secure for the one route the admin page frames.
func (h *Handler) securePreview(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		commonHeaders(w.Header())
		w.Header().Set("Content-Security-Policy", previewCSP)
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		next.ServeHTTP(w, r)
	})
}
