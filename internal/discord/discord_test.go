package discord_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"perfect/internal/discord"
	"perfect/internal/engine"
)

func TestClient_ApplySendsLegacyAlert(t *testing.T) {
	var got map[string]any
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	c := &discord.Client{URL: srv.URL}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	it := discord.Item("o1", discord.Alert{Email: "hot@example.com", Red: 3, At: at})
	if it.Kind != discord.Kind {
		t.Fatalf("kind %q", it.Kind)
	}
	if err := c.Apply(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	embed := got["embeds"].([]any)[0].(map[string]any)
	fields := embed["fields"].([]any)
	if got["content"] != "🚨 **Hot Lead Alert!**" || embed["title"] != "CRITICAL Segment Contact" ||
		embed["color"] != float64(16711680) || fields[0].(map[string]any)["value"] != "hot@example.com" ||
		fields[2].(map[string]any)["value"] != "3" || embed["timestamp"] != "2026-12-01T09:00:00Z" {
		t.Fatalf("body %v", got)
	}

	status = http.StatusInternalServerError
	err := c.Apply(context.Background(), it)
	var pe *engine.PermanentError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("500: %v, want a retryable error", err)
	}
	status = http.StatusBadRequest
	if err := c.Apply(context.Background(), it); !errors.As(err, &pe) {
		t.Fatalf("400: %v, want a permanent error", err)
	}
	bad := it
	bad.Payload = []byte("{")
	if err := c.Apply(context.Background(), bad); !errors.As(err, &pe) {
		t.Fatalf("bad payload: %v, want a permanent error", err)
	}
}
