// Package templates loads email templates and renders them with the
// variables of a flow.
//
// A template is found by name in a Source: the set embedded in the binary,
// a directory (TEMPLATES_DIR), or any other implementation such as Notion.
// Sources can be layered, so a directory overrides single templates of the
// embedded set.
//
// On disk, and in the embedded set, a template is one file named
// "<Template Name>.html" (names may contain spaces, e.g. "5-Day E2.html").
// Its first line is "Subject: <subject>", then comes a blank line, then the
// HTML body.
package templates

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
)

// Template is an email template as written: subject and HTML body with
// {{key}} placeholders.
type Template struct {
	Name    string
	Subject string
	HTML    string
}

// ErrNotFound is returned, wrapped with the template name, when a source has
// no template of that name.
var ErrNotFound = errors.New("template not found")

// Source finds templates by name.
type Source interface {
	// Get returns the named template, or an error wrapping ErrNotFound.
	Get(ctx context.Context, name string) (Template, error)
}

// fileExt is the extension of template files.
const fileExt = ".html"

//go:embed embedded/*.html
var embeddedFiles embed.FS

var embeddedSet = sync.OnceValue(func() set {
	s, err := load(embeddedFiles, "embedded")
	if err != nil {
		// The embedded files are part of the build; a bad one is a
		// programming error that the package tests catch.
		panic(fmt.Sprintf("templates: embedded set: %v", err))
	}
	return s
})

// Embedded returns the neutral templates shipped in the binary, one for
// every name in flows.TemplateNames().
func Embedded() Source {
	return embeddedSet()
}

// Dir loads every "*.html" template file of a directory, once. Hidden files,
// subdirectories and other extensions are ignored. It fails when the
// directory cannot be read or a file is malformed (no "Subject:" line, empty
// subject or empty body); the error names the file.
func Dir(dir string) (Source, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open templates dir: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("open templates dir %s: not a directory", dir)
	}
	s, err := load(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("load templates dir %s: %w", dir, err)
	}
	return s, nil
}

// Layered returns a source that asks each source in turn; the first one
// that has the name wins. It answers ErrNotFound only when none has it. Any
// other error (a source that is down, say) is returned at once rather than
// hidden behind a later source.
func Layered(srcs ...Source) Source {
	return layered(srcs)
}

type layered []Source

func (l layered) Get(ctx context.Context, name string) (Template, error) {
	for _, src := range l {
		if src == nil {
			continue
		}
		t, err := src.Get(ctx, name)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Template{}, err
		}
	}
	return Template{}, notFound(name)
}

// set is an in-memory source keyed by template name.
type set map[string]Template

func (s set) Get(_ context.Context, name string) (Template, error) {
	t, ok := s[name]
	if !ok {
		return Template{}, notFound(name)
	}
	return t, nil
}

func notFound(name string) error {
	return fmt.Errorf("template %q: %w", name, ErrNotFound)
}

// load parses every template file of dir in fsys.
func load(fsys fs.FS, dir string) (set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read dir: %w", err)
	}
	s := set{}
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || strings.HasPrefix(file, ".") || !strings.HasSuffix(file, fileExt) {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", file, err)
		}
		t, err := parse(strings.TrimSuffix(file, fileExt), data)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", file, err)
		}
		s[t.Name] = t
	}
	return s, nil
}

// parse reads the file format: a "Subject:" line, a blank line, the body.
func parse(name string, data []byte) (Template, error) {
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	first, body, _ := strings.Cut(text, "\n")

	const prefix = "subject:"
	if len(first) < len(prefix) || !strings.EqualFold(first[:len(prefix)], prefix) {
		return Template{}, errors.New(`first line must be "Subject: <subject>"`)
	}
	t := Template{
		Name:    name,
		Subject: strings.TrimSpace(first[len(prefix):]),
		HTML:    strings.TrimSpace(body),
	}
	switch {
	case t.Subject == "":
		return Template{}, errors.New("empty subject")
	case t.HTML == "":
		return Template{}, errors.New("empty body")
	}
	return t, nil
}
