// Package discord posts the hot-lead alert of a CRITICAL assessment to a
// Discord webhook, in the legacy message shape (legacy §1.5).
package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"perfect/internal/engine"
	"perfect/store"
)

// Kind is the outbox kind of an alert.
const Kind = "discord.alert"

// Alert is the outbox payload.
type Alert struct {
	Email string    `json:"email"`
	Red   int       `json:"red_systems"`
	At    time.Time `json:"at"`
}

// Item builds the outbox item of an alert.
func Item(id string, a Alert) store.OutboxItem {
	payload, _ := json.Marshal(a)
	return store.OutboxItem{ID: id, Kind: Kind, Payload: payload, CreatedAt: a.At, NextAt: a.At}
}

// Client posts alerts.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Apply sends the alert of an outbox item.
func (c *Client) Apply(ctx context.Context, it store.OutboxItem) error {
	var a Alert
	if err := json.Unmarshal(it.Payload, &a); err != nil {
		return &engine.PermanentError{Err: fmt.Errorf("decode alert: %w", err)}
	}
	return c.Send(ctx, a)
}

// Send posts one alert.
func (c *Client) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(message(a))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return &engine.PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("post discord alert: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("post discord alert: status %d", resp.StatusCode)
	default:
		return &engine.PermanentError{Err: fmt.Errorf("post discord alert: status %d", resp.StatusCode)}
	}
}

func message(a Alert) map[string]any {
	return map[string]any{
		"content": "🚨 **Hot Lead Alert!**",
		"embeds": []map[string]any{{
			"title":       "CRITICAL Segment Contact",
			"description": "New contact needs immediate attention",
			"color":       16711680,
			"fields": []map[string]any{
				{"name": "Email", "value": a.Email, "inline": true},
				{"name": "Segment", "value": "CRITICAL", "inline": true},
				{"name": "Red Systems", "value": fmt.Sprint(a.Red), "inline": true},
			},
			"footer":    map[string]string{"text": "BusOS Email Sequence"},
			"timestamp": a.At.UTC().Format(time.RFC3339),
		}},
	}
}
