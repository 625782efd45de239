package webhook

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// The legacy EmailStr was pydantic's wrapper around email-validator 2.2
// (syntax only, no DNS): an optional "Name <addr>" form, surrounding space
// stripped, then email-validator's checks with its defaults (no quoted local
// parts, no IP-address domains, special-use domains refused). The checks and
// their reasons below follow that behaviour, reason for reason.

const (
	maxEmailInput   = 2048 // pydantic's own cap on the raw value
	emailMaxLength  = 254
	localMaxLength  = 64
	domainMaxLength = 253
	dnsLabelMax     = 63
)

// NormalizeEmail validates an address as the legacy EmailStr did and returns
// its normalized form: surrounding space removed, "Name <addr>" reduced to
// addr, the domain lower-cased (and IDNA-normalized), the local part kept as
// given except Unicode NFC and role mailboxes (info@, sales@, postmaster@, …)
// lower-cased. The error is an *EmailError carrying the legacy reason.
func NormalizeEmail(raw string) (string, error) {
	if utf8.RuneCountInString(raw) > maxEmailInput {
		return "", &EmailError{Reason: fmt.Sprintf("Length must not exceed %d characters", maxEmailInput)}
	}
	value := raw
	if m := prettyEmail.FindStringSubmatch(raw); m != nil {
		value = m[3]
	}
	norm, err := validateEmail(strings.TrimFunc(value, isPySpace))
	if err != nil {
		return "", &EmailError{Reason: err.Error()}
	}
	return norm, nil
}

// Key is the identity of a contact: the whole normalized address
// lower-cased, so case variants are one contact (decisions §3).
func Key(email string) string {
	return strings.ToLower(email)
}

// isPySpace is Python's str.isspace.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

const (
	pyWS        = `[\t\n\v\f\r \x1c-\x1f\x85\p{Z}]`
	pyNameChars = "[\\p{L}\\p{N}_!#$%&'*+\\-/=?^`{|}~]"
	atext       = "a-zA-Z0-9_!#$%&'*+\\-/=?^`{|}~"
	hostLabel   = `(?:(?:[a-zA-Z0-9][a-zA-Z0-9\-]*)?[a-zA-Z0-9])`
)

var (
	prettyEmail = regexp.MustCompile(`^` + pyWS + `*(?:((?:` + pyNameChars + `+` + pyWS + `+)*` +
		pyNameChars + `+)|"((?:[^"]|")+)")?` + pyWS + `*<(.+)>` + pyWS + `*$`)
	dotAtom         = regexp.MustCompile(`^[` + atext + `]+(?:\.[` + atext + `]+)*$`)
	dotAtomIntl     = regexp.MustCompile(`^[` + atext + `\x{80}-\x{10FFFF}]+(?:\.[` + atext + `\x{80}-\x{10FFFF}]+)*$`)
	dotAtomHostname = regexp.MustCompile(`^` + hostLabel + `(?:\.` + hostLabel + `)*$`)
	ipv4Literal     = regexp.MustCompile(`^[0-9.]+$`)
)

func isAtextOrDot(r rune) bool {
	return r == '.' || (r < utf8.RuneSelf && strings.ContainsRune(atextChars, r))
}

const atextChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&'*+-/=?^`{|}~"

func isHostnameIntl(r rune) bool {
	return r >= 0x80 || r == '-' || r == '.' ||
		(r < utf8.RuneSelf && strings.ContainsRune(atextChars[:62], r))
}

// caseInsensitiveMailboxes are the RFC 2142 names email-validator lower-cases.
var caseInsensitiveMailboxes = []string{
	"info", "marketing", "sales", "support", "abuse", "noc", "security",
	"postmaster", "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp",
}

// specialUseDomains are refused with or without a subdomain; example.com
// and friends are deliberately absent.
var specialUseDomains = []string{"arpa", "invalid", "local", "localhost", "onion", "test"}

type syntaxErr string

func (e syntaxErr) Error() string { return string(e) }

func errf(format string, args ...any) error { return syntaxErr(fmt.Sprintf(format, args...)) }

// localInfo is a validated local part.
type localInfo struct {
	local    string
	ascii    string // the local part when it is ASCII
	hasASCII bool
}

func validateEmail(email string) (string, error) {
	sp, err := splitEmail(email)
	if err != nil {
		return "", err
	}
	original := sp.local
	if sp.quoted {
		original = `"` + sp.local + `"`
	}
	original += "@" + sp.domain

	li, err := validateLocalNFC(sp.local, sp.quoted)
	if err != nil {
		return "", err
	}
	if sp.quoted {
		return "", syntaxErr("Quoting the part before the @-sign is not allowed here.")
	}
	if li.hasASCII && slices.Contains(caseInsensitiveMailboxes, strings.ToLower(li.ascii)) {
		li.ascii, li.local = strings.ToLower(li.ascii), strings.ToLower(li.local)
	}

	domain, asciiDomain, err := validateDomainPart(sp.domain)
	if err != nil {
		return "", err
	}
	normalized := li.local + "@" + domain
	asciiLocal := li.local
	if li.hasASCII {
		asciiLocal = li.ascii
	}
	if err := checkLength(original, normalized, asciiLocal+"@"+asciiDomain); err != nil {
		return "", err
	}
	if sp.hasDisplayName {
		return "", syntaxErr("A display name and angle brackets around the email address are not permitted here.")
	}
	return normalized, nil
}

func validateDomainPart(domain string) (string, string, error) {
	switch {
	case domain == "":
		return "", "", syntaxErr("There must be something after the @-sign.")
	case strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]"):
		if err := checkDomainLiteral(domain[1 : len(domain)-1]); err != nil {
			return "", "", err
		}
		return "", "", syntaxErr("A bracketed IP address after the @-sign is not allowed here.")
	}
	return validateDomainName(domain)
}

// validateLocalNFC validates the local part, then its NFC form if that
// differs.
func validateLocalNFC(local string, quoted bool) (localInfo, error) {
	li, err := validateLocal(local, quoted)
	if err != nil {
		return li, err
	}
	n := norm.NFC.String(li.local)
	if n == li.local {
		return li, nil
	}
	if _, err := validateLocal(n, quoted); err != nil {
		return li, errf("After Unicode normalization: %s", err)
	}
	li.local = n
	return li, nil
}

func validateLocal(local string, quoted bool) (localInfo, error) {
	n := utf8.RuneCountInString(local)
	switch {
	case n == 0:
		return localInfo{}, syntaxErr("There must be something before the @-sign.")
	case n > localMaxLength:
		return localInfo{}, errf("The email address is too long before the @-sign %s.",
			lengthReason(n, localMaxLength))
	case dotAtom.MatchString(local):
		return localInfo{local: local, ascii: local, hasASCII: true}, nil
	case dotAtomIntl.MatchString(local):
		if err := checkUnsafeChars(local, false); err != nil {
			return localInfo{}, err
		}
		return localInfo{local: local}, nil
	case quoted:
		return validateQuotedLocal(local)
	}
	if bad := badChars(local, isAtextIntlOrDot); bad != "" {
		return localInfo{}, errf("The email address contains invalid characters before the @-sign: %s.", bad)
	}
	if err := checkDotAtom(local, "An email address cannot start with a %s.",
		"An email address cannot have a %s immediately before the @-sign.", false); err != nil {
		return localInfo{}, err
	}
	return localInfo{}, syntaxErr("The email address contains invalid characters before the @-sign.")
}

func isAtextIntlOrDot(r rune) bool { return r >= 0x80 || isAtextOrDot(r) }

func validateQuotedLocal(local string) (localInfo, error) {
	qtext := func(r rune) bool { return (r >= 0x20 && r <= 0x7e) || r >= 0x80 }
	if bad := badChars(local, qtext); bad != "" {
		return localInfo{}, errf("The email address contains invalid characters in quotes before the @-sign: %s.", bad)
	}
	if err := checkUnsafeChars(local, true); err != nil {
		return localInfo{}, err
	}
	ascii := true
	for _, r := range local {
		ascii = ascii && r < 0x80
	}
	escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local)
	q := `"` + escaped + `"`
	return localInfo{local: q, ascii: q, hasASCII: ascii}, nil
}

// badChars lists, sorted and deduplicated, the characters of s that ok
// refuses, in email-validator's display form.
func badChars(s string, ok func(rune) bool) string {
	seen := map[string]bool{}
	for _, r := range s {
		if !ok(r) {
			seen[safeCharDisplay(r)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// safeCharDisplay shows a character as email-validator did: quoted when
// visible, by Unicode name (or U+XXXX) otherwise.
func safeCharDisplay(r rune) string {
	switch {
	case r == '\\':
		return `"\"`
	case r == '\'':
		return `"'"`
	case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSymbol(r):
		return "'" + string(r) + "'"
	}
	if name := runenames.Name(r); name != "" && !strings.HasPrefix(name, "<") {
		return name
	}
	if r < 0xffff {
		return fmt.Sprintf("U+%04X", r)
	}
	return fmt.Sprintf("U+%08X", r)
}

// checkUnsafeChars refuses controls, format and private-use characters,
// line separators, non-ASCII spaces (unless allowed) and a leading mark.
func checkUnsafeChars(s string, allowSpace bool) error {
	var bad []rune
	i := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSymbol(r):
		case unicode.IsMark(r):
			if i == 0 {
				bad = append(bad, r)
			}
		case unicode.In(r, unicode.Zs):
			if !allowSpace {
				bad = append(bad, r)
			}
		default:
			bad = append(bad, r)
		}
		i++
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	bad = slices.Compact(bad)
	shown := make([]string, len(bad))
	for i, r := range bad {
		shown[i] = safeCharDisplay(r)
	}
	return errf("The email address contains unsafe characters: %s.", strings.Join(shown, ", "))
}

func checkDotAtom(label, startDescr, endDescr string, hostname bool) error {
	switch {
	case strings.HasSuffix(label, "."):
		return errf(endDescr, "period")
	case strings.HasPrefix(label, "."):
		return errf(startDescr, "period")
	case strings.Contains(label, ".."):
		return syntaxErr("An email address cannot have two periods in a row.")
	case !hostname:
		return nil
	case strings.HasSuffix(label, "-"):
		return errf(endDescr, "hyphen")
	case strings.HasPrefix(label, "-"):
		return errf(startDescr, "hyphen")
	case strings.Contains(label, ".-") || strings.Contains(label, "-."):
		return syntaxErr("An email address cannot have a period and a hyphen next to each other.")
	}
	return nil
}

func lengthReason(n, limit int) string {
	diff := n - limit
	s := ""
	if diff > 1 {
		s = "s"
	}
	return fmt.Sprintf("(%d character%s too many)", diff, s)
}

// checkLength checks the original, normalized and ASCII-domain forms
// against the 254-octet limit.
func checkLength(original, normalized, asciiForm string) error {
	forms := []struct{ addr, reason string }{
		{original, ""},
		{normalized, "after normalization"},
		{asciiForm, "when the part after the @-sign is converted to IDNA ASCII"},
	}
	for _, f := range forms {
		chars, octets := utf8.RuneCountInString(f.addr), len(f.addr)
		diff := octets - emailMaxLength
		if diff <= 0 {
			continue
		}
		s := ""
		if diff > 1 {
			s = "s"
		}
		reason := f.reason
		switch {
		case reason == "" && chars == octets:
			reason = lengthReason(chars, emailMaxLength)
		case reason == "":
			reason = multiByteReason(f.addr, diff, s)
		default:
			reason += fmt.Sprintf(" (%d byte%s too many)", diff, s)
		}
		return errf("The email address is too long %s.", reason)
	}
	return nil
}

func multiByteReason(addr string, diff int, s string) string {
	widest := 1
	for _, r := range addr {
		widest = max(widest, utf8.RuneLen(r))
	}
	chars := max(1, diff/widest)
	if chars == diff {
		return fmt.Sprintf("(%d character%s too many)", diff, s)
	}
	return fmt.Sprintf("(%d-%d character%s too many)", chars, diff, s)
}

func checkDomainLiteral(lit string) error {
	switch {
	case ipv4Literal.MatchString(lit):
		if !validIPv4(lit) {
			return errf("The address in brackets after the @-sign is not valid: It is not an IPv4 address (%s) or is missing an address literal tag.", "Expected 4 octets in '"+lit+"'")
		}
		return nil
	case strings.HasPrefix(lit, "IPv6:"):
		if a, err := netip.ParseAddr(lit[5:]); err != nil || !a.Is6() {
			return errf("The IPv6 address in brackets after the @-sign is not valid (%s).", "not an IPv6 address")
		}
		return nil
	case !strings.Contains(lit, ":"):
		return syntaxErr("The part after the @-sign in brackets is not an IPv4 address and has no address literal tag.")
	}
	literalChar := func(r rune) bool { return r >= 0x21 && r <= 0xfa }
	if bad := badChars(lit, literalChar); bad != "" {
		return errf("The part after the @-sign contains invalid characters in brackets: %s.", bad)
	}
	return syntaxErr("The part after the @-sign contains an invalid address literal tag in brackets.")
}

func validIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		n := 0
		for _, c := range p {
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}
