package tracking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"perfect/internal/engine"
	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
	"perfect/internal/tracking"
	"perfect/store"
)

// newClient builds a client on srv's legacy databases. It makes one
// attempt per call, so every failure reaches the applier.
func newClient(t *testing.T, srv *notiontest.Server, edit ...func(*notion.Config)) *notion.Client {
	t.Helper()
	env := srv.Env()
	cfg := notion.Config{
		Token: env["NOTION_TOKEN"], BaseURL: env["NOTION_BASE_URL"],
		TemplatesDB: env["NOTION_EMAIL_TEMPLATES_DB_ID"], SequenceDB: env["NOTION_EMAIL_SEQUENCE_DB_ID"],
		BusinessXDB: env["NOTION_BUSINESSX_DB_ID"], AnalyticsDB: env["NOTION_EMAIL_ANALYTICS_DB_ID"],
		ContactsDB: env["NOTION_CONTACTS_DB_ID"], BXTemplatesDB: env["NOTION_TEMPLATES_DB_ID"],
		RatePerSecond: 1000, Timeout: 5 * time.Second, MaxAttempts: 1,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := notion.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func signupItem(t *testing.T) store.OutboxItem {
	t.Helper()
	items := (&tracking.Notion{NewID: counter()}).Started(
		runOf(t, "signup-handler", "sam@example.com", map[string]any{"name": "Sam Lee", "first_name": "Sam"}), nil)
	if len(items) != 1 {
		t.Fatalf("signup gave %d items", len(items))
	}
	return items[0]
}

func TestApplier_AppliesOp(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	apply := tracking.Applier(newClient(t, srv))
	it := signupItem(t)
	for range 2 { // applying again changes nothing
		if err := apply(context.Background(), it); err != nil {
			t.Fatal(err)
		}
	}
	pages := srv.Find(notiontest.ContactsDB, "Email", "sam@example.com")
	if len(pages) != 1 {
		t.Fatalf("%d contacts, want 1", len(pages))
	}
	if got := pages[0].Text("Name"); got != "Sam Lee" {
		t.Errorf("Name = %q", got)
	}
	if got := pages[0].Text("Signup Source"); got != "web_form" {
		t.Errorf("Signup Source = %q", got)
	}
}

func TestApplier_ErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      func(srv *notiontest.Server)
		edit      func(*notion.Config)
		item      func(t *testing.T) store.OutboxItem
		permanent bool
		waitFor   time.Duration // RetryAfter(); -1 when the error must not carry one
	}{
		{name: "429 with Retry-After", waitFor: 7 * time.Second,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 429, "rate_limited", 7*time.Second) }},
		{name: "503 without Retry-After", waitFor: 0,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 503, "service_unavailable", -1) }},
		{name: "529 overload", waitFor: 2 * time.Second,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 529, "service_overload", 2*time.Second) }},
		{name: "500 is retried with backoff", waitFor: -1,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 500, "internal_server_error", -1) }},
		{name: "409 conflict is retried", waitFor: -1,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 409, "conflict_error", -1) }},
		{name: "400 validation error parks", permanent: true,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 400, "validation_error", -1) }},
		{name: "401 parks", permanent: true,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 401, "unauthorized", -1) }},
		{name: "404 parks", permanent: true,
			fail: func(srv *notiontest.Server) { srv.FailNext(1, 404, "object_not_found", -1) }},
		{name: "database not configured parks", permanent: true,
			edit: func(c *notion.Config) { c.ContactsDB = "" }},
		{name: "undecodable payload parks", permanent: true,
			item: func(t *testing.T) store.OutboxItem {
				it := signupItem(t)
				it.Payload = []byte(`{"email": 42}`)
				return it
			}},
		{name: "unknown op parks", permanent: true,
			item: func(t *testing.T) store.OutboxItem {
				it := signupItem(t)
				it.Kind = "notion.portal"
				return it
			}},
		{name: "not a notion kind parks", permanent: true,
			item: func(t *testing.T) store.OutboxItem {
				it := signupItem(t)
				it.Kind = "discord.alert"
				return it
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := notiontest.NewLegacy(t)
			var edits []func(*notion.Config)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			apply := tracking.Applier(newClient(t, srv, edits...))
			if tt.fail != nil {
				tt.fail(srv)
			}
			it := signupItem(t)
			if tt.item != nil {
				it = tt.item(t)
			}

			err := apply(context.Background(), it)
			if err == nil {
				t.Fatal("apply succeeded, want an error")
			}
			var pe *engine.PermanentError
			if got := errors.As(err, &pe); got != tt.permanent {
				t.Fatalf("permanent = %v, want %v: %v", got, tt.permanent, err)
			}
			if tt.permanent {
				return
			}
			var ra engine.RetryAfterError
			switch {
			case tt.waitFor < 0 && errors.As(err, &ra):
				t.Errorf("error carries RetryAfter %s, want none: %v", ra.RetryAfter(), err)
			case tt.waitFor >= 0 && !errors.As(err, &ra):
				t.Errorf("error does not implement RetryAfter: %v", err)
			case tt.waitFor >= 0 && ra.RetryAfter() != tt.waitFor:
				t.Errorf("RetryAfter = %s, want %s", ra.RetryAfter(), tt.waitFor)
			}
			if !notion.Retryable(err) {
				t.Errorf("Retryable(%v) = false", err)
			}
		})
	}
}

func TestApplier_CancelledIsNotPermanent(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	apply := tracking.Applier(newClient(t, srv))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := apply(ctx, signupItem(t))
	var pe *engine.PermanentError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("apply with a cancelled context = %v, want a plain error", err)
	}
}
