package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"perfect/flows"
	"perfect/internal/templates"
	"perfect/store"
)

// Renderer turns a step into the email that will be sent.
type Renderer struct {
	Templates templates.Source
	Campaign  flows.Campaign
	From      string
	ReplyTo   string
	// Unsubscribe returns the contact's unsubscribe link and the headers
	// that go with it; nil leaves both out.
	Unsubscribe func(email string) (url string, headers map[string]string)
}

// Render fetches the step's template and fills it from the run's params.
func (r *Renderer) Render(ctx context.Context, run store.Run, s store.Step, now time.Time) (*store.Rendered, error) {
	params, err := DecodeParams(run.Params)
	if err != nil {
		return nil, fmt.Errorf("decode params of run %s: %w", run.ID, err)
	}
	tpl, err := r.Templates.Get(ctx, s.Template)
	if err != nil {
		return nil, err
	}
	vars := flows.Variables(run.Flow, params, r.Campaign, now)
	vars["email_number"] = fmt.Sprint(s.EmailNumber)
	var headers map[string]string
	if r.Unsubscribe != nil {
		vars["unsubscribe_url"], headers = r.Unsubscribe(s.Email)
	}
	out := templates.Render(tpl, vars)
	return &store.Rendered{
		From: r.From, To: s.Email, ReplyTo: r.ReplyTo,
		Subject: out.Subject, HTML: out.HTML, Text: out.Text, Headers: headers,
	}, nil
}

// DecodeParams reads stored run params, keeping numbers exact.
func DecodeParams(raw []byte) (map[string]any, error) {
	params := map[string]any{}
	if len(raw) == 0 {
		return params, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		return nil, err
	}
	return params, nil
}
