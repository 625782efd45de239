package templates_test

import (
	"slices"
	"strings"
	"testing"

	"perfect/internal/templates"
)

func TestRender_Body(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		html string
		vars map[string]string
		want string
	}{
		{"plain value", "<p>Hi {{first_name}}</p>", map[string]string{"first_name": "Ada"}, "<p>Hi Ada</p>"},
		{"script escaped", "<p>{{x}}</p>", map[string]string{"x": "<script>alert(1)</script>"},
			"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"ampersand escaped", "<p>{{x}}</p>", map[string]string{"x": "Smith & Sons"}, "<p>Smith &amp; Sons</p>"},
		{"quotes escaped in attribute", `<a href="{{u}}">x</a>`, map[string]string{"u": `https://e.com/?a="b"&c='d'`},
			`<a href="https://e.com/?a=&#34;b&#34;&amp;c=&#39;d&#39;">x</a>`},
		{"backslash digit kept", "{{x}}", map[string]string{"x": `C:\1\new`}, `C:\1\new`},
		{"dollar kept", "{{x}}", map[string]string{"x": "$1 and ${x}"}, "$1 and ${x}"},
		{"unknown kept", "Hi {{first_name}}, {{nope}}", map[string]string{"first_name": "Ada"}, "Hi Ada, {{nope}}"},
		{"single pass", "{{a}} {{b}}", map[string]string{"a": "{{b}}", "b": "B"}, "{{b}} B"},
		{"case sensitive", "{{First_Name}}", map[string]string{"first_name": "Ada"}, "{{First_Name}}"},
		{"spaces are no placeholder", "{{ first_name }}", map[string]string{"first_name": "Ada"}, "{{ first_name }}"},
		{"sections unsupported", "{{#x}}y{{/x}}", map[string]string{"x": "1"}, "{{#x}}y{{/x}}"},
		{"triple braces", "{{{x}}}", map[string]string{"x": "1"}, "{1}"},
		{"unclosed", "{{x} and {{x", map[string]string{"x": "1"}, "{{x} and {{x"},
		{"adjacent", "{{a}}{{b}}", map[string]string{"a": "1", "b": "2"}, "12"},
		{"repeated", "{{a}}-{{a}}", map[string]string{"a": "1"}, "1-1"},
		{"empty value", "[{{a}}]", map[string]string{"a": ""}, "[]"},
		{"nil vars", "{{a}}", nil, "{{a}}"},
		{"non-ascii value", "{{a}}", map[string]string{"a": "Zoë ☃"}, "Zoë ☃"},
		{"empty braces", "{{}}", map[string]string{"": "x"}, "{{}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := templates.Render(templates.Template{Subject: "s", HTML: tt.html}, tt.vars)
			if got.HTML != tt.want {
				t.Errorf("HTML = %q, want %q", got.HTML, tt.want)
			}
		})
	}
}

func TestRender_Subject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		vars    map[string]string
		want    string
	}{
		{"not escaped", "{{a}} for {{b}}", map[string]string{"a": "Tips & <tricks>", "b": `"Bob's"`},
			`Tips & <tricks> for "Bob's"`},
		{"value newline removed", "Hi {{a}}", map[string]string{"a": "Ada\r\nBcc: x@example.com"},
			"Hi AdaBcc: x@example.com"},
		{"lone CR and LF removed", "{{a}}", map[string]string{"a": "a\rb\nc"}, "abc"},
		{"template newline removed", "Line one\nline two", nil, "Line oneline two"},
		{"backslash kept", "{{a}}", map[string]string{"a": `\n\1`}, `\n\1`},
		{"unknown kept", "{{a}} {{b}}", map[string]string{"a": "A"}, "A {{b}}"},
		{"single pass", "{{a}}", map[string]string{"a": "{{b}}", "b": "B"}, "{{b}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := templates.Render(templates.Template{Subject: tt.subject, HTML: "<p>x</p>"}, tt.vars)
			if got.Subject != tt.want {
				t.Errorf("Subject = %q, want %q", got.Subject, tt.want)
			}
		})
	}
}

func TestRender_TextFollowsRenderedHTML(t *testing.T) {
	t.Parallel()
	tmpl := templates.Template{
		Subject: "s",
		HTML:    `<p>Hi {{first_name}},</p><p><a href="{{link}}">Book</a></p>`,
	}
	got := templates.Render(tmpl, map[string]string{"first_name": "Ann & <Bob>", "link": "https://e.com/?a=1&b=2"})
	want := "Hi Ann & <Bob>,\n\nBook (https://e.com/?a=1&b=2)"
	if got.Text != want {
		t.Errorf("Text = %q, want %q", got.Text, want)
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		html    string
		want    []string
	}{
		{"none", "Hello", "<p>x</p>", nil},
		{"sorted and distinct", "{{b}} {{a}}", "{{a}}{{c}}{{b}}", []string{"a", "b", "c"}},
		{"case kept", "{{A}}", "{{a}}", []string{"A", "a"}},
		{"not placeholders", "{{ a }}", "{{#s}}{{/s}}{{}}{{a b}}", nil},
		{"punctuation in keys", "{{x-y}}", "{{x.y}} {{x_y}}", []string{"x-y", "x.y", "x_y"}},
		{"nested braces", "", "{{{inner}}}", []string{"inner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := templates.Placeholders(templates.Template{Subject: tt.subject, HTML: tt.html})
			if !slices.Equal(got, tt.want) {
				t.Errorf("Placeholders = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	t.Parallel()
	tmpl := templates.Template{Subject: "{{first_name}} {{zeta}}", HTML: "{{alpha}} {{empty}} {{first_name}}"}
	got := templates.Unknown(tmpl, map[string]string{"first_name": "Ada", "empty": ""})
	if want := []string{"alpha", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Unknown = %q, want %q", got, want)
	}
	if got := templates.Unknown(tmpl, map[string]string{"first_name": "", "zeta": "", "alpha": "", "empty": ""}); len(got) != 0 {
		t.Errorf("Unknown with every key = %q, want none", got)
	}
}

func TestRender_LongInputIsLinear(t *testing.T) {
	t.Parallel()
	// Many openings and no closing must not make rendering quadratic.
	html := strings.Repeat("{{a", 200_000)
	got := templates.Render(templates.Template{Subject: "s", HTML: html}, map[string]string{"a": "x"})
	if got.HTML != html {
		t.Errorf("HTML changed for input without placeholders")
	}
}

func BenchmarkRender(b *testing.B) {
	tmpl, err := templates.Embedded().Get(b.Context(), "5-Day E2")
	if err != nil {
		b.Fatal(err)
	}
	vars := map[string]string{
		"first_name": "Ada", "business_name": "Ada & Co", "overall_score": "72",
		"readiness_zone": "Warning Zone", "WeakestSystem1": "GPS", "personalized_tip_1": "Write it down.",
		"pdf_download_link": "https://example.com/r", "unsubscribe_url": "https://example.com/u",
	}
	b.ReportAllocs()
	for b.Loop() {
		r := templates.Render(tmpl, vars)
		if r.Text == "" {
			b.Fatal("empty text part")
		}
	}
}

func TestRender_SubjectDropsControlCharacters(t *testing.T) {
	got := templates.Render(templates.Template{Subject: "Hi {{name}}", HTML: "x"}, map[string]string{"name": "a\x00b\r\nc\td\x7f"})
	if got.Subject != "Hi abc d" {
		t.Fatalf("subject %q", got.Subject)
	}
}
