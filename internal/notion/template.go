package notion

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jomei/notionapi"
)

// Template property names (legacy §4.1, §4.2, §6.3).
const (
	propTemplateName = "Template Name"
	propStatus       = "Status"
	statusActive     = "Active"
)

// templateSource is one database templates are read from, with the names
// of its subject and body properties.
type templateSource struct {
	env      string
	db       string
	subjects []string
	bodies   []string
}

// templateSources lists the Email Templates DB (Subject Line, Email Body
// HTML), then the BusinessX templates DB (Subject, HTML Body). When both
// variables name the same database it is read once, with either naming.
func (c *Client) templateSources() []templateSource {
	var out []templateSource
	if c.cfg.TemplatesDB != "" {
		out = append(out, templateSource{env: envTemplates, db: c.cfg.TemplatesDB,
			subjects: []string{"Subject Line"}, bodies: []string{"Email Body HTML"}})
	}
	if c.cfg.BXTemplatesDB == "" {
		return out
	}
	if len(out) == 1 && sameID(out[0].db, c.cfg.BXTemplatesDB) {
		out[0].subjects = append(out[0].subjects, "Subject")
		out[0].bodies = append(out[0].bodies, "HTML Body")
		return out
	}
	return append(out, templateSource{env: envBXTemplates, db: c.cfg.BXTemplatesDB,
		subjects: []string{"Subject"}, bodies: []string{"HTML Body"}})
}

func sameID(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "")) }
	return norm(a) == norm(b)
}

// Template returns the subject and HTML body of the template called name:
// the page whose `Template Name` title equals name, with every rich-text
// segment of its subject and body joined. When the page has a `Status`
// select (or status) only `Active` counts. A template that is not found,
// not active, or has an empty subject or body gives a *TemplateError
// wrapping ErrTemplateMissing; API failures give *Error.
func (c *Client) Template(ctx context.Context, name string) (subject, html string, err error) {
	sources := c.templateSources()
	if len(sources) == 0 {
		return "", "", fmt.Errorf("fetch template %q: %w: %s not set", name, ErrNotConfigured, envTemplates)
	}

	var reasons []string
	for _, src := range sources {
		subject, html, reason, err := c.templateFrom(ctx, src, name)
		if err != nil {
			return "", "", fmt.Errorf("fetch template %q: %w", name, err)
		}
		if reason == "" {
			return subject, html, nil
		}
		reasons = append(reasons, reason)
	}
	return "", "", &TemplateError{Name: name, Reason: mergeReasons(reasons)}
}

const reasonNotFound = "not found"

// templateFrom reads one source. reason is empty when the template is usable.
func (c *Client) templateFrom(ctx context.Context, src templateSource, name string) (subject, html, reason string, err error) {
	pages, err := c.query(ctx, src.db, titleFilter(propTemplateName, name))
	if err != nil {
		return "", "", "", err
	}
	if len(pages) == 0 {
		return "", "", reasonNotFound, nil
	}

	var inactive []string
	for i := range pages {
		page := &pages[i]
		if status, ok := pageStatus(page); ok && !strings.EqualFold(status, statusActive) {
			inactive = append(inactive, cmp.Or(status, "unset"))
			continue
		}
		subject, html = firstText(page, src.subjects), firstText(page, src.bodies)
		switch {
		case strings.TrimSpace(subject) == "":
			return "", "", fmt.Sprintf("empty subject (%s)", strings.Join(src.subjects, " / ")), nil
		case strings.TrimSpace(html) == "":
			return "", "", fmt.Sprintf("empty body (%s)", strings.Join(src.bodies, " / ")), nil
		}
		return subject, html, "", nil
	}
	return "", "", fmt.Sprintf("not active (Status: %s)", strings.Join(inactive, ", ")), nil
}

// pageStatus returns the page's Status option, and whether it has one.
func pageStatus(page *notionapi.Page) (string, bool) {
	p, ok := page.Properties[propStatus]
	if !ok {
		return "", false
	}
	return optionName(p)
}

// firstText returns the joined text of the first of names the page has.
func firstText(page *notionapi.Page, names []string) string {
	for _, n := range names {
		if p, ok := page.Properties[n]; ok {
			if s := plainText(p); s != "" {
				return s
			}
		}
	}
	return ""
}

// mergeReasons prefers a specific reason ("not active", "empty body") over
// "not found" from another database.
func mergeReasons(reasons []string) string {
	var specific []string
	for _, r := range reasons {
		if r != reasonNotFound {
			specific = append(specific, r)
		}
	}
	if len(specific) == 0 {
		return reasonNotFound
	}
	return strings.Join(specific, "; ")
}

// DefaultTemplateTTL is how long a template is served from the cache.
const DefaultTemplateTTL = 5 * time.Minute

// TemplateCache keeps templates for a TTL, so a send does not cost a Notion
// query and an edit in Notion is picked up within the TTL. A missing
// template is cached too, so a broken name does not query Notion on every
// attempt. When Notion fails and an expired copy is at hand, the copy is
// served.
type TemplateCache struct {
	c      *Client
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	subject, html string
	err           error
	fetched       time.Time
}

// NewTemplateCache caches c's templates for ttl (DefaultTemplateTTL when
// ttl <= 0), reading the time from now (time.Now when nil).
func NewTemplateCache(c *Client, ttl time.Duration, now func() time.Time) *TemplateCache {
	if ttl <= 0 {
		ttl = DefaultTemplateTTL
	}
	if now == nil {
		now = time.Now
	}
	return &TemplateCache{c: c, ttl: ttl, now: now, logger: c.logger, entries: map[string]cacheEntry{}}
}

// Get returns the template called name, from the cache when fresh.
func (tc *TemplateCache) Get(ctx context.Context, name string) (subject, html string, err error) {
	tc.mu.Lock()
	old, cached := tc.entries[name]
	tc.mu.Unlock()
	if cached && tc.now().Sub(old.fetched) < tc.ttl {
		return old.subject, old.html, old.err
	}

	subject, html, err = tc.c.Template(ctx, name)
	switch {
	case err == nil || errors.Is(err, ErrTemplateMissing):
		tc.store(name, cacheEntry{subject: subject, html: html, err: err, fetched: tc.now()})
		return subject, html, err
	case cached && old.err == nil && !errors.Is(err, context.Canceled):
		tc.logger.WarnContext(ctx, "notion template fetch failed, serving cached copy",
			slog.String("template", name), slog.Any("error", err))
		return old.subject, old.html, nil
	}
	return "", "", err
}

// Invalidate drops every cached template, so the next Get reads Notion.
func (tc *TemplateCache) Invalidate() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	clear(tc.entries)
}

func (tc *TemplateCache) store(name string, e cacheEntry) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.entries[name] = e
}
