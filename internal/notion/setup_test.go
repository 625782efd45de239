package notion_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
	"perfect/store"
)

// sleeps records the waits the client's transport asked for, instead of
// waiting.
type sleeps struct {
	mu  sync.Mutex
	got []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// configFor points a client config at srv, with every legacy database.
func configFor(srv *notiontest.Server, sl *sleeps) notion.Config {
	env := srv.Env()
	return notion.Config{
		Token:              env["NOTION_TOKEN"],
		BaseURL:            env["NOTION_BASE_URL"],
		TemplatesDB:        env["NOTION_EMAIL_TEMPLATES_DB_ID"],
		SequenceDB:         env["NOTION_EMAIL_SEQUENCE_DB_ID"],
		BusinessXDB:        env["NOTION_BUSINESSX_DB_ID"],
		AnalyticsDB:        env["NOTION_EMAIL_ANALYTICS_DB_ID"],
		CustomerProjectsDB: env["NOTION_CUSTOMER_PROJECTS_DB_ID"],
		ContactsDB:         env["NOTION_CONTACTS_DB_ID"],
		BXTemplatesDB:      env["NOTION_TEMPLATES_DB_ID"],
		RatePerSecond:      1000,
		Timeout:            5 * time.Second,
		Sleep:              sl.sleep,
	}
}

// setup starts a fake Notion with the legacy databases and a real client
// on it. edit changes the config before the client is built.
func setup(t *testing.T, edit ...func(*notion.Config)) (*notiontest.Server, *notion.Client, *sleeps) {
	t.Helper()
	srv := notiontest.NewLegacy(t)
	sl := &sleeps{}
	cfg := configFor(srv, sl)
	for _, e := range edit {
		e(&cfg)
	}
	c, err := notion.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c, sl
}

// memOutbox is an in-memory notion.Outbox.
type memOutbox struct {
	mu     sync.Mutex
	seq    int
	items  map[string]*store.OutboxItem
	parked map[string]string
	done   chan string
}

func newOutbox() *memOutbox {
	return &memOutbox{items: map[string]*store.OutboxItem{}, parked: map[string]string{},
		done: make(chan string, 100)}
}

func (m *memOutbox) add(t *testing.T, op notion.Op, now time.Time) string {
	t.Helper()
	kind, payload, err := notion.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	id := fmt.Sprintf("ob-%03d", m.seq)
	m.items[id] = &store.OutboxItem{ID: id, Kind: kind, Payload: payload, CreatedAt: now, NextAt: now}
	return id
}

func (m *memOutbox) Due(now time.Time, limit int) ([]store.OutboxItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.OutboxItem
	for id, it := range m.items {
		if _, parked := m.parked[id]; !parked && !it.NextAt.After(now) {
			out = append(out, *it)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAt.Equal(out[j].NextAt) {
			return out[i].NextAt.Before(out[j].NextAt)
		}
		return out[i].ID < out[j].ID
	})
	return out[:min(limit, len(out))], nil
}

func (m *memOutbox) Done(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, id)
	m.done <- id
	return nil
}

func (m *memOutbox) Retry(id string, next time.Time, lastErr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it := m.items[id]
	it.Attempts++
	it.NextAt, it.LastError = next, lastErr
	return nil
}

func (m *memOutbox) Park(id string, lastErr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[id].Attempts++
	m.items[id].LastError = lastErr
	m.parked[id] = lastErr
	return nil
}

func (m *memOutbox) item(id string) (store.OutboxItem, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[id]
	if !ok {
		return store.OutboxItem{}, false
	}
	return *it, true
}

func (m *memOutbox) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

func (m *memOutbox) parkedErr(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.parked[id]
	return e, ok
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// wantProps checks a page's properties by name: a string is compared with
// Page.Text, a bool with Page.Checkbox, nil means unset.
func wantProps(t *testing.T, p notiontest.Page, want map[string]any) {
	t.Helper()
	for name, w := range want {
		if p.Type(name) == "" {
			t.Errorf("%s: the database has no such property", name)
			continue
		}
		switch w := w.(type) {
		case nil:
			if p.Has(name) {
				t.Errorf("%s = %q, want unset", name, p.Text(name))
			}
		case bool:
			if got := p.Checkbox(name); got != w {
				t.Errorf("%s = %v, want %v", name, got, w)
			}
		case string:
			if got := p.Text(name); got != w {
				t.Errorf("%s = %q, want %q", name, got, w)
			}
		default:
			t.Fatalf("%s: unsupported want %T", name, w)
		}
	}
}

// onlyPage returns the single page of db, failing otherwise.
func onlyPage(t *testing.T, srv *notiontest.Server, db string) notiontest.Page {
	t.Helper()
	pages := srv.Pages(db)
	if len(pages) != 1 {
		t.Fatalf("database %s has %d pages, want 1", db, len(pages))
	}
	return pages[0]
}
