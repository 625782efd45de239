package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"perfect/internal/engine"
	"perfect/internal/webhook"
	"perfect/store"
)

// SuppressCmd manages the suppression list: addresses that never receive
// marketing email again (unsubscribes, hard bounces, complaints).
type SuppressCmd struct {
	Ls  SuppressLsCmd  `cmd:"" help:"List suppressed addresses."`
	Add SuppressAddCmd `cmd:"" help:"Suppress an address and cancel its planned marketing emails."`
	Rm  SuppressRmCmd  `cmd:"" help:"Remove an address from the list."`
}

// SuppressLsCmd lists the list.
type SuppressLsCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// SuppressAddCmd adds an address.
type SuppressAddCmd struct {
	Email  string `arg:"" help:"Address."`
	Reason string `default:"admin" help:"Reason recorded."`
}

// SuppressRmCmd removes an address.
type SuppressRmCmd struct {
	Email string `arg:"" help:"Address."`
}

// Run lists.
func (c SuppressLsCmd) Run(e *env) error {
	qc, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out struct {
		Suppressions []store.Suppression `json:"suppressions"`
	}
	err = qc.call(http.MethodGet, "/admin/api/suppressions", nil, &out)
	if errors.Is(err, errNoServer) {
		err = qc.withFile(false, func(db *store.DB, _ *engine.Engine) error {
			var err error
			out.Suppressions, err = db.ListSuppressed(100000)
			return err
		})
	}
	if err != nil {
		return err
	}
	if c.JSON {
		if out.Suppressions == nil {
			out.Suppressions = []store.Suppression{}
		}
		return printJSON(e.stdout, out.Suppressions)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tREASON\tSOURCE\tSINCE")
	for _, s := range out.Suppressions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Email, s.Reason, s.Source, s.At.Format(time.RFC3339))
	}
	return tw.Flush()
}

// Run adds.
func (c SuppressAddCmd) Run(e *env) error {
	if _, err := webhook.NormalizeEmail(c.Email); err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("%q is not an email address: %v", c.Email, err)}
	}
	qc, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out struct {
		Cancelled int `json:"cancelled"`
	}
	err = qc.call(http.MethodPost, "/admin/api/suppressions",
		map[string]string{"email": c.Email, "reason": c.Reason, "by": cliActor}, &out)
	if errors.Is(err, errNoServer) {
		err = qc.withFile(true, func(db *store.DB, _ *engine.Engine) error {
			_, cancelled, err := db.Suppress(store.Suppression{Email: c.Email, Reason: c.Reason,
				Source: "cli", By: cliActor, At: time.Now().UTC()})
			out.Cancelled = len(cancelled)
			return err
		})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "suppressed %s (%d planned email(s) cancelled)\n", c.Email, out.Cancelled)
	return nil
}

// Run removes.
func (c SuppressRmCmd) Run(e *env) error {
	qc, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out map[string]any
	err = qc.call(http.MethodDelete, "/admin/api/suppressions/"+url.PathEscape(c.Email), nil, &out)
	if errors.Is(err, errNoServer) {
		err = qc.withFile(true, func(db *store.DB, _ *engine.Engine) error {
			if err := db.Unsuppress(c.Email); err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s from the suppression list\n", c.Email)
	return nil
}
