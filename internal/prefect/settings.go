package prefect

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Settings are the Prefect-related environment variables. They can be
// embedded (without prefix) in the service configuration, or read on
// their own with SettingsFromEnv.
type Settings struct {
	// APIURL is PREFECT_API_URL; empty means Prefect is not used.
	APIURL     string        `env:"PREFECT_API_URL"`
	APIKey     string        `env:"PREFECT_API_KEY"`
	AuthString string        `env:"PREFECT_API_AUTH_STRING"`
	Timeout    time.Duration `env:"PREFECT_TIMEOUT" envDefault:"15s"`
	// DeploymentTTL is how long deployment lookups are cached.
	DeploymentTTL time.Duration `env:"PREFECT_DEPLOYMENT_CACHE_TTL" envDefault:"5m"`
	// Backends is FLOW_BACKENDS (see ParseBackends).
	Backends string `env:"FLOW_BACKENDS"`
	// DeploymentIDs is PREFECT_DEPLOYMENT_IDS, the ids perfect's own
	// Prefect API answers with ("christmas-signup-handler=<uuid>,...").
	DeploymentIDs string `env:"PREFECT_DEPLOYMENT_IDS"`
	// ServerAuthString, when set, makes perfect's own Prefect API demand
	// basic auth, as PREFECT_SERVER_API_AUTH_STRING does on a Prefect server.
	ServerAuthString string `env:"PREFECT_SERVER_API_AUTH_STRING"`
}

// SettingsFromEnv reads Settings from environ (os.Environ form). Secrets
// may be given as NAME_FILE.
func SettingsFromEnv(environ []string) (Settings, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for _, name := range []string{"PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING"} {
		path := vars[name+"_FILE"]
		if vars[name] != "" || path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return Settings{}, fmt.Errorf("configuration: %s_FILE: %w", name, err)
		}
		vars[name] = strings.TrimRight(string(b), "\r\n")
	}
	var s Settings
	if err := env.ParseWithOptions(&s, env.Options{Environment: vars}); err != nil {
		return Settings{}, fmt.Errorf("configuration: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("configuration: %w", err)
	}
	return s, nil
}

// Validate checks that routes to Prefect come with an API URL and that
// the routes and the URL parse.
func (s Settings) Validate() error {
	routes, err := ParseBackends(s.Backends)
	if err != nil {
		return err
	}
	if routes.Any() && s.APIURL == "" {
		return fmt.Errorf("FLOW_BACKENDS routes %s to prefect but PREFECT_API_URL is not set", routes)
	}
	if s.APIURL != "" {
		if _, err := s.Client(nil); err != nil {
			return err
		}
	}
	return nil
}

// Routes parses Backends.
func (s Settings) Routes() (Routes, error) { return ParseBackends(s.Backends) }

// Client builds the API client; cfg may set logging, clock or retries.
func (s Settings) Client(cfg *ClientConfig) (*Client, error) {
	c := ClientConfig{}
	if cfg != nil {
		c = *cfg
	}
	c.BaseURL, c.APIKey, c.AuthString = s.APIURL, s.APIKey, s.AuthString
	if c.Timeout == 0 {
		c.Timeout = s.Timeout
	}
	if c.DeploymentTTL == 0 {
		c.DeploymentTTL = s.DeploymentTTL
	}
	return NewClient(c)
}
