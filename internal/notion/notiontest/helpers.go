package notiontest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
)

// AddPage creates a page in database dbID from plain Go values, checked
// like an API write, and returns its id. Values by property type:
// title/rich_text a string (split at 2000 characters) or []string (one
// segment each); email/url/phone_number a string; number an int or
// float64; select/status a string ("" for none); multi_select []string;
// date a string or time.Time; checkbox a bool; nil clears.
func (s *Server) AddPage(dbID string, props map[string]any) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ok := s.dbs[normID(dbID)]
	if !ok {
		s.tb.Fatalf("notiontest: AddPage: no database %s", dbID)
	}
	values, err := plainProps(db.schema, props)
	if err != nil {
		s.tb.Fatalf("notiontest: AddPage: %v", err)
	}
	return s.insert(db, values).id
}

// SetProps changes properties of a page, as a person editing it in Notion
// would; values are given as for AddPage.
func (s *Server) SetProps(pageID string, props map[string]any) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(pageID)]
	if !ok {
		s.tb.Fatalf("notiontest: SetProps: no page %s", pageID)
	}
	values, err := plainProps(p.db.schema, props)
	if err != nil {
		s.tb.Fatalf("notiontest: SetProps: %v", err)
	}
	for name, v := range values {
		p.props[name] = v
	}
	p.edited = s.now().UTC().Truncate(time.Millisecond)
}

// Archive moves a page to the trash, as a person would.
func (s *Server) Archive(pageID string) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(pageID)]
	if !ok {
		s.tb.Fatalf("notiontest: Archive: no page %s", pageID)
	}
	p.archived = true
}

// plainProps converts Go values to API input, then decodes them through
// the same checks as a request.
func plainProps(schema Schema, props map[string]any) (map[string]any, error) {
	in := make(map[string]json.RawMessage, len(props))
	for name, v := range props {
		typ, ok := schema[name]
		if !ok {
			return nil, fmt.Errorf("%s is not a property of the database", name)
		}
		input, err := plainInput(typ, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		raw, err := json.Marshal(map[string]any{typ: input})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		in[name] = raw
	}
	out, e := decodeProps(schema, in)
	if e != nil {
		return nil, e
	}
	return out, nil
}

func plainInput(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "title", "rich_text":
		return textInput(v)
	case "select", "status":
		if s, ok := v.(string); ok {
			if s == "" {
				return nil, nil
			}
			return map[string]any{"name": s}, nil
		}
	case "multi_select":
		if list, ok := v.([]string); ok {
			opts := make([]any, 0, len(list))
			for _, s := range list {
				opts = append(opts, map[string]any{"name": s})
			}
			return opts, nil
		}
	case "date":
		switch d := v.(type) {
		case string:
			return map[string]any{"start": d}, nil
		case time.Time:
			return map[string]any{"start": d.Format(time.RFC3339Nano)}, nil
		}
	case "number":
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case float64:
			return n, nil
		}
	case "email", "url", "phone_number", "checkbox":
		return v, nil
	}
	return nil, fmt.Errorf("%T is not a value for a %s property", v, typ)
}

func textInput(v any) (any, error) {
	var segs []string
	switch t := v.(type) {
	case string:
		segs = splitText(t)
	case []string:
		segs = t
	default:
		return nil, fmt.Errorf("%T is not a text value", v)
	}
	out := make([]any, 0, len(segs))
	for _, s := range segs {
		out = append(out, map[string]any{"text": map[string]any{"content": s}})
	}
	return out, nil
}

func splitText(s string) []string {
	var out []string
	var cur []rune
	n := 0
	for _, r := range s {
		w := len(utf16.Encode([]rune{r}))
		if n+w > maxTextLen {
			out = append(out, string(cur))
			cur, n = nil, 0
		}
		cur = append(cur, r)
		n += w
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// Page is a snapshot of a stored page, read by property name.
type Page struct {
	ID             string
	DatabaseID     string
	Archived       bool
	CreatedTime    time.Time
	LastEditedTime time.Time

	types map[string]string
	props map[string]any
}

func (s *Server) snapshot(p *page) Page {
	props := make(map[string]any, len(p.props))
	for k, v := range p.props {
		props[k] = v
	}
	return Page{ID: p.id, DatabaseID: p.db.id, Archived: p.archived, CreatedTime: p.created,
		LastEditedTime: p.edited, types: p.db.schema, props: props}
}

// Pages returns the pages of a database not in the trash, oldest first.
func (s *Server) Pages(dbID string) []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ok := s.dbs[normID(dbID)]
	if !ok {
		return nil
	}
	var out []Page
	for _, p := range db.pages {
		if !p.archived {
			out = append(out, s.snapshot(p))
		}
	}
	return out
}

// Find returns the pages of a database not in the trash whose property
// reads (as Page.Text) exactly value.
func (s *Server) Find(dbID, prop, value string) []Page {
	var out []Page
	for _, p := range s.Pages(dbID) {
		if p.Text(prop) == value {
			out = append(out, p)
		}
	}
	return out
}

// Page returns one page by id, archived or not.
func (s *Server) Page(id string) (Page, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(id)]
	if !ok {
		return Page{}, false
	}
	return s.snapshot(p), true
}

// Type returns the type of a property ("" when the database has none).
func (p Page) Type(name string) string { return p.types[name] }

// Has reports whether the property holds a value (a non-empty text, a set
// select or date, a checked box, any number).
func (p Page) Has(name string) bool {
	typ, ok := p.types[name]
	return ok && !valueEmpty(typ, p.props[name])
}

// Text returns a title or rich-text value joined, an email, URL or phone
// value, a select's option name, a date's start or a number in decimal.
func (p Page) Text(name string) string {
	typ := p.types[name]
	if n, ok := p.props[name].(float64); ok && typ == "number" {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return plain(typ, p.props[name])
}

// Segments returns the text of each rich-text or title segment.
func (p Page) Segments(name string) []string {
	var out []string
	for _, seg := range asSlice(p.props[name]) {
		if m, ok := seg.(map[string]any); ok {
			s, _ := m["plain_text"].(string)
			out = append(out, s)
		}
	}
	return out
}

// Number returns a number value and whether it is set.
func (p Page) Number(name string) (float64, bool) {
	n, ok := p.props[name].(float64)
	return n, ok
}

// Checkbox returns a checkbox value.
func (p Page) Checkbox(name string) bool { return p.props[name] == true }

// Date returns a date's start as stored ("" when unset): YYYY-MM-DD, or a
// datetime the way Notion writes it back (milliseconds, numeric offset).
func (p Page) Date(name string) string { return plain("date", p.props[name]) }

// Time parses a date's start; a date alone is midnight UTC.
func (p Page) Time(name string) (time.Time, bool) { return parseDate(p.Date(name)) }
