package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"perfect/store"
)

var fuzzRoutes = []string{
	"/webhook/signup", "/webhook/assessment", "/webhook/christmas-signup", "/webhook/calcom-booking",
	"/webhook/calendly-noshow", "/webhook/calendly", "/webhook/postcall-maybe", "/webhook/onboarding-start",
}

// FuzzWebhooks posts arbitrary bodies to every webhook: no input may cause
// a 5xx, and every accepted start is stored whole (its run and all the
// steps it announced).
func FuzzWebhooks(f *testing.F) {
	for _, dir := range []string{"legacy", "providers"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*.json"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				continue
			}
			var entries map[string]json.RawMessage
			if dir == "legacy" && json.Unmarshal(b, &entries) == nil {
				for _, e := range entries {
					for i := range fuzzRoutes {
						f.Add(uint8(i), []byte(e))
					}
				}
				continue
			}
			for i := range fuzzRoutes {
				f.Add(uint8(i), b)
			}
		}
	}
	fs := newServer(f, false, "")
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		resp, err := http.Post(fs.srv.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s answered %d: %s", path, resp.StatusCode, data)
		}
		if resp.StatusCode != http.StatusOK {
			return
		}
		var ans struct {
			RunID     string `json:"run_id"`
			Steps     int    `json:"steps_planned"`
			Duplicate bool   `json:"duplicate"`
		}
		if json.Unmarshal(data, &ans) != nil || ans.RunID == "" {
			return // ignored or processed events start nothing
		}
		if _, err := fs.db.GetRun(ans.RunID); err != nil {
			t.Fatalf("%s accepted run %s but it is not stored: %v", path, ans.RunID, err)
		}
		if ans.Duplicate {
			return
		}
		steps, err := fs.db.List(store.Filter{RunID: ans.RunID, Status: store.StatusPlanned, Limit: 100})
		if err != nil || len(steps) != ans.Steps {
			t.Fatalf("%s: run %s has %d planned steps stored, answer said %d (%v)", path, ans.RunID, len(steps), ans.Steps, err)
		}
	})
}
