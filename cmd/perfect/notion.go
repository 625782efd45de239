package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"perfect/flows"
	"perfect/internal/config"
	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/internal/notion"
	"perfect/internal/templates"
	"perfect/internal/tracking"
	"perfect/store"
)

// notionKinds lists the tracking ops in the order the start-up log names
// them.
var notionKinds = []string{
	notion.KindChristmasAssessment, notion.KindSequenceStart, notion.KindBooking,
	notion.KindEmailSent, notion.KindAnalytics, notion.KindBXSignup, notion.KindBXAssessment,
}

// notionParts is the Notion integration: one client (one rate limiter for
// templates and tracking), the template cache and the tracker.
type notionParts struct {
	client    *notion.Client
	templates tracking.Templates
	ttl       time.Duration
	// kinds are the ops in use: every tracking op, and the unsubscribe
	// update when NOTION_UNSUBSCRIBE_PROPERTY is set.
	kinds []string
	// disabled holds the kinds whose databases are not configured, with
	// the reason.
	disabled        map[string]string
	unsubscribeProp string
}

// newNotion builds the Notion integration, or returns nil when NOTION_TOKEN
// is not set. now is the clock of the template cache's TTL.
func newNotion(cfg *config.Config, log *slog.Logger, now func() time.Time) (*notionParts, error) {
	if !cfg.NotionEnabled() {
		return nil, nil
	}
	n := cfg.Notion
	c, err := notion.New(notion.Config{
		Token: n.Token, BaseURL: n.BaseURL,
		TemplatesDB: n.TemplatesDB, SequenceDB: n.SequenceDB, BusinessXDB: n.BusinessXDB,
		AnalyticsDB: n.AnalyticsDB, CustomerProjectsDB: n.CustomerProjectsDB,
		ContactsDB: n.ContactsDB, BXTemplatesDB: n.BXTemplatesDB,
		RatePerSecond: n.Rate, Timeout: n.Timeout, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	p := &notionParts{
		client:    c,
		templates: tracking.Templates{Cache: notion.NewTemplateCache(c, cfg.TemplateTTL, now)},
		ttl:       cfg.TemplateTTL,
		kinds:     notionKinds,
		disabled:  map[string]string{},

		unsubscribeProp: strings.TrimSpace(n.UnsubscribeProperty),
	}
	if p.unsubscribeProp != "" {
		p.kinds = append(slices.Clone(notionKinds), notion.KindUnsubscribe)
	}
	for _, kind := range p.kinds {
		if err := c.Configured(kind); err != nil {
			p.disabled[kind] = err.Error()
		}
	}
	return p, nil
}

// tracker returns the engine's Tracker; ops whose databases are not
// configured are not queued.
func (p *notionParts) tracker(newID func() string, log *slog.Logger) *tracking.Notion {
	return &tracking.Notion{
		NewID:               newID,
		Enabled:             func(kind string) bool { _, off := p.disabled[kind]; return !off },
		UnsubscribeProperty: p.unsubscribeProp,
		Log:                 log,
	}
}

// logMode says once at start-up that Notion is live, and which tracking
// writes are off for want of a database id.
func (p *notionParts) logMode(log *slog.Logger) {
	var on []string
	for _, kind := range p.kinds {
		if reason, off := p.disabled[kind]; off {
			log.Warn("notion tracking write off: database not configured", "kind", kind, "reason", reason)
			continue
		}
		on = append(on, kind)
	}
	log.Info("notion live: templates from the Email Templates DB, tracking through the outbox",
		"templates", "notion", "template_cache_ttl", p.ttl.String(), "tracking", strings.Join(on, ","))
}

// suppressor records a suppression in the store and, for an unsubscribe
// or a complaint, queues the contact's update in Notion
// (NOTION_UNSUBSCRIBE_PROPERTY). It is nil when that is off, which leaves
// the store-only default.
func (a *app) suppressor(tr *tracking.Notion) httpapi.Suppressor {
	if tr == nil || tr.UnsubscribeProperty == "" {
		return nil
	}
	return func(ctx context.Context, s store.Suppression) (int, error) {
		if s.At.IsZero() {
			s.At = a.clock()
		}
		added, cancelled, err := a.db.Suppress(s)
		if err != nil {
			return 0, err
		}
		if items := tr.Unsubscribed(s); added && len(items) > 0 {
			if err := a.db.AddOutbox(items...); err != nil {
				// The suppression itself is recorded; only the Notion mark is lost.
				a.log.ErrorContext(ctx, "queue notion unsubscribe", "email", engine.MaskEmail(s.Email), "err", err)
			} else {
				a.outbox.Wake()
			}
		}
		return len(cancelled), nil
	}
}

// warm reads every template the flows use into the cache, so the first
// sends do not wait for Notion and a later outage is bridged by the cached
// copies, and reports the templates Notion lacks.
func (p *notionParts) warm(ctx context.Context, log *slog.Logger) {
	names := flows.TemplateNames()
	missing, err := p.templates.Warm(ctx, names)
	if ctx.Err() != nil {
		return
	}
	for _, name := range names {
		if reason, ok := missing[name]; ok {
			log.WarnContext(ctx, "notion template unusable: its emails will fail until it is fixed",
				"template", name, "reason", reason)
		}
	}
	if err != nil {
		log.WarnContext(ctx, "notion templates not warmed, they are read at send time", "err", err)
		return
	}
	log.InfoContext(ctx, "notion templates warmed", "templates", len(names)-len(missing),
		"missing", len(missing))
}

// templateSourceFor is the template source of serve and `templates check`:
// Notion when configured (tplKind "notion", never falling back to the
// embedded set), else the local source.
func templateSourceFor(cfg *config.Config, np *notionParts) (templates.Source, string, error) {
	if np != nil {
		return np.templates, "notion", nil
	}
	return templateSource(cfg)
}
