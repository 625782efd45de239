package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"perfect/internal/prefect"
	"perfect/internal/prefectapi"
)

// PrefectCmd groups the Prefect commands.
type PrefectCmd struct {
	Check       PrefectCheckCmd       `cmd:"" help:"Resolve every configured Prefect deployment and Secret block and say what is missing."`
	Runs        PrefectRunsCmd        `cmd:"" help:"List the flow runs perfect created (or will create) on Prefect."`
	Deployments PrefectDeploymentsCmd `cmd:"" help:"List the deployments perfect's own /api offers, with their ids."`
}

// PrefectCheckCmd checks the Prefect configuration against the server.
type PrefectCheckCmd struct {
	Timeout time.Duration `default:"30s" help:"Give up on the Prefect server after this long."`
}

// Run prints one line per deployment, Secret block and flow; it exits 1
// when the API or a deployment the routes need is missing.
func (c PrefectCheckCmd) Run(e *env) error {
	s, err := prefect.SettingsFromEnv(e.environ)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	if s.APIURL == "" {
		return exitError{code: 2, msg: "PREFECT_API_URL is not set: nothing to check"}
	}
	routes, err := s.Routes()
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	client, err := s.Client(&prefect.ClientConfig{MaxRetries: -1})
	if err != nil {
		return exitError{code: 2, msg: "configuration: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(e.ctx, c.Timeout)
	defer cancel()
	rep := prefect.Check(ctx, client, routes)
	if err := rep.Write(e.stdout); err != nil {
		return err
	}
	if missing := unsetSecretEnv(rep, e.environ); len(missing) > 0 {
		fmt.Fprintf(e.stdout, "neither a Secret block nor the environment provides: %s\n", strings.Join(missing, ", "))
	}
	if !rep.OK() {
		return exitError{code: 1, msg: "prefect check: a required item is missing (see above)"}
	}
	return nil
}

// unsetSecretEnv lists the variables whose block is absent and which the
// environment does not set either. TESTING_MODE is left out: it defaults
// to false.
func unsetSecretEnv(rep prefect.Report, environ []string) []string {
	set := map[string]bool{}
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); v != "" {
			set[k] = true
		}
	}
	var out []string
	for _, it := range rep.Items {
		if it.Kind != "secret" || it.OK {
			continue
		}
		for _, s := range prefect.SecretBlocks {
			if s.Block == it.Name && s.Env != "TESTING_MODE" && !set[s.Env] && !set[s.Env+"_FILE"] {
				out = append(out, s.Env)
			}
		}
	}
	return out
}

// PrefectRunsCmd lists handoffs from the data file.
type PrefectRunsCmd struct {
	File  string `help:"Data file (default $PERFECT_DATA_DIR/perfect.db)."`
	Limit int    `default:"50" help:"Show at most this many."`
	RunID string `name:"run" help:"Show only the flow runs of this run id."`
}

// Run prints the handoffs, newest run first.
func (c PrefectRunsCmd) Run(e *env) error {
	path, err := dataFile(e, c.File)
	if err != nil {
		return err
	}
	db, err := openForInspection(path)
	if err != nil {
		return err
	}
	defer db.Close()
	hs, err := db.ListPrefectHandoffs(c.Limit)
	if c.RunID != "" {
		hs, err = db.PrefectHandoffs(c.RunID)
	}
	if err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RUN\tKEY\tDEPLOYMENT\tSTATE\tSCHEDULED\tFLOW RUN\tATTEMPTS\tLAST ERROR")
	for _, h := range hs {
		sched := "-"
		if h.ScheduledTime != nil {
			sched = h.ScheduledTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", h.RunID, h.Key, h.Deployment, h.State,
			sched, orDash(h.FlowRunID), h.Attempts, orDash(h.LastError))
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// PrefectDeploymentsCmd prints the ids of perfect's own deployments.
type PrefectDeploymentsCmd struct{}

// Run prints "flow/deployment id" per offered deployment.
func (PrefectDeploymentsCmd) Run(e *env) error {
	s, err := prefect.SettingsFromEnv(e.environ)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	ids, err := prefectapi.ParseDeploymentIDs(s.DeploymentIDs)
	if err != nil {
		return exitError{code: 2, msg: "configuration: " + err.Error()}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DEPLOYMENT\tID\tSOURCE")
	for _, flow := range prefectapi.Offered() {
		id, src := prefectapi.DeploymentID(flow), "derived"
		if v, ok := ids[flow]; ok {
			id, src = v, "PREFECT_DEPLOYMENT_IDS"
		}
		fmt.Fprintf(w, "%s/%s\t%s\t%s\n", flow, flow, id, src)
	}
	return w.Flush()
}
