package templates

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// plainText turns an HTML email into its plain-text part: tags are dropped,
// the content of head, style and script is left out, block ends and <br>
// become line breaks, list items start with "- ", links read "text (url)",
// entities are decoded, and runs of blank lines are collapsed to one.
func plainText(src string) string {
	var w textWriter
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF: a strings.Reader has no other error
		}
		w.token(z.Token())
	}
	w.endLink()
	return tidyLines(w.out.String())
}

// textWriter accumulates the text of a token stream.
type textWriter struct {
	out strings.Builder
	// hidden counts open head, style and script elements.
	hidden int
	// inLink is set inside <a href>; link collects its text.
	inLink bool
	href   string
	link   strings.Builder
}

func (w *textWriter) token(t html.Token) {
	switch t.Type {
	case html.TextToken:
		if w.hidden == 0 {
			w.text(t.Data)
		}
	case html.StartTagToken, html.SelfClosingTagToken:
		w.start(t)
	case html.EndTagToken:
		w.end(t.DataAtom)
	}
}

func (w *textWriter) start(t html.Token) {
	switch t.DataAtom {
	case atom.Head, atom.Style, atom.Script:
		if t.Type == html.StartTagToken {
			w.hidden++
		}
	case atom.Body:
		// A head left open ends where the body starts.
		w.hidden = 0
	case atom.Br:
		w.write("\n")
	case atom.Li:
		w.lineBreaks(1)
		w.write("- ")
	case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Ul, atom.Ol, atom.Table, atom.Tr, atom.Blockquote, atom.Hr:
		w.lineBreaks(1)
	case atom.Td, atom.Th:
		w.write(" ")
	case atom.A:
		w.startLink(attr(t, "href"))
	}
}

func (w *textWriter) end(a atom.Atom) {
	switch a {
	case atom.Head, atom.Style, atom.Script:
		w.hidden = max(0, w.hidden-1)
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Table,
		atom.Ul, atom.Ol:
		w.lineBreaks(2)
	case atom.Div, atom.Li, atom.Tr:
		w.lineBreaks(1)
	case atom.A:
		w.endLink()
	}
}

// text writes a text node with its whitespace collapsed as a browser would.
func (w *textWriter) text(s string) {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	w.write(b.String())
}

func (w *textWriter) write(s string) {
	if w.inLink {
		w.link.WriteString(s)
		return
	}
	w.out.WriteString(s)
}

// lineBreaks ends the text so far with at least n line breaks, so a block
// that closes and the next that opens do not add up to extra blank lines.
// An explicit <br> still writes its own break.
func (w *textWriter) lineBreaks(n int) {
	if w.inLink {
		w.link.WriteString("\n")
		return
	}
	have := trailingBreaks(w.out.String(), n)
	w.out.WriteString(strings.Repeat("\n", n-have))
}

// trailingBreaks counts, up to limit, the line breaks that end s, looking
// past spaces.
func trailingBreaks(s string, limit int) int {
	n := 0
	for i := len(s) - 1; i >= 0 && n < limit; i-- {
		if s[i] == '\n' {
			n++
		} else if s[i] != ' ' {
			break
		}
	}
	return n
}

func (w *textWriter) startLink(href string) {
	w.endLink()
	w.inLink, w.href = true, strings.TrimSpace(href)
}

// endLink writes the collected link as "text (url)", or just one of them
// when the other is empty or they are the same.
func (w *textWriter) endLink() {
	if !w.inLink {
		return
	}
	text := strings.TrimSpace(w.link.String())
	href := w.href
	w.inLink, w.href = false, ""
	w.link.Reset()

	shown := strings.TrimPrefix(href, "mailto:")
	switch {
	case href == "" || strings.HasPrefix(href, "#") || text == shown:
		w.out.WriteString(text)
	case text == "":
		w.out.WriteString(shown)
	default:
		w.out.WriteString(text + " (" + shown + ")")
	}
}

func attr(t html.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// tidyLines trims every line and keeps at most one blank line in a row,
// none at the start or the end.
func tidyLines(s string) string {
	var out []string
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
