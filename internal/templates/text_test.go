package templates_test

import (
	"testing"

	"perfect/internal/templates"
)

func TestRender_Text(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		html string
		want string
	}{
		{"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"line break", "<p>One<br>Two<br/>Three</p>", "One\nTwo\nThree"},
		{"div lines", "<div>One</div><div>Two</div>", "One\nTwo"},
		{"headings", "<h1>Title</h1><p>Body</p><h2>Sub</h2>Tail", "Title\n\nBody\n\nSub\n\nTail"},
		{"list items", "<p>Steps:</p><ul><li>First</li><li>Second</li></ul><p>End</p>",
			"Steps:\n\n- First\n- Second\n\nEnd"},
		{"link", `<p>See <a href="https://example.com/x">your results</a>.</p>`,
			"See your results (https://example.com/x)."},
		{"link with nested tags", `<a href="https://e.com"><strong>Book</strong> now</a>`, "Book now (https://e.com)"},
		{"link text is the url", `<a href="https://e.com">https://e.com</a>`, "https://e.com"},
		{"mailto link", `<a href="mailto:help@example.com">help@example.com</a> or <a href="mailto:a@b.c">us</a>`,
			"help@example.com or us (a@b.c)"},
		{"link without text", `<a href="https://e.com"></a>`, "https://e.com"},
		{"link without href", `<a name="top">Top</a>`, "Top"},
		{"anchor link", `<a href="#top">Top</a>`, "Top"},
		{"unclosed link", `<a href="https://e.com">Book`, "Book (https://e.com)"},
		{"style dropped", "<style>p { color: red; }</style><p>Text</p>", "Text"},
		{"script dropped", "<p>A</p><script>var x = '<p>no</p>';</script><p>B</p>", "A\n\nB"},
		{"head dropped", "<html><head><title>T</title><meta charset=utf-8></head><body><p>Body</p></body></html>", "Body"},
		{"head without end", "<html><head><title>T</title><body><p>Body</p></body></html>", "Body"},
		{"entities decoded", "<p>Tom &amp; Jerry &lt;3 &quot;hi&quot; &#39;x&#39; caf&eacute;</p>", "Tom & Jerry <3 \"hi\" 'x' café"},
		{"nbsp is a space", "<p>a&nbsp;b</p>", "a b"},
		{"whitespace collapsed", "<p>  Hello\n\t   world  </p>\n\n\n<p>  Next </p>", "Hello world\n\nNext"},
		{"blank lines collapsed", "<p>A</p><br><br><br><div></div><p>B</p>", "A\n\nB"},
		{"inline tags join words", "<p>Hi <strong>Ada</strong>, <em>welcome</em>!</p>", "Hi Ada, welcome!"},
		{"comments dropped", "<p>A<!-- secret --></p>", "A"},
		{"table cells", "<table><tr><td>Name</td><td>Ada</td></tr><tr><td>Age</td><td>36</td></tr></table>",
			"Name Ada\nAge 36"},
		{"images dropped", `<p><img src="x.png" alt="logo">Text</p>`, "Text"},
		{"plain text kept", "Just text", "Just text"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := templates.Render(templates.Template{Subject: "s", HTML: tt.html}, nil).Text
			if got != tt.want {
				t.Errorf("Text =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
