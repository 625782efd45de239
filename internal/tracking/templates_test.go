package tracking_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
	"perfect/internal/templates"
	"perfect/internal/tracking"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTemplates(t *testing.T, ttl time.Duration) (*notiontest.Server, tracking.Templates, *manualClock) {
	t.Helper()
	srv := notiontest.NewLegacy(t)
	clock := &manualClock{t: created}
	cache := notion.NewTemplateCache(newClient(t, srv), ttl, clock.now)
	return srv, tracking.Templates{Cache: cache}, clock
}

func TestTemplates_Get(t *testing.T) {
	t.Parallel()
	srv, src, _ := newTemplates(t, time.Minute)
	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name":   "5-Day E2",
		"Status":          "Active",
		"Subject Line":    []string{"Your results, ", "{{first_name}}"},
		"Email Body HTML": []string{"<p>Hello {{first_name}},</p>", "<p>", strings.Repeat("x", 1990), "</p>"},
	})
	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name": "5-Day E3", "Subject Line": "Day three", "Email Body HTML": "", "Status": "Active",
	})
	srv.AddPage(notiontest.BXTemplatesDB, map[string]any{
		"Template Name": "email_1", "Subject": "Welcome", "HTML Body": "<p>Hi</p>", "Status": "Active",
	})

	got, err := src.Get(context.Background(), "5-Day E2")
	if err != nil {
		t.Fatal(err)
	}
	want := templates.Template{Name: "5-Day E2", Subject: "Your results, {{first_name}}",
		HTML: "<p>Hello {{first_name}},</p><p>" + strings.Repeat("x", 1990) + "</p>"}
	if got != want {
		t.Errorf("Get = %+v, want the segments joined", got)
	}
	if got, err := src.Get(context.Background(), "email_1"); err != nil || got.Subject != "Welcome" {
		t.Errorf("BusinessX template = %+v, %v", got, err)
	}

	tests := []struct {
		name, template, reason string
	}{
		{name: "missing", template: "5-Day E4", reason: "not found"},
		{name: "empty body", template: "5-Day E3", reason: "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.Get(context.Background(), tt.template)
			if !errors.Is(err, templates.ErrNotFound) || !errors.Is(err, notion.ErrTemplateMissing) {
				t.Fatalf("Get(%q) = %v, want a missing-template error", tt.template, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.template) || !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not name the template and the reason %q", msg, tt.reason)
			}
		})
	}
}

// A name the embedded set has is not served from it when Notion lacks it.
func TestTemplates_NoEmbeddedFallback(t *testing.T) {
	t.Parallel()
	if _, err := templates.Embedded().Get(context.Background(), "5-Day E5"); err != nil {
		t.Fatalf("embedded set lacks 5-Day E5: %v", err)
	}
	_, src, _ := newTemplates(t, time.Minute)
	if got, err := src.Get(context.Background(), "5-Day E5"); err == nil {
		t.Fatalf("Get served %+v without a Notion page", got)
	}
}

func TestTemplates_EditSeenAfterTTL(t *testing.T) {
	t.Parallel()
	srv, src, clock := newTemplates(t, 5*time.Minute)
	id := srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name": "onboarding_phase1_email_1", "Subject Line": "Welcome", "Email Body HTML": "<p>v1</p>",
		"Status": "Active",
	})
	get := func() string {
		t.Helper()
		tpl, err := src.Get(context.Background(), "onboarding_phase1_email_1")
		if err != nil {
			t.Fatal(err)
		}
		return tpl.HTML
	}
	if got := get(); got != "<p>v1</p>" {
		t.Fatalf("first read %q", got)
	}
	srv.SetProps(id, map[string]any{"Email Body HTML": []string{"<p>v2, ", "edited</p>"}})
	clock.add(4 * time.Minute)
	if got := get(); got != "<p>v1</p>" {
		t.Errorf("within the TTL got %q, want the cached v1", got)
	}
	clock.add(2 * time.Minute)
	if got := get(); got != "<p>v2, edited</p>" {
		t.Errorf("after the TTL got %q, want the edit", got)
	}

	// Notion down after the TTL: the cached copy is served.
	srv.SetDown(true)
	clock.add(6 * time.Minute)
	if got := get(); got != "<p>v2, edited</p>" {
		t.Errorf("during an outage got %q, want the cached copy", got)
	}
}

func TestTemplates_Warm(t *testing.T) {
	t.Parallel()
	srv, src, _ := newTemplates(t, time.Hour)
	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name": "5-Day E2", "Subject Line": "S", "Email Body HTML": "<p>B</p>", "Status": "Active",
	})
	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name": "5-Day E3", "Subject Line": "", "Email Body HTML": "<p>B</p>", "Status": "Active",
	})
	missing, err := src.Warm(context.Background(), []string{"5-Day E2", "5-Day E3", "5-Day E4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 2 || !strings.Contains(missing["5-Day E3"], "empty subject") ||
		missing["5-Day E4"] != "not found" {
		t.Errorf("missing = %v", missing)
	}

	// Warmed templates are served without asking Notion again.
	before := srv.Count("POST", "/v1/databases/*/query")
	srv.SetDown(true)
	if _, err := src.Get(context.Background(), "5-Day E2"); err != nil {
		t.Errorf("warmed template not served from the cache: %v", err)
	}
	if after := srv.Count("POST", "/v1/databases/*/query"); after != before {
		t.Errorf("Notion queried %d more times", after-before)
	}

	_, err = tracking.Templates{Cache: notion.NewTemplateCache(newClient(t, srv), time.Hour, nil)}.
		Warm(context.Background(), []string{"5-Day E2"})
	if err == nil || errors.Is(err, templates.ErrNotFound) {
		t.Errorf("Warm with Notion down = %v, want the outage", err)
	}
}
