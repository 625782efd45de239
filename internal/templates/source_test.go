package templates_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"perfect/internal/templates"
)

// writeDir creates a templates directory holding the given files.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDir_Loads(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{
		"5-Day E2.html":   "Subject: Custom {{first_name}}\n\n<p>Custom body</p>\n",
		"crlf.html":       "Subject: Windows\r\n\r\n<p>Body</p>\r\n",
		"bom.html":        "\ufeffSubject: With BOM\n\n<p>Body</p>",
		"lower.html":      "subject:   Spaced  \n\n<p>Body</p>",
		"no-blank.html":   "Subject: Tight\n<p>Body</p>",
		"notes.txt":       "not a template",
		".hidden.html":    "broken",
		"README.md":       "# readme",
		"email_1.html.sw": "swap file",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := templates.Dir(dir)
	if err != nil {
		t.Fatalf("Dir: %v", err)
	}

	tests := []struct {
		name    string
		tmpl    string
		subject string
		html    string
	}{
		{"name with space", "5-Day E2", "Custom {{first_name}}", "<p>Custom body</p>"},
		{"CRLF line ends", "crlf", "Windows", "<p>Body</p>"},
		{"byte order mark", "bom", "With BOM", "<p>Body</p>"},
		{"lower-case prefix and spaces", "lower", "Spaced", "<p>Body</p>"},
		{"no blank line", "no-blank", "Tight", "<p>Body</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := src.Get(context.Background(), tt.tmpl)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			want := templates.Template{Name: tt.tmpl, Subject: tt.subject, HTML: tt.html}
			if got != want {
				t.Errorf("Get = %+v, want %+v", got, want)
			}
		})
	}

	for _, name := range []string{"notes", ".hidden", "README", "sub", "email_1"} {
		if _, err := src.Get(context.Background(), name); !errors.Is(err, templates.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", name, err)
		}
	}
}

func TestDir_Errors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file.html")
	if err := os.WriteFile(file, []byte("Subject: x\n\ny"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{"missing dir", filepath.Join(t.TempDir(), "nope"), []string{"no such file"}},
		{"not a dir", file, []string{"not a directory"}},
		{"no subject line", writeDir(t, map[string]string{"a b.html": "<p>Body</p>"}),
			[]string{`"a b.html"`, "Subject:"}},
		{"empty subject", writeDir(t, map[string]string{"x.html": "Subject:   \n\n<p>Body</p>"}),
			[]string{`"x.html"`, "empty subject"}},
		{"empty body", writeDir(t, map[string]string{"y.html": "Subject: Hi\n\n  \n"}),
			[]string{`"y.html"`, "empty body"}},
		{"empty file", writeDir(t, map[string]string{"z.html": ""}), []string{`"z.html"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src, err := templates.Dir(tt.dir)
			if err == nil {
				t.Fatalf("Dir = %v, want an error", src)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDir_Unreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	t.Parallel()
	dir := writeDir(t, map[string]string{"a.html": "Subject: x\n\ny"})
	if err := os.Chmod(filepath.Join(dir, "a.html"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := templates.Dir(dir); err == nil || !strings.Contains(err.Error(), `"a.html"`) {
		t.Errorf("Dir error = %v, want one naming a.html", err)
	}
}

func TestDir_EmptyDirHasNothing(t *testing.T) {
	t.Parallel()
	src, err := templates.Dir(t.TempDir())
	if err != nil {
		t.Fatalf("Dir: %v", err)
	}
	if _, err := src.Get(context.Background(), "5-Day E2"); !errors.Is(err, templates.ErrNotFound) {
		t.Errorf("Get error = %v, want ErrNotFound", err)
	}
}

// failing is a source whose backend is down.
type failing struct{ err error }

func (f failing) Get(context.Context, string) (templates.Template, error) {
	return templates.Template{}, f.err
}

func TestLayered(t *testing.T) {
	t.Parallel()
	dir, err := templates.Dir(writeDir(t, map[string]string{
		"5-Day E2.html": "Subject: Override\n\n<p>Override</p>",
		"extra.html":    "Subject: Extra\n\n<p>Extra</p>",
	}))
	if err != nil {
		t.Fatal(err)
	}
	embedded := templates.Embedded()
	down := errors.New("notion unavailable")
	tests := []struct {
		name        string
		src         templates.Source
		tmpl        string
		wantSubject string
		wantErr     error
	}{
		{"dir overrides embedded", templates.Layered(dir, embedded), "5-Day E2", "Override", nil},
		{"embedded fills the gaps", templates.Layered(dir, embedded), "5-Day E3", "", nil},
		{"dir only names", templates.Layered(dir, embedded), "extra", "Extra", nil},
		{"order matters", templates.Layered(embedded, dir), "5-Day E2", "", nil},
		{"nil source skipped", templates.Layered(nil, dir), "extra", "Extra", nil},
		{"nobody has it", templates.Layered(dir, embedded), "missing", "", templates.ErrNotFound},
		{"no sources", templates.Layered(), "5-Day E2", "", templates.ErrNotFound},
		{"other errors stop the search", templates.Layered(failing{down}, embedded), "5-Day E2", "", down},
		{"not found passes on", templates.Layered(failing{templates.ErrNotFound}, dir), "extra", "Extra", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.src.Get(context.Background(), tt.tmpl)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := tt.wantSubject
			if want == "" {
				e, _ := embedded.Get(context.Background(), tt.tmpl)
				want = e.Subject
			}
			if got.Subject != want || got.Name != tt.tmpl {
				t.Errorf("Get = %q %q, want %q %q", got.Name, got.Subject, tt.tmpl, want)
			}
		})
	}
}

func TestErrNotFound_NamesTheTemplate(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]templates.Source{
		"embedded": templates.Embedded(),
		"layered":  templates.Layered(templates.Embedded()),
	} {
		_, err := src.Get(context.Background(), "no such template")
		if !errors.Is(err, templates.ErrNotFound) || !strings.Contains(err.Error(), `"no such template"`) {
			t.Errorf("%s: error = %v, want ErrNotFound naming the template", name, err)
		}
	}
}
