package deploy

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"perfect/internal/config"
)

// notDeployed are configuration variables that must not appear in the
// production compose file.
var notDeployed = map[string]string{
	"PERFECT_FAKE_CLOCK": "end-to-end tests only: it moves the service's clock",
}

// configNames lists the env tags of config.Config, nested structs included.
func configNames() []string {
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(f.Type)
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				names = append(names, name)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	sort.Strings(names)
	return names
}

// Every variable the binary reads is listed in the compose file, so that it
// can be set from Coolify's UI.
func TestComposeCoversEveryConfigVariable(t *testing.T) {
	t.Parallel()
	svc := webhook(t, mustLoad(t, productionEnv()))

	names := configNames()
	if len(names) < 10 {
		t.Fatalf("found only %d env tags in config.Config: %v", len(names), names)
	}
	for _, name := range names {
		_, listed := svc.Environment[name]
		if why, skip := notDeployed[name]; skip {
			if listed {
				t.Errorf("%s is in %s but is %s", name, composeFile, why)
			}
			continue
		}
		if !listed {
			t.Errorf("config reads %s but %s does not list it", name, composeFile)
		}
	}
}

// The environment the compose file gives the container, with only the
// required secrets set, is a valid configuration for the binary.
func TestComposeEnvironmentIsAValidConfig(t *testing.T) {
	t.Parallel()
	p := mustLoad(t, productionEnv())
	svc := webhook(t, p)

	var environ []string
	for k, v := range svc.Environment {
		if v != nil {
			environ = append(environ, k+"="+*v)
		}
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatalf("config.Load(compose environment): %v", err)
	}

	if cfg.Port != 8000 {
		t.Errorf("port = %d, want 8000", cfg.Port)
	}
	if cfg.DataDir != "/data" {
		t.Errorf("data dir = %q, want /data", cfg.DataDir)
	}
	if cfg.Testing() {
		t.Error("TESTING_MODE is on by default")
	}
	if cfg.AdminToken == "" {
		t.Error("ADMIN_TOKEN did not reach the configuration")
	}
	if grace := time.Duration(*svc.StopGracePeriod); cfg.ShutdownWait >= grace {
		t.Errorf("shutdown timeout %s must be shorter than stop_grace_period %s", cfg.ShutdownWait, grace)
	}
	if start := time.Duration(*svc.HealthCheck.StartPeriod); cfg.BoltTimeout >= start {
		t.Errorf("bolt open timeout %s must be shorter than the health start_period %s", cfg.BoltTimeout, start)
	}
}
