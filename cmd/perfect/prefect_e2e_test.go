package main_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"perfect/internal/prefect/prefecttest"
)

// TestE2E_PrefectRouting runs the real binary with the 5-day emails routed
// to a (fake) Prefect server that is down at first: the webhook answers at
// once, and once Prefect is back every email becomes exactly one SCHEDULED
// christmas-send-email run, with the legacy parameters and Secret blocks
// read at start-up.
func TestE2E_PrefectRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	pf := prefecttest.NewServer(t)
	pf.AddDeployment("christmas-send-email", "christmas-send-email", prefecttest.SendEmailContract)
	pf.AddSecret("testing-mode", true)

	port := freePort(t)
	env := []string{"PERFECT_DATA_DIR=" + t.TempDir(),
		"PREFECT_API_URL=" + pf.APIURL(), "FLOW_BACKENDS=christmas-send-email=prefect"}
	p := start(t, port, env)
	calls := pf.Calls() // the Secret blocks were read at start-up
	pf.SetDown(http.StatusServiceUnavailable, "1")

	body := fixture(t, "test_customer_data.json", "lead_nurture_urgent")
	delete(body, "expected_segment")
	began := time.Now()
	res := p.post("/webhook/christmas-signup", body)
	if took := time.Since(began); took > 2*time.Second || res["status"] != "accepted" || res["steps_planned"] != float64(4) {
		t.Fatalf("answer %v after %s", res, took)
	}
	for pf.Calls() == calls && time.Since(began) < 10*time.Second {
		time.Sleep(20 * time.Millisecond) // the first attempt meets Prefect down
	}
	if pf.Calls() == calls {
		t.Fatal("no flow run creation was tried while Prefect was down")
	}
	if n := len(pf.CreatesByKey()); n != 0 {
		t.Fatalf("%d runs created while Prefect was down", n)
	}
	pf.SetUp()

	deadline := time.Now().Add(60 * time.Second)
	for len(pf.CreatesByKey()) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	creates := pf.CreatesByKey()
	if len(creates) != 4 {
		t.Fatalf("%d flow runs created, want 4:\n%s", len(creates), p.output())
	}
	for key, n := range creates {
		if n != 1 {
			t.Errorf("idempotency key %s created %d runs", key, n)
		}
	}
	if v := pf.Violations(); len(v) > 0 {
		t.Fatalf("requests broke Prefect's schemas: %v", v)
	}
	numbers := map[float64]bool{}
	for i, run := range pf.FlowRuns() {
		params, _ := run["parameters"].(map[string]any)
		if params["email"] != body["email"] || params["segment"] != "URGENT" {
			t.Errorf("run %d parameters %v", i, params)
		}
		n, _ := params["email_number"].(float64)
		numbers[n] = true
		state, _ := run["state"].(map[string]any)
		if state["type"] != "SCHEDULED" {
			t.Errorf("run %d state %v", i, state)
		}
	}
	if !numbers[2] || !numbers[3] || !numbers[4] || !numbers[5] {
		t.Errorf("email numbers %v, want 2-5", numbers)
	}
	// TESTING_MODE came from the Secret block: runs are minutes apart, not days.
	first := pf.FlowRuns()[0]["state"].(map[string]any)["state_details"].(map[string]any)["scheduled_time"]
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(first))
	if err != nil || at.Sub(began) > 10*time.Minute {
		t.Fatalf("first scheduled_time %v (%v): testing-mode block not applied", first, err)
	}
}
