package webhook

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

var (
	// uts46Map only maps (case folding, NFC, full-width dots), like
	// idna.uts46_remap(std3_rules=False, transitional=False).
	uts46Map = idna.New(idna.MapForLookup(), idna.Transitional(false),
		idna.StrictDomainName(false), idna.ValidateLabels(false),
		idna.CheckHyphens(false), idna.CheckJoiners(false))
	// idnaStrict checks labels and converts between A- and U-labels, like
	// the idna package's alabel, decode and encode.
	idnaStrict = idna.New(idna.ValidateForRegistration(), idna.Transitional(false))
)

// validateDomainName checks the part after the @-sign and returns its
// normalized Unicode form and its IDNA ASCII form.
func validateDomainName(domain string) (string, string, error) {
	if bad := badChars(domain, isHostnameIntl); bad != "" {
		return "", "", errf("The part after the @-sign contains invalid characters: %s.", bad)
	}
	if err := checkUnsafeChars(domain, false); err != nil {
		return "", "", err
	}
	original := domain
	mapped, err := remapDomain(domain)
	if err != nil {
		return "", "", errf("The part after the @-sign contains invalid characters (%s).", err)
	}
	domain = mapped
	if bad := badChars(domain, isHostnameIntl); bad != "" {
		return "", "", errf("The part after the @-sign contains invalid characters after Unicode normalization: %s.", bad)
	}
	if err := checkDotAtom(domain, "An email address cannot have a %s immediately after the @-sign.",
		"An email address cannot end with a %s.", true); err != nil {
		return "", "", err
	}
	for _, label := range strings.Split(domain, ".") {
		if isReservedLDH(label) {
			return "", "", syntaxErr("An email address cannot have two letters followed by two dashes immediately after the @-sign or after a period, except Punycode.")
		}
	}
	ascii, err := asciiDomain(domain)
	if err != nil {
		return "", "", err
	}
	if err := checkDomainLimits(ascii, original); err != nil {
		return "", "", err
	}
	return unicodeDomain(ascii)
}

// remapDomain applies UTS-46 mapping. ASCII input only needs lower-casing.
func remapDomain(domain string) (string, error) {
	if isASCII(domain) {
		return strings.ToLower(domain), nil
	}
	return uts46Map.ToUnicode(domain)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isReservedLDH matches RFC 5890's reserved labels: two characters other
// than "xn" followed by two hyphens.
func isReservedLDH(label string) bool {
	r := []rune(label)
	return len(r) >= 4 && r[2] == '-' && r[3] == '-' && !strings.EqualFold(string(r[:2]), "xn")
}

func asciiDomain(domain string) (string, error) {
	if dotAtomHostname.MatchString(domain) {
		return domain, nil
	}
	labels := strings.Split(domain, ".")
	for i, label := range labels {
		a, err := idnaStrict.ToASCII(label)
		if err != nil {
			return "", errf("The part after the @-sign is invalid (%s).", err)
		}
		labels[i] = a
	}
	ascii := strings.Join(labels, ".")
	if !dotAtomHostname.MatchString(ascii) {
		return "", syntaxErr("The email address contains invalid characters after the @-sign after IDNA encoding.")
	}
	return ascii, nil
}

func checkDomainLimits(ascii, original string) error {
	if len(ascii) > domainMaxLength {
		if ascii == original {
			return errf("The email address is too long after the @-sign %s.",
				lengthReason(len(ascii), domainMaxLength))
		}
		diff := len(ascii) - domainMaxLength
		s := "s"
		if diff == 1 {
			s = ""
		}
		return errf("The email address is too long after the @-sign (%d byte%s too many after IDNA encoding).", diff, s)
	}
	for _, label := range strings.Split(ascii, ".") {
		if len(label) > dnsLabelMax {
			return errf("After the @-sign, periods cannot be separated by so many characters %s.",
				lengthReason(len(label), dnsLabelMax))
		}
	}
	if !strings.Contains(ascii, ".") {
		return syntaxErr("The part after the @-sign is not valid. It should have a period.")
	}
	if last := ascii[len(ascii)-1]; !(last >= 'a' && last <= 'z' || last >= 'A' && last <= 'Z') {
		return syntaxErr("The part after the @-sign is not valid. It is not within a valid top-level domain.")
	}
	for _, d := range specialUseDomains {
		if ascii == d || strings.HasSuffix(ascii, "."+d) {
			return syntaxErr("The part after the @-sign is a special-use or reserved name that cannot be used with email.")
		}
	}
	return nil
}

// unicodeDomain decodes any Punycode labels, giving the canonical
// internationalized form email-validator returned, and checks it converts
// back.
func unicodeDomain(ascii string) (string, string, error) {
	labels := strings.Split(strings.ToLower(ascii), ".")
	for i, label := range labels {
		if !strings.HasPrefix(label, "xn--") {
			continue
		}
		u, err := idnaStrict.ToUnicode(label)
		if err != nil {
			return "", "", errf("The part after the @-sign is not valid IDNA (%s).", err)
		}
		labels[i] = norm.NFC.String(u)
	}
	domain := strings.Join(labels, ".")
	if bad := badChars(domain, isHostnameIntl); bad != "" {
		return "", "", errf("The part after the @-sign contains invalid characters: %s.", bad)
	}
	if err := checkUnsafeChars(domain, false); err != nil {
		return "", "", err
	}
	if _, err := idnaStrict.ToASCII(domain); err != nil {
		return "", "", errf("The part after the @-sign became invalid after normalizing to international characters (%s).", err)
	}
	return domain, ascii, nil
}

// split is an address cut into its parts by email-validator's rules.
type split struct {
	local, domain  string
	quoted         bool
	hasDisplayName bool
}

// splitEmail cuts at the first @-sign (or "<") outside quotes. A display
// name with angle brackets is parsed so that its errors read as before, but
// email-validator refused it at the end unless pydantic had already
// removed it.
func splitEmail(email string) (split, error) {
	left, right, err := splitAtSpecial([]rune(email), "@<")
	if err != nil {
		return split{}, err
	}
	var sp split
	if strings.HasPrefix(right, "<") {
		addr, err := parseDisplayName(left, right)
		if err != nil {
			return split{}, err
		}
		l, r, err := splitAtSpecial([]rune(addr), "@")
		if err != nil {
			return split{}, err
		}
		left, right, sp.hasDisplayName = l, r, true
	}
	sp.domain = strings.TrimPrefix(right, "@")
	sp.local, sp.quoted, err = unquote(left)
	return sp, err
}

func parseDisplayName(left, right string) (string, error) {
	name, quoted, err := unquote(strings.TrimRightFunc(left, isPySpace))
	if err != nil {
		return "", err
	}
	if !quoted {
		nameChar := func(r rune) bool { return (isAtextOrDot(r) || r == ' ') && r != '.' }
		if bad := badChars(name, nameChar); bad != "" {
			return "", errf("The display name contains invalid characters when not quoted: %s.", bad)
		}
	}
	if err := checkUnsafeChars(name, true); err != nil {
		return "", err
	}
	if !strings.Contains(right, ">") {
		return "", syntaxErr("An open angle bracket at the start of the email address has to be followed by a close angle bracket at the end.")
	}
	right = strings.TrimRight(right, " ")
	if !strings.HasSuffix(right, ">") {
		return "", syntaxErr("There can't be anything after the email address.")
	}
	return strings.TrimRight(right[1:], ">"), nil
}

// splitAtSpecial splits text before the first character of specials that
// is outside quotes and not changed by a following combining character.
func splitAtSpecial(text []rune, specials string) (string, string, error) {
	inQuote, escaped := false, false
	for i, c := range text {
		switch {
		case combinesWithNext(text, i):
		case inQuote:
			if c == '\\' && !escaped {
				escaped = true
			} else {
				if c == '"' && !escaped {
					inQuote = false
				}
				escaped = false
			}
		case c == '"':
			inQuote = true
		case strings.ContainsRune(specials, c):
			return string(text[:i]), string(text[i:]), nil
		}
	}
	return "", "", syntaxErr("An email address must have an @-sign.")
}

// combinesWithNext reports whether NFC changes text[i] by composing it
// with what follows (e.g. "<" plus a combining long solidus).
func combinesWithNext(text []rune, i int) bool {
	if i+1 >= len(text) {
		return false
	}
	end := min(len(text), i+32)
	first, _ := utf8.DecodeRuneInString(norm.NFC.String(string(text[i:end])))
	return first != text[i]
}

// unquote removes surrounding quotes and backslash escapes.
func unquote(text string) (string, bool, error) {
	r := []rune(text)
	var b strings.Builder
	quoted, escaped := false, false
	for i, c := range r {
		switch {
		case i == 0 && c == '"':
			quoted = true
		case !quoted:
			b.WriteRune(c)
		case escaped:
			b.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			if i != len(r)-1 {
				shown := make([]string, 0, len(r)-i-1)
				for _, x := range r[i+1:] {
					shown = append(shown, safeCharDisplay(x))
				}
				return "", false, errf("Extra character(s) found after close quote: %s", strings.Join(shown, ", "))
			}
			return b.String(), true, nil
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), quoted, nil
}
