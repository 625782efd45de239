package templates

import (
	"html"
	"slices"
	"strings"
)

// Rendered is a template with its variables substituted, plus a plain-text
// part generated from the HTML.
type Rendered struct {
	Subject string
	HTML    string
	Text    string
}

// subjectBreaks removes line breaks, which would split a mail header.
// subjectBreaks removes CR, LF and every other control character from a
// subject line (header injection, invisible bytes); a tab becomes a space.
var subjectBreaks = subjectCleaner{}

type subjectCleaner struct{}

func (subjectCleaner) Replace(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// Render substitutes {{key}} placeholders in the subject and the body.
//
// Keys are exact and case-sensitive, with no spaces inside the braces.
// Substitution is a single pass: a value that contains {{other}} is written
// as it is, and backslashes or dollar signs in values have no meaning.
// Values are HTML-escaped in the body but not in the subject, from which CR
// and LF are removed afterwards. Placeholders without a value stay as they
// are (see Unknown).
func Render(t Template, vars map[string]string) Rendered {
	body := expand(t.HTML, vars, html.EscapeString)
	return Rendered{
		Subject: subjectBreaks.Replace(expand(t.Subject, vars, nil)),
		HTML:    body,
		Text:    plainText(body),
	}
}

// Placeholders returns the distinct placeholder keys used in the subject
// and the body, sorted.
func Placeholders(t Template) []string {
	var keys []string
	for _, s := range []string{t.Subject, t.HTML} {
		for i := 0; ; {
			p, ok := nextPlaceholder(s, i)
			if !ok {
				break
			}
			keys = append(keys, p.key)
			i = p.end
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// Unknown returns the placeholders of t that have no value in vars, sorted.
// A key present with an empty value is known.
func Unknown(t Template, vars map[string]string) []string {
	var out []string
	for _, k := range Placeholders(t) {
		if _, ok := vars[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// expand replaces every placeholder of s that has a value, escaping the
// value with escape when it is not nil.
func expand(s string, vars map[string]string, escape func(string) string) string {
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for {
		p, ok := nextPlaceholder(s, i)
		if !ok {
			break
		}
		b.WriteString(s[i:p.start])
		v, known := vars[p.key]
		switch {
		case !known:
			b.WriteString(s[p.start:p.end])
		case escape != nil:
			b.WriteString(escape(v))
		default:
			b.WriteString(v)
		}
		i = p.end
	}
	b.WriteString(s[i:])
	return b.String()
}

// placeholder is one {{key}} found in a text: s[start:end] is the whole of it.
type placeholder struct {
	start, end int
	key        string
}

// nextPlaceholder finds the first placeholder starting at or after from.
// "{{{key}}}" yields the inner "{{key}}". It runs in linear time.
func nextPlaceholder(s string, from int) (placeholder, bool) {
	for i := from; i < len(s); {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			return placeholder{}, false
		}
		start := i + j
		end := start + 2
		for end < len(s) && isKeyByte(s[end]) {
			end++
		}
		if end > start+2 && strings.HasPrefix(s[end:], "}}") {
			return placeholder{start: start, end: end + 2, key: s[start+2 : end]}, true
		}
		i = start + 1
	}
	return placeholder{}, false
}

// isKeyByte accepts the bytes of a key: letters, digits, '_', '-' and '.'.
func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.'
}
