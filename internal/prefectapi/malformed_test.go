package prefectapi_test

import (
	"net/http"
	"testing"

	"perfect/internal/prefectapi"
)

func TestAPI_MalformedBodiesAre422(t *testing.T) {
	s := newServer(t, prefectapi.Config{})
	for _, path := range []string{"/api/flow_runs/filter", "/api/flow_runs/00000000-0000-0000-0000-000000000000/set_state",
		createPath("christmas-signup-handler")} {
		for _, body := range []string{"{bad", "[", `"text"`} {
			code, raw := s.call(t, http.MethodPost, path, body)
			if code != http.StatusUnprocessableEntity && code != http.StatusNotFound {
				t.Errorf("POST %s %q: %d %s, want 422", path, body, code, raw)
			}
		}
	}
}
