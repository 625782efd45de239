package notiontest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// query answers POST /v1/databases/{id}/query.
func (s *Server) query(dbID string, body []byte) (int, any, *apiError) {
	db, ok := s.dbs[normID(dbID)]
	if !ok {
		return 0, nil, notFound("database", dbID)
	}
	var in struct {
		Filter json.RawMessage `json:"filter"`
		Sorts  []struct {
			Property  string `json:"property"`
			Timestamp string `json:"timestamp"`
			Direction string `json:"direction"`
		} `json:"sorts"`
		StartCursor string `json:"start_cursor"`
		PageSize    *int   `json:"page_size"`
	}
	if e := decodeBody(body, &in); e != nil {
		return 0, nil, e
	}
	size := 100
	if in.PageSize != nil {
		if *in.PageSize < 1 || *in.PageSize > 100 {
			return 0, nil, validationErr("body failed validation: body.page_size should be ≤ `100`, instead was `%d`.", *in.PageSize)
		}
		size = *in.PageSize
	}

	keep := func(*page) bool { return true }
	if len(in.Filter) > 0 && string(in.Filter) != "null" {
		m, err := compileFilter(db, in.Filter, 0)
		if err != nil {
			return 0, nil, err.(*apiError)
		}
		keep = m
	}
	var hits []*page
	for _, p := range db.pages {
		if !p.archived && keep(p) {
			hits = append(hits, p)
		}
	}
	for _, so := range in.Sorts {
		if so.Property != "" || (so.Timestamp != "created_time" && so.Timestamp != "last_edited_time") {
			return 0, nil, validationErr("notiontest: only created_time and last_edited_time sorts are supported")
		}
	}
	sortPages(hits, in.Sorts)
	return s.listPage(hits, in.StartCursor, size)
}

func sortPages(hits []*page, sorts []struct {
	Property  string `json:"property"`
	Timestamp string `json:"timestamp"`
	Direction string `json:"direction"`
},
) {
	if len(sorts) == 0 {
		return
	}
	so := sorts[0]
	at := func(p *page) time.Time {
		if so.Timestamp == "created_time" {
			return p.created
		}
		return p.edited
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if so.Direction == "descending" {
			return at(hits[i]).After(at(hits[j]))
		}
		return at(hits[i]).Before(at(hits[j]))
	})
}

func (s *Server) listPage(hits []*page, cursor string, size int) (int, any, *apiError) {
	start := 0
	if cursor != "" {
		start = -1
		for i, p := range hits {
			if normID(p.id) == normID(cursor) {
				start = i
			}
		}
		if start < 0 {
			return 0, nil, validationErr("body failed validation: body.start_cursor should be a valid cursor.")
		}
	}
	end := min(len(hits), start+size)
	results := make([]any, 0, end-start)
	for _, p := range hits[start:end] {
		results = append(results, s.pageJSON(p))
	}
	var next any
	if end < len(hits) {
		next = hits[end].id
	}
	return 200, map[string]any{
		"object": "list", "results": results, "next_cursor": next, "has_more": next != nil,
		"type": "page_or_database", "page_or_database": map[string]any{},
		"request_id": s.requestID(),
	}, nil
}

// createPage answers POST /v1/pages.
func (s *Server) createPage(body []byte) (int, any, *apiError) {
	var in struct {
		Parent struct {
			DatabaseID string `json:"database_id"`
			PageID     string `json:"page_id"`
		} `json:"parent"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if e := decodeBody(body, &in); e != nil {
		return 0, nil, e
	}
	switch {
	case in.Parent.PageID != "":
		return 0, nil, validationErr("notiontest: only database parents are supported")
	case in.Parent.DatabaseID == "":
		return 0, nil, validationErr("body failed validation: body.parent.database_id should be defined, instead was `undefined`.")
	}
	db, ok := s.dbs[normID(in.Parent.DatabaseID)]
	if !ok {
		return 0, nil, notFound("database", in.Parent.DatabaseID)
	}
	values, e := decodeProps(db.schema, in.Properties)
	if e != nil {
		return 0, nil, e
	}

	p := s.insert(db, values)
	return 200, s.pageJSON(p), nil
}

func (s *Server) insert(db *database, values map[string]any) *page {
	now := s.now().UTC().Truncate(time.Millisecond)
	p := &page{id: s.newID(), db: db, created: now, edited: now, props: map[string]any{}}
	for name, typ := range db.schema {
		p.props[name] = emptyValue(typ)
	}
	for name, v := range values {
		p.props[name] = v
	}
	db.pages = append(db.pages, p)
	s.pages[normID(p.id)] = p
	return p
}

// decodeProps validates every property of a create or update before any
// is applied, as Notion rejects the whole request.
func decodeProps(schema Schema, in map[string]json.RawMessage) (map[string]any, *apiError) {
	out := make(map[string]any, len(in))
	for name, raw := range in {
		typ, ok := schema[name]
		if !ok {
			return nil, validationErr("%s is not a property that exists.", name)
		}
		v, err := decodeValue(name, typ, raw)
		if err != nil {
			return nil, err.(*apiError)
		}
		out[name] = v
	}
	return out, nil
}

// getPage answers GET /v1/pages/{id}.
func (s *Server) getPage(id string) (int, any, *apiError) {
	p, ok := s.pages[normID(id)]
	if !ok {
		return 0, nil, notFound("page", id)
	}
	return 200, s.pageJSON(p), nil
}

// updatePage answers PATCH /v1/pages/{id}.
func (s *Server) updatePage(id string, body []byte) (int, any, *apiError) {
	p, ok := s.pages[normID(id)]
	if !ok {
		return 0, nil, notFound("page", id)
	}
	var in struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Archived   *bool                      `json:"archived"`
		InTrash    *bool                      `json:"in_trash"`
	}
	if e := decodeBody(body, &in); e != nil {
		return 0, nil, e
	}
	archived := p.archived
	for _, flag := range []*bool{in.Archived, in.InTrash} {
		if flag != nil {
			archived = *flag
		}
	}
	if p.archived && archived && len(in.Properties) > 0 {
		return 0, nil, validationErr("Can't edit block that is archived. You must unarchive the block before editing.")
	}
	values, e := decodeProps(p.db.schema, in.Properties)
	if e != nil {
		return 0, nil, e
	}

	p.archived = archived
	for name, v := range values {
		p.props[name] = v
	}
	p.edited = s.now().UTC().Truncate(time.Millisecond)
	return 200, s.pageJSON(p), nil
}

// pageJSON renders a page as the API returns it (see the fixtures
// notion-page-create-response-*.json).
func (s *Server) pageJSON(p *page) map[string]any {
	props := make(map[string]any, len(p.props))
	for name, typ := range p.db.schema {
		id := shortID(name)
		if typ == "title" {
			id = "title"
		}
		var v any = p.props[name]
		switch typ {
		case "created_time":
			v = p.created.Format(time.RFC3339Nano)
		case "last_edited_time":
			v = p.edited.Format(time.RFC3339Nano)
		}
		props[name] = map[string]any{"id": id, "type": typ, typ: v}
	}
	user := map[string]any{"object": "user", "id": "7775f3a3-893f-43fa-b625-460c61094c78"}
	return map[string]any{
		"object":           "page",
		"id":               p.id,
		"created_time":     p.created.Format("2006-01-02T15:04:05.000Z"),
		"last_edited_time": p.edited.Format("2006-01-02T15:04:05.000Z"),
		"created_by":       user,
		"last_edited_by":   user,
		"cover":            nil,
		"icon":             nil,
		"parent":           map[string]any{"type": "database_id", "database_id": p.db.id},
		"archived":         p.archived,
		"in_trash":         p.archived,
		"properties":       props,
		"url":              "https://www.notion.so/" + strings.ReplaceAll(p.id, "-", ""),
		"public_url":       nil,
		"request_id":       s.requestID(),
	}
}

func (s *Server) requestID() string {
	return fmt.Sprintf("5c99c82e-cc3f-4141-917c-%012x", len(s.requests))
}
