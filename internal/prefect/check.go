package prefect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"perfect/flows"
)

// CheckItem is one line of a Check report.
type CheckItem struct {
	// Kind is "api", "deployment", "secret" or "route".
	Kind string `json:"kind"`
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Required items make the report fail when not OK. A missing Secret
	// block is not required: its environment variable may be set instead.
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
}

// Report is the result of Check.
type Report struct {
	URL   string      `json:"url"`
	Items []CheckItem `json:"items"`
}

// OK reports whether every required item is OK.
func (r Report) OK() bool {
	for _, it := range r.Items {
		if it.Required && !it.OK {
			return false
		}
	}
	return true
}

// Write prints the report, one line per item.
func (r Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "prefect api %s\n", r.URL)
	for _, it := range r.Items {
		mark := "ok     "
		switch {
		case !it.OK && it.Required:
			mark = "MISSING"
		case !it.OK:
			mark = "absent "
		}
		fmt.Fprintf(&b, "  %s %-10s %-55s %s\n", mark, it.Kind, it.Name, it.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Check resolves every deployment the routes use and every legacy Secret
// block, and says how each flow is run.
func Check(ctx context.Context, c *Client, routes Routes) Report {
	r := Report{URL: c.BaseURL()}
	api := CheckItem{Kind: "api", Name: "GET /health", Required: true, OK: true, Detail: "reachable"}
	if err := c.Health(ctx); err != nil {
		api.OK, api.Detail = false, err.Error()
	}
	r.Items = append(r.Items, api)
	for _, full := range routes.Deployments() {
		r.Items = append(r.Items, checkDeployment(ctx, c, full))
	}
	for _, s := range SecretBlocks {
		r.Items = append(r.Items, checkSecret(ctx, c, s))
	}
	r.Items = append(r.Items, routeItems(routes)...)
	return r
}

func checkDeployment(ctx context.Context, c *Client, full string) CheckItem {
	it := CheckItem{Kind: "deployment", Name: full, Required: true}
	flow, name, _ := strings.Cut(full, "/")
	d, err := c.ReadDeploymentByName(ctx, flow, name)
	switch {
	case errors.Is(err, ErrNotFound):
		it.Detail = "not found: deploy it on the Prefect server"
	case err != nil:
		it.Detail = err.Error()
	default:
		it.OK, it.Detail = true, "id "+d.ID
		if d.Paused {
			it.OK, it.Detail = false, "id "+d.ID+" is paused"
		}
	}
	return it
}

func checkSecret(ctx context.Context, c *Client, s SecretBlock) CheckItem {
	it := CheckItem{Kind: "secret", Name: s.Block}
	_, err := c.ReadSecret(ctx, s.Block)
	switch {
	case errors.Is(err, ErrNotFound):
		it.Detail = "not found: " + s.Env + " must come from the environment"
	case err != nil:
		it.Detail = err.Error()
	default:
		// Never print the value.
		it.OK, it.Detail = true, "readable (used when "+s.Env+" is unset)"
	}
	return it
}

// routeItems says how each flow runs under the routes.
func routeItems(routes Routes) []CheckItem {
	var items []CheckItem
	for _, f := range flows.All() {
		it := CheckItem{Kind: "route", Name: f.Name, OK: true}
		switch routes.Mode(f.Name) {
		case Handler:
			it.Detail = "handed to Prefect deployment " + f.Name + "/" + f.Name
		case SendEmail:
			it.Detail = "planned here; each email is a run of " + SendEmailDeployment
		default:
			it.Detail = "embedded"
			if routes[flows.ChristmasSendMail] == BackendPrefect && len(f.Steps) > 0 {
				it.Detail += " (the legacy sender only renders the 5-Day templates)"
			}
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return items
}
