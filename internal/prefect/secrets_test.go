package prefect_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"perfect/internal/prefect"
	"perfect/internal/prefect/prefecttest"
)

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	srv.AddSecret("notion-token", "secret_tok")
	srv.AddSecret("testing-mode", false)
	c := newClient(t, srv.APIURL(), nil)
	got, err := prefect.LoadSecrets(context.Background(), c, []string{"notion-token", "testing-mode", "resend-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"NOTION_TOKEN": "secret_tok", "TESTING_MODE": "false"}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v (a missing block is left out)", got, want)
	}
}

func TestLoadSecrets_ErrorsKeepOtherValues(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	srv.AddSecret("notion-token", "secret_tok")
	srv.AddSecret("resend-api-key", "re_key")
	srv.FailNext(401)
	c := newClient(t, srv.APIURL(), nil)
	got, err := prefect.LoadSecrets(context.Background(), c, []string{"notion-token", "resend-api-key"})
	if err == nil || !strings.Contains(err.Error(), "notion-token") {
		t.Fatalf("err = %v, want the notion-token failure", err)
	}
	if got["RESEND_API_KEY"] != "re_key" {
		t.Fatalf("got %v, want the readable block kept", got)
	}
}

func TestFillEnv(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	for _, s := range prefect.SecretBlocks {
		srv.AddSecret(s.Block, "from-"+s.Block)
	}
	srv.AddSecret("testing-mode", true)
	c := newClient(t, srv.APIURL(), nil)
	environ := []string{
		"NOTION_TOKEN=from-env",
		"RESEND_API_KEY_FILE=/run/secrets/resend",
		"NOTION_EMAIL_SEQUENCE_DB_ID=",
		"PATH=/bin",
	}
	out, filled, err := prefect.FillEnv(context.Background(), c, environ)
	if err != nil {
		t.Fatal(err)
	}
	wantFilled := []string{
		"NOTION_EMAIL_TEMPLATES_DB_ID", "NOTION_EMAIL_SEQUENCE_DB_ID", "NOTION_BUSINESSX_DB_ID",
		"NOTION_CUSTOMER_PROJECTS_DB_ID", "NOTION_EMAIL_ANALYTICS_DB_ID", "TESTING_MODE",
	}
	if !slices.Equal(filled, wantFilled) {
		t.Fatalf("filled = %v, want %v", filled, wantFilled)
	}
	if !slices.Contains(out, "TESTING_MODE=true") || !slices.Contains(out, "NOTION_TOKEN=from-env") {
		t.Fatalf("environ = %v", out)
	}
	for _, kv := range out {
		if strings.HasPrefix(kv, "NOTION_TOKEN=from-notion") || strings.HasPrefix(kv, "RESEND_API_KEY=") {
			t.Fatalf("a set variable was overridden: %s", kv)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := prefecttest.NewServer(t)
	srv.AddDeployment("christmas-send-email", "christmas-send-email", nil)
	srv.AddSecret("notion-token", "secret_tok")
	c := newClient(t, srv.APIURL(), nil)
	routes, err := prefect.ParseBackends("christmas-send-email=prefect,christmas-onboarding-handler=prefect")
	if err != nil {
		t.Fatal(err)
	}
	rep := prefect.Check(context.Background(), c, routes)
	if rep.OK() {
		t.Fatal("report OK with a missing deployment")
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"MISSING deployment christmas-onboarding-handler/christmas-onboarding-handler",
		"ok      deployment christmas-send-email/christmas-send-email",
		"ok      secret     notion-token",
		"absent  secret     resend-api-key",
		"RESEND_API_KEY must come from the environment",
		"each email is a run of christmas-send-email/christmas-send-email",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret_tok") {
		t.Fatal("the report printed a secret value")
	}
}
