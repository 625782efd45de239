package resend

import (
	"regexp"
	"strings"
)

// maskAddress keeps the first letter of the local part and the domain of
// an address ("Jane <jane@example.com>" → "j***@example.com"), so logs can
// be correlated without holding a full address.
func maskAddress(addr string) string {
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = strings.TrimSuffix(addr[i+1:], ">")
	}
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "***"
	}
	return strings.ToLower(addr[:1]) + "***" + addr[at:]
}

var addressPattern = regexp.MustCompile(`[^\s<>()"',;:]+@[A-Za-z0-9.-]+`)

// maskAddresses masks every address inside a provider message.
func maskAddresses(s string) string {
	return addressPattern.ReplaceAllStringFunc(s, maskAddress)
}
