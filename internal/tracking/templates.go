package tracking

import (
	"context"
	"errors"
	"fmt"

	"perfect/internal/notion"
	"perfect/internal/templates"
)

// Templates serves the Notion Email Templates DB, through a TTL cache, as
// the renderer's templates.Source. A template Notion lacks, or whose
// subject or body is empty, is an error wrapping both
// notion.ErrTemplateMissing and templates.ErrNotFound, with Notion's
// reason: the engine fails that attempt and retries it later. There is no
// fallback to the embedded templates.
type Templates struct {
	Cache *notion.TemplateCache
}

// Get returns the template called name.
func (t Templates) Get(ctx context.Context, name string) (templates.Template, error) {
	subject, html, err := t.Cache.Get(ctx, name)
	if errors.Is(err, notion.ErrTemplateMissing) {
		return templates.Template{}, &missingError{err: err}
	}
	if err != nil {
		return templates.Template{}, fmt.Errorf("read template %q from notion: %w", name, err)
	}
	return templates.Template{Name: name, Subject: subject, HTML: html}, nil
}

// Warm reads every name into the cache, so that sends do not wait for
// Notion and a later Notion outage is bridged by the cached copies. It
// returns the names Notion lacks, with the reason, and stops at the first
// failure to reach Notion.
func (t Templates) Warm(ctx context.Context, names []string) (missing map[string]string, err error) {
	missing = map[string]string{}
	for _, name := range names {
		_, err := t.Get(ctx, name)
		var te *notion.TemplateError
		switch {
		case errors.As(err, &te):
			missing[name] = te.Reason
		case err != nil:
			return missing, err
		}
	}
	return missing, nil
}

// missingError is a template Notion does not have in a usable state.
type missingError struct{ err error }

func (e *missingError) Error() string { return e.err.Error() }

// Unwrap lets errors.Is match notion.ErrTemplateMissing and
// templates.ErrNotFound.
func (e *missingError) Unwrap() []error { return []error{e.err, templates.ErrNotFound} }
