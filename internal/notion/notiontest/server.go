// Package notiontest is an in-memory Notion API for tests: an httptest
// server on 127.0.0.1 that keeps databases and pages, checks requests the
// way Notion does (Bearer token, Notion-Version, property names and types
// against each database's schema, rich-text limits, filter shapes), answers
// with Notion's page, list and error shapes, and can be told to fail.
//
//	srv := notiontest.NewLegacy(t)        // the legacy databases, empty
//	srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{"Template Name": "5-Day E2", ...})
//	... point the code under test at srv.URL() with srv.Env() ...
//	pages := srv.Find(notiontest.AnalyticsDB, "Email", "jane@example.com")
package notiontest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the integration token the server accepts.
const Token = "secret_notiontest"

// Version is the only Notion-Version the server accepts.
const Version = "2022-06-28"

// maxBody is Notion's payload limit.
const maxBody = 500 << 10

// Request is one request the server received, with the status it answered.
type Request struct {
	Method string
	Path   string
	Body   []byte
	Status int
}

type fault struct {
	method     string
	pattern    string
	status     int
	code       string
	retryAfter time.Duration
	// land: process the request, then answer with the fault anyway (the
	// write happened, the answer was lost).
	land bool
}

type database struct {
	id     string
	schema Schema
	pages  []*page
}

type page struct {
	id       string
	db       *database
	created  time.Time
	edited   time.Time
	archived bool
	props    map[string]any
}

// Server is a fake Notion API. Its methods are safe for concurrent use.
type Server struct {
	tb  testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	dbs      map[string]*database
	pages    map[string]*page
	seq      int
	faults   []fault
	down     bool
	requests []Request
}

// New starts a server holding one empty database per schema, keyed by
// database id. It is closed when the test ends.
func New(tb testing.TB, schemas map[string]Schema) *Server {
	tb.Helper()
	s := &Server{tb: tb, now: time.Now, dbs: map[string]*database{}, pages: map[string]*page{}}
	for id, schema := range schemas {
		if err := checkSchema(schema); err != nil {
			tb.Fatalf("notiontest: database %s: %v", id, err)
		}
		s.dbs[normID(id)] = &database{id: id, schema: schema}
	}
	s.srv = httptest.NewServer(s)
	tb.Cleanup(s.srv.Close)
	return s
}

// NewLegacy starts a server with the legacy databases of LegacySchemas.
func NewLegacy(tb testing.TB) *Server {
	tb.Helper()
	return New(tb, LegacySchemas())
}

func checkSchema(schema Schema) error {
	titles := 0
	for name, typ := range schema {
		switch typ {
		case "title":
			titles++
		case "rich_text", "email", "number", "select", "status", "multi_select", "date",
			"checkbox", "url", "phone_number", "created_time", "last_edited_time":
		default:
			return fmt.Errorf("property %q has unsupported type %q", name, typ)
		}
	}
	if titles != 1 {
		return fmt.Errorf("a database needs exactly one title property, has %d", titles)
	}
	return nil
}

// URL is the server's base URL (what NOTION_BASE_URL should be).
func (s *Server) URL() string { return s.srv.URL }

// Env returns the environment a client needs: NOTION_TOKEN,
// NOTION_BASE_URL and the variable of every legacy database served.
func (s *Server) Env() map[string]string {
	env := map[string]string{"NOTION_TOKEN": Token, "NOTION_BASE_URL": s.URL()}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, db := range s.dbs {
		if name, ok := LegacyEnv[db.id]; ok {
			env[name] = db.id
		}
	}
	return env
}

// SetNow sets the clock used for created and last edited times.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// FailNext makes the next n requests fail with status and Notion error
// code, before they are processed, with a Retry-After header (whole
// seconds) when retryAfter >= 0.
func (s *Server) FailNext(n, status int, code string, retryAfter time.Duration) {
	s.FailOn("", "", n, status, code, retryAfter)
}

// FailOn is FailNext for the requests matching method ("" for any) and a
// path.Match pattern ("" for any), such as "POST", "/v1/pages".
func (s *Server) FailOn(method, pattern string, n, status int, code string, retryAfter time.Duration) {
	s.addFaults(n, fault{method: method, pattern: pattern, status: status, code: code, retryAfter: retryAfter})
}

// LandThenFail makes the next n requests take effect and then answer with
// status and code anyway, like a timeout after the write landed.
func (s *Server) LandThenFail(n, status int, code string) {
	s.LandThenFailOn("", "", n, status, code)
}

// LandThenFailOn is LandThenFail for the requests matching method and
// pattern, as in FailOn.
func (s *Server) LandThenFailOn(method, pattern string, n, status int, code string) {
	s.addFaults(n, fault{method: method, pattern: pattern, status: status, code: code, retryAfter: -1, land: true})
}

func (s *Server) addFaults(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// takeFault removes and returns the first queued fault matching r.
func (s *Server) takeFault(r *http.Request) (fault, bool) {
	for i, f := range s.faults {
		if f.matches(r.Method, r.URL.Path) {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			return f, true
		}
	}
	return fault{}, false
}

func (f fault) matches(method, p string) bool {
	if f.method != "" && f.method != method {
		return false
	}
	ok, _ := path.Match(f.pattern, p)
	return f.pattern == "" || ok
}

// SetDown makes every request fail with 503 service_unavailable while down.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests matched method ("" for any) and pattern,
// a path.Match pattern such as "/v1/databases/*/query" ("" for any).
func (s *Server) Count(method, pattern string) int {
	n := 0
	for _, r := range s.Requests() {
		if method != "" && r.Method != method {
			continue
		}
		if ok, _ := path.Match(pattern, r.Path); pattern == "" || ok {
			n++
		}
	}
	return n
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	s.mu.Lock()
	defer s.mu.Unlock()

	var resp response
	switch {
	case err != nil:
		resp = errorResponse(&apiError{400, "invalid_request", "could not read body: " + err.Error()})
	case len(body) > maxBody:
		resp = errorResponse(&apiError{413, "validation_error", "Request body too large."})
	default:
		resp = s.serve(r, body)
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body, Status: resp.status})
	resp.write(w)
}

type response struct {
	status     int
	body       any
	retryAfter time.Duration
}

func (r response) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.retryAfter >= 0 && r.status >= 400 {
		w.Header().Set("Retry-After", fmt.Sprint(int((r.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(r.body)
}

func errorResponse(e *apiError) response {
	return response{status: e.status, retryAfter: -1, body: map[string]any{
		"object": "error", "status": e.status, "code": e.code, "message": e.message,
		"request_id": "00000000-0000-4000-8000-000000000000",
	}}
}

func faultResponse(f fault) response {
	resp := errorResponse(&apiError{f.status, f.code, faultMessage(f.code)})
	resp.retryAfter = f.retryAfter
	return resp
}

func faultMessage(code string) string {
	switch code {
	case "rate_limited":
		return "You have been rate limited. Please try again in a few minutes."
	case "service_unavailable":
		return "Notion is unavailable. Please try again later."
	case "service_overload":
		return "Notion is overloaded. Please try again later."
	case "conflict_error":
		return "Conflict occurred while saving. Please try again."
	}
	return "Unexpected error occurred."
}

// serve runs the checks and the route of one request; s.mu is held.
func (s *Server) serve(r *http.Request, body []byte) response {
	if s.down {
		return faultResponse(fault{status: 503, code: "service_unavailable", retryAfter: -1})
	}
	var landing *fault
	if f, ok := s.takeFault(r); ok {
		if !f.land {
			return faultResponse(f)
		}
		landing = &f
	}
	if e := checkHeaders(r); e != nil {
		return errorResponse(e)
	}

	status, out, e := s.route(r.Method, r.URL.Path, body)
	switch {
	case e != nil:
		return errorResponse(e)
	case landing != nil:
		return faultResponse(*landing)
	}
	return response{status: status, body: out, retryAfter: -1}
}

func checkHeaders(r *http.Request) *apiError {
	if r.Header.Get("Authorization") != "Bearer "+Token {
		return &apiError{401, "unauthorized", "API token is invalid."}
	}
	switch v := r.Header.Get("Notion-Version"); v {
	case Version:
		return nil
	case "":
		return &apiError{400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`."}
	default:
		return &apiError{400, "validation_error", fmt.Sprintf("notiontest only speaks Notion-Version %s, got %q.", Version, v)}
	}
}

func (s *Server) route(method, p string, body []byte) (int, any, *apiError) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case method == http.MethodPost && len(parts) == 4 && parts[0] == "v1" && parts[1] == "databases" && parts[3] == "query":
		return s.query(parts[2], body)
	case method == http.MethodPost && p == "/v1/pages":
		return s.createPage(body)
	case method == http.MethodGet && len(parts) == 3 && parts[0] == "v1" && parts[1] == "pages":
		return s.getPage(parts[2])
	case method == http.MethodPatch && len(parts) == 3 && parts[0] == "v1" && parts[1] == "pages":
		return s.updatePage(parts[2], body)
	}
	return 0, nil, &apiError{400, "invalid_request_url", "Invalid request URL."}
}

func decodeBody(body []byte, v any) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{400, "invalid_json", "Error parsing JSON body."}
	}
	return nil
}

func normID(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

func (s *Server) newID() string {
	s.seq++
	return fmt.Sprintf("9a9e0000-0000-4000-8000-%012x", s.seq)
}

func notFound(kind, id string) *apiError {
	return &apiError{404, "object_not_found", fmt.Sprintf(
		"Could not find %s with ID: %s. Make sure the relevant pages and databases are shared with your integration.", kind, id)}
}
