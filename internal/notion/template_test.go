package notion_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
)

func TestClient_Template(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	longBody := "<p>" + strings.Repeat("b", 4500) + "</p>"
	add := func(props map[string]any) { srv.AddPage(notiontest.EmailTemplatesDB, props) }
	add(map[string]any{"Template Name": "5-Day E2", "Subject Line": []string{"Hi ", "{{first_name}}"},
		"Email Body HTML": longBody, "Status": "Active"})
	add(map[string]any{"Template Name": "5-Day E3", "Subject Line": "Old", "Email Body HTML": "<p>old</p>", "Status": "Inactive"})
	add(map[string]any{"Template Name": "5-Day E3", "Subject Line": "New", "Email Body HTML": "<p>new</p>", "Status": "Active"})
	add(map[string]any{"Template Name": "5-Day E4", "Subject Line": "S", "Email Body HTML": "<p>x</p>", "Status": "Inactive"})
	add(map[string]any{"Template Name": "5-Day E5", "Subject Line": "S", "Status": "Active"})
	add(map[string]any{"Template Name": "noshow_recovery_email_1", "Email Body HTML": "<p>x</p>", "Status": "Active"})
	add(map[string]any{"Template Name": "no status", "Subject Line": "S", "Email Body HTML": "<p>x</p>"})
	srv.AddPage(notiontest.BXTemplatesDB, map[string]any{"Template Name": "email_1", "Subject": "BX subject",
		"HTML Body": []string{"<p>bx ", "body</p>"}, "Status": "Active"})

	tests := []struct {
		name        string
		template    string
		wantSubject string
		wantHTML    string
		wantReason  string
	}{
		{name: "segments joined", template: "5-Day E2", wantSubject: "Hi {{first_name}}", wantHTML: longBody},
		{name: "inactive duplicate skipped", template: "5-Day E3", wantSubject: "New", wantHTML: "<p>new</p>"},
		{name: "BusinessX templates DB", template: "email_1", wantSubject: "BX subject", wantHTML: "<p>bx body</p>"},
		{name: "not found", template: "5-Day E9", wantReason: "not found"},
		{name: "inactive", template: "5-Day E4", wantReason: "not active (Status: Inactive)"},
		{name: "no status set", template: "no status", wantReason: "not active (Status: unset)"},
		{name: "empty body", template: "5-Day E5", wantReason: "empty body (Email Body HTML)"},
		{name: "empty subject", template: "noshow_recovery_email_1", wantReason: "empty subject (Subject Line)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, html, err := c.Template(context.Background(), tt.template)
			if tt.wantReason != "" {
				var te *notion.TemplateError
				if !errors.Is(err, notion.ErrTemplateMissing) || !errors.As(err, &te) || te.Reason != tt.wantReason {
					t.Fatalf("err = %v, want template missing: %s", err, tt.wantReason)
				}
				if !strings.Contains(err.Error(), tt.template) {
					t.Errorf("error %q does not name the template", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if subject != tt.wantSubject || html != tt.wantHTML {
				t.Errorf("got %q / %d bytes of html, want %q / %d", subject, len(html), tt.wantSubject, len(tt.wantHTML))
			}
		})
	}
}

func TestClient_TemplateWithoutStatusProperty(t *testing.T) {
	t.Parallel()
	// A templates database without a Status select: every template counts.
	srv := notiontest.New(t, map[string]notiontest.Schema{
		notiontest.EmailTemplatesDB: {"Template Name": "title", "Subject Line": "rich_text", "Email Body HTML": "rich_text"},
	})
	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{"Template Name": "5-Day E2", "Subject Line": "S", "Email Body HTML": "B"})
	c, err := notion.New(notion.Config{Token: notiontest.Token, BaseURL: srv.URL(), TemplatesDB: notiontest.EmailTemplatesDB})
	if err != nil {
		t.Fatal(err)
	}

	subject, html, err := c.Template(context.Background(), "5-Day E2")
	if err != nil || subject != "S" || html != "B" {
		t.Errorf("Template = %q, %q, %v", subject, html, err)
	}
}

func TestClient_TemplateNotConfigured(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, func(cfg *notion.Config) { cfg.TemplatesDB, cfg.BXTemplatesDB = "", "" })

	if _, _, err := c.Template(context.Background(), "5-Day E2"); !errors.Is(err, notion.ErrNotConfigured) {
		t.Errorf("err = %v, want ErrNotConfigured", err)
	}
}

func TestTemplateCache(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	id := srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{"Template Name": "5-Day E2",
		"Subject Line": "v1", "Email Body HTML": "<p>v1</p>", "Status": "Active"})
	clk := &clock{t: t0}
	cache := notion.NewTemplateCache(c, 5*time.Minute, clk.now)
	ctx := context.Background()
	queries := func() int { return srv.Count("POST", "/v1/databases/*/query") }

	get := func(want string) {
		t.Helper()
		subject, _, err := cache.Get(ctx, "5-Day E2")
		if err != nil || subject != want {
			t.Fatalf("Get = %q, %v; want %q", subject, err, want)
		}
	}

	get("v1")
	srv.SetProps(id, map[string]any{"Subject Line": "v2"})
	clk.advance(4 * time.Minute)
	get("v1")
	if n := queries(); n != 1 {
		t.Errorf("queries within the TTL = %d, want 1", n)
	}

	clk.advance(time.Minute)
	get("v2")
	if n := queries(); n != 2 {
		t.Errorf("queries after the TTL = %d, want 2", n)
	}

	// Notion down after the TTL: the expired copy is served.
	srv.SetDown(true)
	clk.advance(10 * time.Minute)
	get("v2")

	// A template never fetched has no copy to fall back on.
	if _, _, err := cache.Get(ctx, "5-Day E3"); err == nil || errors.Is(err, notion.ErrTemplateMissing) || !notion.Retryable(err) {
		t.Errorf("Get while down = %v, want a retryable API error", err)
	}
}

func TestTemplateCache_CachesMissing(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	clk := &clock{t: t0}
	cache := notion.NewTemplateCache(c, time.Minute, clk.now)

	for range 3 {
		if _, _, err := cache.Get(context.Background(), "nope"); !errors.Is(err, notion.ErrTemplateMissing) {
			t.Fatalf("err = %v", err)
		}
	}
	// One query per templates database, once.
	if n := srv.Count("POST", "/v1/databases/*/query"); n != 2 {
		t.Errorf("queries = %d, want 2", n)
	}

	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{"Template Name": "nope",
		"Subject Line": "S", "Email Body HTML": "B", "Status": "Active"})
	clk.advance(time.Minute)
	if _, _, err := cache.Get(context.Background(), "nope"); err != nil {
		t.Errorf("after the TTL: %v", err)
	}
}
