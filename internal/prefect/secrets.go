package prefect

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SecretBlock maps a legacy Prefect Secret block to the environment
// variable it stands in for.
type SecretBlock struct {
	Block string
	Env   string
}

// SecretBlocks are the legacy Secret blocks perfect reads (legacy §7.2).
// discord-webhook-url is left out: the legacy code never read it.
var SecretBlocks = []SecretBlock{
	{Block: "notion-token", Env: "NOTION_TOKEN"},
	{Block: "notion-email-templates-db-id", Env: "NOTION_EMAIL_TEMPLATES_DB_ID"},
	{Block: "notion-email-sequence-db-id", Env: "NOTION_EMAIL_SEQUENCE_DB_ID"},
	{Block: "notion-businessx-db-id", Env: "NOTION_BUSINESSX_DB_ID"},
	{Block: "notion-customer-projects-db-id", Env: "NOTION_CUSTOMER_PROJECTS_DB_ID"},
	{Block: "notion-email-analytics-db-id", Env: "NOTION_EMAIL_ANALYTICS_DB_ID"},
	{Block: "resend-api-key", Env: "RESEND_API_KEY"},
	{Block: "testing-mode", Env: "TESTING_MODE"},
}

// SecretBlockNames lists the block names of SecretBlocks.
func SecretBlockNames() []string {
	names := make([]string, len(SecretBlocks))
	for i, s := range SecretBlocks {
		names[i] = s.Block
	}
	return names
}

// envFor returns the environment variable of a block.
func envFor(block string) string {
	for _, s := range SecretBlocks {
		if s.Block == block {
			return s.Env
		}
	}
	return strings.ToUpper(strings.ReplaceAll(block, "-", "_"))
}

// LoadSecrets reads Secret blocks by name and returns their values keyed
// by environment variable name (see SecretBlocks). A block that does not
// exist is left out; other failures are returned together, with the
// values that could be read. Each block is read on its own: unlike the
// legacy loader, one missing Notion block does not discard the others.
func LoadSecrets(ctx context.Context, c *Client, names []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, name := range names {
		v, err := c.ReadSecret(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("secret block %s: %w", name, err))
			continue
		}
		out[envFor(name)] = v
	}
	return out, errors.Join(errs...)
}

// FillEnv reads, once, the Secret blocks whose environment variable is
// missing from environ (unset or empty, and no NAME_FILE given) and
// returns environ with those values appended, and the names filled. Call
// it at start-up, before the configuration is loaded, when PREFECT_API_URL
// is set (decisions §7).
func FillEnv(ctx context.Context, c *Client, environ []string) ([]string, []string, error) {
	set := map[string]bool{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if v != "" {
			set[k] = true
		}
	}
	var want []string
	for _, s := range SecretBlocks {
		if !set[s.Env] && !set[s.Env+"_FILE"] {
			want = append(want, s.Block)
		}
	}
	if len(want) == 0 {
		return environ, nil, nil
	}
	vals, err := LoadSecrets(ctx, c, want)
	out := append([]string(nil), environ...)
	var filled []string
	for _, s := range SecretBlocks {
		if v, ok := vals[s.Env]; ok {
			out = append(out, s.Env+"="+v)
			filled = append(filled, s.Env)
		}
	}
	return out, filled, err
}
