package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	composeFile    = "docker-compose.coolify.yml"
	webhookService = "perfect-webhook"
	workerService  = "prefect-worker"
	// routingVar is Coolify's magic variable: make a domain for the service
	// perfect-webhook and proxy it to container port 8000.
	routingVar = "SERVICE_FQDN_PERFECT_WEBHOOK_8000"
)

// settings is every environment variable perfect serve reads in production,
// as documented in the README's configuration table.
var settings = []string{
	"PORT", "PERFECT_DATA_DIR", "LOG_LEVEL", "LOG_FORMAT", "TESTING_MODE",
	"RESEND_API_KEY", "RESEND_BASE_URL", "RESEND_RATE_LIMIT", "EMAIL_FROM", "EMAIL_REPLY_TO",
	"SEND_CONCURRENCY", "SEND_MAX_ATTEMPTS",
	"TEMPLATES_DIR", "ADMIN_TOKEN",
	"NOTION_TOKEN", "NOTION_EMAIL_TEMPLATES_DB_ID", "NOTION_EMAIL_SEQUENCE_DB_ID",
	"NOTION_BUSINESSX_DB_ID", "NOTION_EMAIL_ANALYTICS_DB_ID", "NOTION_CUSTOMER_PROJECTS_DB_ID",
	"NOTION_CONTACTS_DB_ID", "NOTION_TEMPLATES_DB_ID", "NOTION_RATE_LIMIT", "TEMPLATE_CACHE_TTL",
	"DISCORD_WEBHOOK_URL",
	"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "FLOW_BACKENDS",
	"CALCOM_WEBHOOK_SECRET", "CALENDLY_WEBHOOK_SIGNING_KEY", "WEBHOOK_TOKEN", "CORS_ORIGINS",
	"UNSUBSCRIBE_SECRET", "PUBLIC_URL",
	"BOLT_OPEN_TIMEOUT", "SHUTDOWN_TIMEOUT", "MAX_LATENESS",
	"CAMPAIGN_DEADLINE", "CAMPAIGN_DEADLINE_LABEL", "CAMPAIGN_BOOKING_LINK",
	"CAMPAIGN_RESULTS_LINK", "CAMPAIGN_SPOTS_REMAINING", "CAMPAIGN_BOOKINGS_COUNT",
	"ADMIN_TIMEZONE",
}

// requiredSecrets must be set before Coolify deploys: written ${VAR:?}.
var requiredSecrets = []string{"ADMIN_TOKEN", "UNSUBSCRIBE_SECRET"}

// fixedSettings are tied to the compose file itself (the routed port, the
// volume), so they are literal values rather than variables.
var fixedSettings = map[string]string{"PORT": "8000", "PERFECT_DATA_DIR": "/data"}

// derivedSettings take their value from a Coolify magic variable.
var derivedSettings = map[string]string{"PUBLIC_URL": "SERVICE_URL_PERFECT_WEBHOOK"}

// productionEnv is the least environment that deploys: the required secrets.
func productionEnv() map[string]string {
	return map[string]string{
		"ADMIN_TOKEN":        "admin-token-from-coolify",
		"UNSUBSCRIBE_SECRET": "unsubscribe-secret-from-coolify",
	}
}

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatalf("repository root: %v", err)
	}
	return root
}

// loadProject loads the compose file as docker compose would, with exactly
// the given environment (never the test process's own) and profiles.
func loadProject(tb testing.TB, env map[string]string, profiles ...string) (*types.Project, error) {
	tb.Helper()
	root := repoRoot(tb)
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithName("perfect"),
		cli.WithWorkingDirectory(root),
		cli.WithEnv(environ),
	}
	if len(profiles) > 0 {
		opts = append(opts, cli.WithProfiles(profiles))
	}
	po, err := cli.NewProjectOptions([]string{filepath.Join(root, composeFile)}, opts...)
	if err != nil {
		tb.Fatalf("compose options: %v", err)
	}
	return cli.ProjectFromOptions(context.Background(), po)
}

func mustLoad(tb testing.TB, env map[string]string, profiles ...string) *types.Project {
	tb.Helper()
	p, err := loadProject(tb, env, profiles...)
	if err != nil {
		tb.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

func webhook(tb testing.TB, p *types.Project) types.ServiceConfig {
	tb.Helper()
	svc, ok := p.Services[webhookService]
	if !ok {
		tb.Fatalf("no service %q; services: %v", webhookService, p.ServiceNames())
	}
	return svc
}

func envValue(svc types.ServiceConfig, name string) (string, bool) {
	v, ok := svc.Environment[name]
	if !ok || v == nil {
		return "", ok
	}
	return *v, true
}

func durationEnv(tb testing.TB, svc types.ServiceConfig, name string) time.Duration {
	tb.Helper()
	v, _ := envValue(svc, name)
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("%s=%q is not a duration: %v", name, v, err)
	}
	return d
}

func TestComposeWebhookService(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, productionEnv())
	svc := webhook(t, p)

	t.Run("built from the Dockerfile at the root", func(t *testing.T) {
		if svc.Build == nil {
			t.Fatal("no build section")
		}
		if got, want := filepath.Clean(svc.Build.Context), repoRoot(t); got != want {
			t.Errorf("build context = %q, want %q", got, want)
		}
		if svc.Build.Dockerfile != "Dockerfile" {
			t.Errorf("dockerfile = %q, want Dockerfile", svc.Build.Dockerfile)
		}
		if _, err := os.Stat(filepath.Join(repoRoot(t), svc.Build.Dockerfile)); err != nil {
			t.Errorf("dockerfile: %v", err)
		}
	})

	t.Run("no published host ports", func(t *testing.T) {
		if len(svc.Ports) > 0 {
			t.Errorf("ports = %+v: Coolify publishes them on the host, past its proxy", svc.Ports)
		}
		if !slices.Contains([]string(svc.Expose), "8000") {
			t.Errorf("expose = %v, want 8000", svc.Expose)
		}
	})

	t.Run("named volume on /data", func(t *testing.T) {
		var found bool
		for _, v := range svc.Volumes {
			if v.Target == "/data" {
				found = true
				if v.Type != types.VolumeTypeVolume || v.Source != "perfect-data" {
					t.Errorf("/data is %s %q, want the named volume perfect-data", v.Type, v.Source)
				}
			}
		}
		if !found {
			t.Errorf("no volume on /data: %+v", svc.Volumes)
		}
		if _, ok := p.Volumes["perfect-data"]; !ok {
			t.Errorf("top-level volumes %v lack perfect-data", p.VolumeNames())
		}
	})

	t.Run("health check runs the binary", func(t *testing.T) {
		hc := svc.HealthCheck
		if hc == nil || hc.Disable {
			t.Fatal("no health check")
		}
		want := types.HealthCheckTest{"CMD", "/perfect", "healthcheck"}
		if !slices.Equal(hc.Test, want) {
			t.Errorf("test = %q, want %q", hc.Test, want)
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || hc.StartPeriod == nil {
			t.Fatalf("interval, timeout, retries and start_period must all be set: %+v", hc)
		}
		if time.Duration(*hc.Timeout) >= time.Duration(*hc.Interval) {
			t.Errorf("timeout %s must be shorter than interval %s", *hc.Timeout, *hc.Interval)
		}
		// A new container waits up to BOLT_OPEN_TIMEOUT for the old one's data
		// file; it must not be marked unhealthy while it waits.
		if bolt := durationEnv(t, svc, "BOLT_OPEN_TIMEOUT"); time.Duration(*hc.StartPeriod) <= bolt {
			t.Errorf("start_period %s must exceed BOLT_OPEN_TIMEOUT %s", *hc.StartPeriod, bolt)
		}
	})

	t.Run("restart unless stopped", func(t *testing.T) {
		if svc.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("restart = %q, want %q", svc.Restart, types.RestartPolicyUnlessStopped)
		}
	})

	t.Run("stop grace covers the shutdown timeout", func(t *testing.T) {
		if svc.StopGracePeriod == nil {
			t.Fatal("no stop_grace_period: docker kills after 10s, mid-send")
		}
		grace := time.Duration(*svc.StopGracePeriod)
		shutdown := durationEnv(t, svc, "SHUTDOWN_TIMEOUT")
		if grace < 30*time.Second || grace < shutdown+10*time.Second {
			t.Errorf("stop_grace_period %s: want >= 30s and >= SHUTDOWN_TIMEOUT %s + 10s", grace, shutdown)
		}
		if svc.StopSignal != "" && svc.StopSignal != "SIGTERM" {
			t.Errorf("stop_signal = %q, want SIGTERM", svc.StopSignal)
		}
	})

	t.Run("Coolify routes the domain to port 8000", func(t *testing.T) {
		if _, ok := svc.Environment[routingVar]; !ok {
			t.Errorf("environment lacks %s", routingVar)
		}
		if port, _ := envValue(svc, "PORT"); !strings.HasSuffix(routingVar, "_"+port) {
			t.Errorf("PORT=%s does not match %s", port, routingVar)
		}
	})
}

func TestComposeEnvironmentListsEverySetting(t *testing.T) {
	t.Parallel()
	svc := webhook(t, mustLoad(t, productionEnv()))

	for _, name := range settings {
		if _, ok := svc.Environment[name]; !ok {
			t.Errorf("environment of %s lacks %s", webhookService, name)
		}
	}
	for name, want := range fixedSettings {
		if got, _ := envValue(svc, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// Every setting that is not fixed must follow the variable of the same name,
// so that it shows up, and can be changed, in Coolify's environment tab.
func TestComposeSettingsFollowTheirVariables(t *testing.T) {
	t.Parallel()
	env := productionEnv()
	for _, name := range settings {
		if _, fixed := fixedSettings[name]; fixed {
			continue
		}
		env[name] = "value-of-" + name
	}
	for name, from := range derivedSettings {
		env[from] = "https://value-of-" + from
		delete(env, name)
	}
	svc := webhook(t, mustLoad(t, env))

	for _, name := range settings {
		want, ok := env[name]
		if from, derived := derivedSettings[name]; derived {
			want, ok = env[from], true
		}
		if !ok {
			continue
		}
		if got, _ := envValue(svc, name); got != want {
			t.Errorf("%s = %q, want %q (from the environment)", name, got, want)
		}
	}
}

func TestComposeDefaults(t *testing.T) {
	t.Parallel()
	svc := webhook(t, mustLoad(t, productionEnv()))

	tests := []struct {
		name string
		want string
	}{
		{name: "TESTING_MODE", want: "false"},
		{name: "LOG_FORMAT", want: "json"},
		{name: "LOG_LEVEL", want: "info"},
		{name: "RESEND_API_KEY", want: ""},
		{name: "NOTION_TOKEN", want: ""},
		{name: "PUBLIC_URL", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := envValue(svc, tt.name); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	t.Parallel()
	for _, name := range requiredSecrets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := productionEnv()
			delete(env, name)
			_, err := loadProject(t, env)
			if err == nil {
				t.Fatalf("loaded without %s; want a required-variable error", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}

			env[name] = ""
			if _, err := loadProject(t, env); err == nil {
				t.Errorf("loaded with %s empty; want a required-variable error", name)
			}
		})
	}
}

// Coolify reads ${VAR:?text} as "required, prefilled with text": a message
// there would become the secret's value. Required variables must be ${VAR:?}.
func TestComposeRequiredVariablesCarryNoText(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`\$\{[A-Za-z0-9_]+:?\?[^}]+\}`).Find(raw); m != nil {
		t.Errorf("%s: %s carries text after ?, which Coolify would use as the value", composeFile, m)
	}
	for _, name := range requiredSecrets {
		if want := name + ": ${" + name + ":?}"; !strings.Contains(string(raw), want) {
			t.Errorf("%s: want the line %q", composeFile, want)
		}
	}
}

func TestComposePrefectWorkerIsOptional(t *testing.T) {
	t.Parallel()

	t.Run("default profile runs only the webhook", func(t *testing.T) {
		p := mustLoad(t, productionEnv())
		if got := p.ServiceNames(); !slices.Equal(got, []string{webhookService}) {
			t.Errorf("services = %v, want [%s]", got, webhookService)
		}
		w, ok := p.DisabledServices[workerService]
		if !ok {
			t.Fatalf("no disabled service %q", workerService)
		}
		if !slices.Equal(w.Profiles, []string{"prefect"}) {
			t.Errorf("profiles = %v, want [prefect]", w.Profiles)
		}
	})

	t.Run("prefect profile adds the worker", func(t *testing.T) {
		env := productionEnv()
		env["PREFECT_API_URL"] = "https://prefect.example.com/api"
		p := mustLoad(t, env, "prefect")
		w, ok := p.Services[workerService]
		if !ok {
			t.Fatalf("no service %q with the prefect profile; services: %v", workerService, p.ServiceNames())
		}
		if w.Image != "prefecthq/prefect:3.4.1-python3.11" {
			t.Errorf("image = %q", w.Image)
		}
		wantCmd := types.ShellCommand{"prefect", "worker", "start", "--pool", "default", "--name", "perfect-worker"}
		if !slices.Equal(w.Command, wantCmd) {
			t.Errorf("command = %q, want %q", w.Command, wantCmd)
		}
		if got, _ := envValue(w, "PREFECT_API_URL"); got != env["PREFECT_API_URL"] {
			t.Errorf("PREFECT_API_URL = %q, want %q", got, env["PREFECT_API_URL"])
		}
		if len(w.Ports) > 0 {
			t.Errorf("worker publishes ports %+v", w.Ports)
		}
		if _, ok := p.Services[webhookService]; !ok {
			t.Errorf("the prefect profile dropped %s", webhookService)
		}
	})
}
