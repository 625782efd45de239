package notiontest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"perfect/internal/notion/notiontest"
)

// call sends one request with the headers a client sends, or others.
func call(t *testing.T, srv *notiontest.Server, method, path, body string, headers map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+notiontest.Token)
	req.Header.Set("Notion-Version", notiontest.Version)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %s", raw)
	}
	return resp.StatusCode, out, resp.Header
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func createBody(db string, props string) string {
	return `{"parent":{"database_id":"` + db + `"},"properties":` + props + `}`
}

func TestServer_Headers(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	path := "/v1/databases/" + notiontest.AnalyticsDB + "/query"

	tests := []struct {
		name       string
		headers    map[string]string
		wantStatus int
		wantCode   string
	}{
		{name: "ok", wantStatus: 200},
		{name: "no token", headers: map[string]string{"Authorization": ""}, wantStatus: 401, wantCode: "unauthorized"},
		{name: "wrong token", headers: map[string]string{"Authorization": "Bearer nope"}, wantStatus: 401, wantCode: "unauthorized"},
		{name: "no version", headers: map[string]string{"Notion-Version": ""}, wantStatus: 400, wantCode: "missing_version"},
		{name: "other version", headers: map[string]string{"Notion-Version": "2025-09-03"}, wantStatus: 400, wantCode: "validation_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := call(t, srv, "POST", path, `{}`, tt.headers)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tt.wantStatus, body)
			}
			if tt.wantCode != "" && body["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s", body["code"], tt.wantCode)
			}
		})
	}
}

func TestServer_ShapesMatchFixtures(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)

	_, errBody, _ := call(t, srv, "GET", "/v1/pages/x", "", map[string]string{"Authorization": ""})
	if got, want := keys(errBody), keys(fixture(t, "notion-error-401-unauthorized.json")); !slices.Equal(got, want) {
		t.Errorf("error keys = %v, want %v", got, want)
	}

	_, list, _ := call(t, srv, "POST", "/v1/databases/"+notiontest.AnalyticsDB+"/query", `{}`, nil)
	if got, want := keys(list), keys(fixture(t, "notion-query-response-2-empty.json")); !slices.Equal(got, want) {
		t.Errorf("list keys = %v, want %v", got, want)
	}

	_, pg, _ := call(t, srv, "POST", "/v1/pages", createBody(notiontest.AnalyticsDB, `{"Email":{"email":"a@example.com"}}`), nil)
	want := fixture(t, "notion-page-create-response-2.json")
	delete(want, "is_archived") // newer API versions only
	delete(want, "is_locked")
	if got, want := keys(pg), keys(want); !slices.Equal(got, want) {
		t.Errorf("page keys = %v, want %v", got, want)
	}
	email := pg["properties"].(map[string]any)["Email"].(map[string]any)
	if email["type"] != "email" || email["email"] != "a@example.com" || email["id"] == "" {
		t.Errorf("Email property = %v", email)
	}
}

func TestServer_ValidatesProperties(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	long := strings.Repeat("x", 2001)
	many := strings.TrimSuffix(strings.Repeat(`{"text":{"content":"a"}},`, 101), ",")

	tests := []struct {
		name       string
		props      string
		wantStatus int
		wantMsg    string
	}{
		{name: "valid", props: `{"Email":{"email":"a@example.com"},"Email Number":{"number":2},"Status":{"select":{"name":"sent"}},"Sent Date":{"date":{"start":"2025-12-01T10:00:00Z"}},"Template ID":{"rich_text":[{"text":{"content":"5-Day E2"}}]}}`, wantStatus: 200},
		{name: "unknown property", props: `{"email":{"email":"a@example.com"}}`, wantStatus: 400, wantMsg: "email is not a property that exists."},
		{name: "wrong type", props: `{"Email":{"rich_text":[{"text":{"content":"a@example.com"}}]}}`, wantStatus: 400, wantMsg: "Email is expected to be email."},
		{name: "number as string", props: `{"Email Number":{"number":"2"}}`, wantStatus: 400, wantMsg: "number"},
		{name: "segment too long", props: `{"Error Message":{"rich_text":[{"text":{"content":"` + long + `"}}]}}`, wantStatus: 400, wantMsg: "2000"},
		{name: "too many segments", props: `{"Error Message":{"rich_text":[` + many + `]}}`, wantStatus: 400, wantMsg: "100"},
		{name: "empty date", props: `{"Sent Date":{"date":{"start":""}}}`, wantStatus: 400, wantMsg: "ISO 8601"},
		{name: "select with comma", props: `{"Status":{"select":{"name":"a,b"}}}`, wantStatus: 400, wantMsg: "commas"},
		{name: "rich text null", props: `{"Error Message":{"rich_text":null}}`, wantStatus: 400, wantMsg: "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := call(t, srv, "POST", "/v1/pages", createBody(notiontest.AnalyticsDB, tt.props), nil)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tt.wantStatus, body)
			}
			if tt.wantStatus == 400 {
				msg, _ := body["message"].(string)
				if body["code"] != "validation_error" || !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("body = %v, want validation_error mentioning %q", body, tt.wantMsg)
				}
			}
		})
	}
	if got := len(srv.Pages(notiontest.AnalyticsDB)); got != 1 {
		t.Errorf("pages = %d, want 1 (only the valid create)", got)
	}
}

func TestServer_QueryFilters(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	db := notiontest.SequenceDB
	signup := srv.AddPage(db, map[string]any{"Email": "jane@example.com", "Campaign": "Christmas 2025"})
	noShow := srv.AddPage(db, map[string]any{"Email": "jane@example.com", "Template Type": "No-Show Recovery"})
	other := srv.AddPage(db, map[string]any{"Email": "Bob@example.com", "First Name": []string{"Bo", "b"}, "Payment Amount": 2997})
	archived := srv.AddPage(db, map[string]any{"Email": "jane@example.com"})
	srv.Archive(archived)

	tests := []struct {
		name       string
		filter     string
		want       []string
		wantStatus int
	}{
		{name: "email equals", filter: `{"property":"Email","email":{"equals":"jane@example.com"}}`, want: []string{signup, noShow}},
		{name: "email equals is exact", filter: `{"property":"Email","email":{"equals":"bob@example.com"}}`, want: nil},
		{name: "rich text joins segments", filter: `{"property":"First Name","rich_text":{"equals":"Bob"}}`, want: []string{other}},
		{name: "select empty", filter: `{"and":[{"property":"Email","email":{"equals":"jane@example.com"}},{"property":"Template Type","select":{"is_empty":true}}]}`, want: []string{signup}},
		{name: "select equals", filter: `{"property":"Template Type","select":{"equals":"No-Show Recovery"}}`, want: []string{noShow}},
		{name: "or", filter: `{"or":[{"property":"Email","email":{"equals":"Bob@example.com"}},{"property":"Template Type","select":{"equals":"No-Show Recovery"}}]}`, want: []string{noShow, other}},
		{name: "and of or", filter: `{"and":[{"or":[{"property":"Email","email":{"equals":"x@example.com"}},{"property":"Email","email":{"equals":"Bob@example.com"}}]},{"property":"Payment Amount","number":{"equals":2997}}]}`, want: []string{other}},
		{name: "too deep", filter: `{"and":[{"or":[{"and":[{"property":"Email","email":{"equals":"a@b.c"}}]}]}]}`, wantStatus: 400},
		{name: "wrong key for type", filter: `{"property":"Email","rich_text":{"equals":"jane@example.com"}}`, wantStatus: 400},
		{name: "unknown property", filter: `{"property":"email","email":{"equals":"jane@example.com"}}`, wantStatus: 400},
		{name: "unknown condition", filter: `{"property":"Email","email":{"near":"x"}}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := call(t, srv, "POST", "/v1/databases/"+db+"/query", `{"filter":`+tt.filter+`}`, nil)
			if tt.wantStatus != 0 {
				if status != tt.wantStatus || body["code"] != "validation_error" {
					t.Fatalf("status = %d %v, want %d validation_error", status, body, tt.wantStatus)
				}
				return
			}
			if status != 200 {
				t.Fatalf("status = %d: %v", status, body)
			}
			var got []string
			for _, r := range body["results"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("results = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServer_QueryPagination(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	for range 3 {
		srv.AddPage(notiontest.AnalyticsDB, map[string]any{"Email": "a@example.com"})
	}
	path := "/v1/databases/" + notiontest.AnalyticsDB + "/query"

	_, first, _ := call(t, srv, "POST", path, `{"page_size":2}`, nil)
	if len(first["results"].([]any)) != 2 || first["has_more"] != true {
		t.Fatalf("first page = %v", first)
	}
	_, second, _ := call(t, srv, "POST", path, `{"page_size":2,"start_cursor":"`+first["next_cursor"].(string)+`"}`, nil)
	if len(second["results"].([]any)) != 1 || second["has_more"] != false || second["next_cursor"] != nil {
		t.Fatalf("second page = %v", second)
	}
	if status, _, _ := call(t, srv, "POST", path, `{"page_size":101}`, nil); status != 400 {
		t.Errorf("page_size 101: status = %d, want 400", status)
	}
}

func TestServer_Archived(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	id := srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "a@example.com"})
	srv.Archive(id)

	status, body, _ := call(t, srv, "PATCH", "/v1/pages/"+id, `{"properties":{"Segment":{"select":{"name":"URGENT"}}}}`, nil)
	if status != 400 || !strings.Contains(body["message"].(string), "archived") {
		t.Fatalf("edit archived page: %d %v, want 400 about archived", status, body)
	}
	status, body, _ = call(t, srv, "GET", "/v1/pages/"+id, "", nil)
	if status != 200 || body["archived"] != true {
		t.Fatalf("get archived page: %d %v", status, body)
	}

	// "archived": false restores the page, as Notion does.
	status, _, _ = call(t, srv, "PATCH", "/v1/pages/"+id, `{"archived":false,"properties":{"Segment":{"select":{"name":"URGENT"}}}}`, nil)
	if status != 200 {
		t.Fatalf("restore: status %d", status)
	}
	if p, _ := srv.Page(id); p.Archived || p.Text("Segment") != "URGENT" {
		t.Errorf("page after restore = archived %v, segment %q", p.Archived, p.Text("Segment"))
	}
}

func TestServer_Faults(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	create := createBody(notiontest.AnalyticsDB, `{"Email":{"email":"a@example.com"}}`)

	srv.FailNext(1, 429, "rate_limited", 3*time.Second)
	status, body, header := call(t, srv, "POST", "/v1/pages", create, nil)
	if status != 429 || body["code"] != "rate_limited" || header.Get("Retry-After") != "3" {
		t.Fatalf("FailNext: %d %v Retry-After %q", status, body, header.Get("Retry-After"))
	}
	if n := len(srv.Pages(notiontest.AnalyticsDB)); n != 0 {
		t.Fatalf("a failed request wrote %d pages", n)
	}

	srv.LandThenFail(1, 504, "gateway_timeout")
	if status, _, _ := call(t, srv, "POST", "/v1/pages", create, nil); status != 504 {
		t.Fatalf("LandThenFail: status %d", status)
	}
	if n := len(srv.Pages(notiontest.AnalyticsDB)); n != 1 {
		t.Fatalf("LandThenFail wrote %d pages, want 1", n)
	}

	srv.SetDown(true)
	if status, body, _ := call(t, srv, "GET", "/v1/pages/x", "", nil); status != 503 || body["code"] != "service_unavailable" {
		t.Fatalf("down: %d %v", status, body)
	}
	srv.SetDown(false)

	if got := srv.Count("POST", "/v1/pages"); got != 2 {
		t.Errorf("Count(POST /v1/pages) = %d, want 2", got)
	}
	if got := srv.Count("", ""); got != 3 {
		t.Errorf("Count(all) = %d, want 3", got)
	}
	reqs := srv.Requests()
	if !bytes.Equal(reqs[0].Body, []byte(create)) || reqs[0].Status != 429 {
		t.Errorf("first request = %s %d", reqs[0].Body, reqs[0].Status)
	}
}

func TestServer_Helpers(t *testing.T) {
	t.Parallel()
	srv := notiontest.NewLegacy(t)
	body := strings.Repeat("é", 2500)
	id := srv.AddPage(notiontest.EmailTemplatesDB, map[string]any{
		"Template Name": "5-Day E2", "Subject Line": []string{"Hi ", "{{first_name}}"},
		"Email Body HTML": body, "Status": "Active", "Email Number": 2,
	})

	p, ok := srv.Page(id)
	if !ok {
		t.Fatal("page not found")
	}
	if got := p.Text("Subject Line"); got != "Hi {{first_name}}" {
		t.Errorf("subject = %q", got)
	}
	if segs := p.Segments("Email Body HTML"); len(segs) != 2 || strings.Join(segs, "") != body {
		t.Errorf("body segments = %d", len(segs))
	}
	if n, ok := p.Number("Email Number"); !ok || n != 2 {
		t.Errorf("Email Number = %v %v", n, ok)
	}
	if p.Type("Status") != "select" || p.Has("Template Type") {
		t.Errorf("Status type %q, Template Type set %v", p.Type("Status"), p.Has("Template Type"))
	}

	srv.SetProps(id, map[string]any{"Status": "Inactive"})
	if got := srv.Find(notiontest.EmailTemplatesDB, "Status", "Inactive"); len(got) != 1 {
		t.Errorf("Find = %d pages", len(got))
	}
	env := srv.Env()
	if env["NOTION_EMAIL_ANALYTICS_DB_ID"] != notiontest.AnalyticsDB || env["NOTION_BASE_URL"] != srv.URL() {
		t.Errorf("Env = %v", env)
	}
}
