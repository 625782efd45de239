package notion_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
)

// unsubscribeSetup serves the legacy databases plus the given extra
// properties, and a client on them.
func unsubscribeSetup(t *testing.T, extra map[string]notiontest.Schema, edit ...func(*notion.Config)) (*notiontest.Server, *notion.Client) {
	t.Helper()
	schemas := notiontest.LegacySchemas()
	for db, props := range extra {
		for name, typ := range props {
			schemas[db][name] = typ
		}
	}
	srv := notiontest.New(t, schemas)
	cfg := configFor(srv, &sleeps{})
	for _, e := range edit {
		e(&cfg)
	}
	c, err := notion.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestApply_Unsubscribe(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	op := notion.Unsubscribe{Email: "Jane@Example.com", Property: "Unsubscribed", At: at}

	t.Run("checkbox, select and date", func(t *testing.T) {
		t.Parallel()
		srv, c := unsubscribeSetup(t, map[string]notiontest.Schema{
			notiontest.BusinessXDB: {"Unsubscribed": "checkbox"},
			notiontest.ContactsDB:  {"Unsubscribed": "select"},
		})
		bx := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})
		other := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "joe@example.com"})
		ct := srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com"})
		for range 2 {
			if err := c.Apply(context.Background(), op); err != nil {
				t.Fatal(err)
			}
		}
		if p, _ := srv.Page(bx); !p.Checkbox("Unsubscribed") {
			t.Error("BusinessX Canada contact not ticked")
		}
		if p, _ := srv.Page(other); p.Checkbox("Unsubscribed") {
			t.Error("another contact was ticked")
		}
		if p, _ := srv.Page(ct); p.Text("Unsubscribed") != notion.UnsubscribedOption {
			t.Errorf("BusinessX contact select = %q", p.Text("Unsubscribed"))
		}

		srv2, c2 := unsubscribeSetup(t, map[string]notiontest.Schema{
			notiontest.ContactsDB: {"Unsubscribed": "date"},
		})
		id := srv2.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com"})
		if err := c2.Apply(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		if p, _ := srv2.Page(id); !sameInstant(p, "Unsubscribed", at) {
			t.Errorf("date = %q, want %s", p.Date("Unsubscribed"), at)
		}
	})

	t.Run("a database without the property is left alone", func(t *testing.T) {
		t.Parallel()
		srv, c := unsubscribeSetup(t, map[string]notiontest.Schema{
			notiontest.ContactsDB: {"Unsubscribed": "checkbox"},
		})
		srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})
		ct := srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com"})
		if err := c.Apply(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		if p, _ := srv.Page(ct); !p.Checkbox("Unsubscribed") {
			t.Error("contact not ticked")
		}
	})

	t.Run("no contact: nothing created", func(t *testing.T) {
		t.Parallel()
		srv, c := unsubscribeSetup(t, map[string]notiontest.Schema{
			notiontest.ContactsDB: {"Unsubscribed": "checkbox"},
		})
		if err := c.Apply(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Pages(notiontest.ContactsDB)) + len(srv.Pages(notiontest.BusinessXDB)); n != 0 {
			t.Errorf("%d contacts created", n)
		}
	})

	refused := []struct {
		name  string
		extra map[string]notiontest.Schema
		edit  func(*notion.Config)
		want  error
	}{
		{name: "no database has the property", want: notion.ErrInvalidOp},
		{name: "property of another type", want: notion.ErrInvalidOp,
			extra: map[string]notiontest.Schema{notiontest.ContactsDB: {"Unsubscribed": "number"}}},
		{name: "no contacts database", want: notion.ErrNotConfigured,
			edit: func(c *notion.Config) { c.BusinessXDB, c.ContactsDB = "", "" }},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*notion.Config)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			srv, c := unsubscribeSetup(t, tt.extra, edits...)
			srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com"})
			err := c.Apply(context.Background(), op)
			if !errors.Is(err, tt.want) || notion.Retryable(err) {
				t.Fatalf("Apply = %v, want a permanent %v", err, tt.want)
			}
		})
	}
}

func TestClient_ConfiguredUnsubscribe(t *testing.T) {
	t.Parallel()
	_, c := unsubscribeSetup(t, nil, func(c *notion.Config) { c.BusinessXDB = "" })
	if err := c.Configured(notion.KindUnsubscribe); err != nil {
		t.Errorf("with the contacts DB: %v", err)
	}
	_, c = unsubscribeSetup(t, nil, func(c *notion.Config) { c.BusinessXDB, c.ContactsDB = "", "" })
	if err := c.Configured(notion.KindUnsubscribe); !errors.Is(err, notion.ErrNotConfigured) {
		t.Errorf("without contacts DBs: %v", err)
	}
}

func TestUnsubscribe_EncodeDecode(t *testing.T) {
	t.Parallel()
	op := notion.Unsubscribe{Email: "jane@example.com", Property: "Unsubscribed",
		At: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	kind, payload, err := notion.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	got, err := notion.Decode(kind, payload)
	if err != nil || got != op {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	if _, _, err := notion.Encode(notion.Unsubscribe{Email: "jane@example.com", At: op.At}); !errors.Is(err, notion.ErrInvalidOp) {
		t.Errorf("op without a property encoded: %v", err)
	}
}

func sameInstant(p notiontest.Page, prop string, want time.Time) bool {
	got, ok := p.Time(prop)
	return ok && got.Equal(want)
}
