package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the binary with env and returns stdout, stderr and the exit code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(perfectBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestCLI_QueueAgainstServerAndFile drives the queue commands as a user
// would: against the running server, then on the data file once it stops.
func TestCLI_QueueAgainstServerAndFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	dir := t.TempDir()
	port := freePort(t)
	env := []string{"PERFECT_DATA_DIR=" + dir, fmt.Sprintf("PORT=%d", port),
		fmt.Sprintf("PERFECT_URL=http://127.0.0.1:%d", port)}
	p := start(t, port, env)
	p.post("/webhook/calendly-noshow", fixture(t, "calendly_noshow_payload.json", "valid_payload"))
	p.post("/webhook/postcall-maybe", fixture(t, "crm_postcall_payload.json", "valid_payload_minimal"))

	out, errOut, code := cli(t, env, "queue", "ls", "--email", "E2E-NOSHOW-TEST@example.com", "--json")
	var steps []struct {
		ID, Status, Template string
	}
	if code != 0 || json.Unmarshal([]byte(out), &steps) != nil || len(steps) != 3 {
		t.Fatalf("queue ls --json: %d %q %s", code, out, errOut)
	}
	if steps[0].Template != "noshow_recovery_email_1" || steps[0].Status != "planned" {
		t.Fatalf("first step %+v", steps[0])
	}
	out, _, code = cli(t, env, "queue", "ls", "--status", "planned")
	if code != 0 || !strings.Contains(out, "6 email(s)") || !strings.Contains(out, "STATUS") {
		t.Fatalf("queue ls table: %d\n%s", code, out)
	}
	if _, errOut, code = cli(t, env, "queue", "ls", "--status", "bogus"); code == 0 {
		t.Fatalf("bad status accepted: %s", errOut)
	}
	out, _, code = cli(t, env, "queue", "cancel", steps[0].ID, "--reason", "asked by phone")
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: %d %s", code, out)
	}
	out, _, code = cli(t, env, "queue", "show", steps[0].ID)
	if code != 0 || !strings.Contains(out, "cancelled") || !strings.Contains(out, "asked by phone") {
		t.Fatalf("show: %d %s", code, out)
	}
	if _, errOut, code = cli(t, env, "queue", "retry", steps[0].ID); code == 0 || !strings.Contains(errOut, "409") {
		t.Fatalf("retry of a cancelled step: %d %s", code, errOut)
	}
	out, _, code = cli(t, env, "queue", "send-now", steps[1].ID)
	if code != 0 {
		t.Fatalf("send-now: %d %s", code, out)
	}

	backup := filepath.Join(t.TempDir(), "backup.db")
	if out, errOut, code = cli(t, env, "store", "backup", "--to", backup); code != 0 {
		t.Fatalf("online backup: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = cli(t, env, "store", "check", "--file", backup); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check of the backup: %d %s %s", code, out, errOut)
	}

	other := []string{"PERFECT_DATA_DIR=" + t.TempDir(), fmt.Sprintf("PORT=%d", port)}
	if _, errOut, code = cli(t, other, "queue", "ls"); code == 0 || !strings.Contains(errOut, "keeps") {
		t.Fatalf("queue ls of another data dir through this server: %d %s", code, errOut)
	}

	p.kill()
	out, errOut, code = cli(t, env, "queue", "ls", "--email", "e2e-noshow-test@example.com")
	if code != 0 || !strings.Contains(out, "cancelled") || !strings.Contains(out, "3 email(s)") {
		t.Fatalf("queue ls from the file: %d %s %s", code, out, errOut)
	}
	out, _, code = cli(t, env, "queue", "cancel", "--email", "e2e-postcall-minimal@example.com")
	if code != 0 || !strings.Contains(out, "3 email(s)") {
		t.Fatalf("cancel --email on the file: %d %s", code, out)
	}
	if out, _, code = cli(t, env, "store", "check"); code != 0 {
		t.Fatalf("store check: %d %s", code, out)
	}
	if _, errOut, code = cli(t, append(env, "PORT=abc"), "serve"); code != 2 ||
		strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "PORT") {
		t.Fatalf("bad config: exit %d, stderr %q", code, errOut)
	}
}

// TestCLI_HealthcheckAndVersion covers the container helpers.
func TestCLI_HealthcheckAndVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	port := freePort(t)
	env := []string{"PERFECT_DATA_DIR=" + t.TempDir(), fmt.Sprintf("PORT=%d", port)}
	if _, _, code := cli(t, env, "healthcheck"); code != 1 {
		t.Fatalf("healthcheck with no server: exit %d, want 1", code)
	}
	start(t, port, env)
	if out, _, code := cli(t, env, "healthcheck"); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("healthcheck: %d %s", code, out)
	}
	if out, _, code := cli(t, env, "version"); code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("version: %d %q", code, out)
	}
}
