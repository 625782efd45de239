package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"perfect/flows"
	"perfect/internal/config"
	"perfect/internal/notion"
	"perfect/internal/templates"
)

// TemplatesCmd groups the template commands.
type TemplatesCmd struct {
	Check TemplatesCheckCmd `cmd:"" help:"List every template the flows use, where it comes from, and placeholders no flow supplies."`
}

// TemplatesCheckCmd checks the templates.
type TemplatesCheckCmd struct{}

// Run prints one row per template name and exits 1 when one is missing.
func (TemplatesCheckCmd) Run(e *env) error {
	cfg, err := config.Load(e.environ)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	// With Notion configured, serve reads templates only from Notion.
	np, err := newNotion(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	src, kind, err := checkSource(cfg, np)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	known := suppliedVariables()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TEMPLATE\tSOURCE (%s)\tUNSUPPLIED PLACEHOLDERS\n", kind)
	missing := 0
	var notionMissing *notion.TemplateError
	for _, name := range flows.TemplateNames() {
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		t, err := src.Get(ctx, name)
		cancel()
		switch {
		case errors.As(err, &notionMissing):
			missing++
			fmt.Fprintf(tw, "%s\tMISSING: %s\t\n", name, notionMissing.Reason)
			continue
		case errors.Is(err, templates.ErrNotFound):
			missing++
			fmt.Fprintf(tw, "%s\tMISSING\t\n", name)
			continue
		case err != nil && np != nil:
			// Notion is unreachable or refuses the token: every other name
			// would fail the same way, slowly.
			_ = tw.Flush()
			return exitError{code: 1, msg: err.Error()}
		case err != nil:
			missing++
			fmt.Fprintf(tw, "%s\tERROR: %v\t\n", name, err)
			continue
		}
		fmt.Fprintf(tw, "%s\tok\t%v\n", name, templates.Unknown(t, known))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if missing > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d template(s) missing", missing)}
	}
	return nil
}

// suppliedVariables is every variable some flow supplies, with the values
// of an empty run, plus the ones the engine adds.
func suppliedVariables() map[string]string {
	vars := map[string]string{"unsubscribe_url": "", "email_number": ""}
	for _, f := range flows.All() {
		for k, v := range flows.Variables(f.Name, map[string]any{}, flows.DefaultCampaign(), time.Now()) {
			vars[k] = v
		}
	}
	return vars
}
