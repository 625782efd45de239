package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"perfect/internal/resend/resendtest"
)

// The end-to-end tests run the real binary. It is built once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func perfectBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "perfect-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "perfect")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one running perfect serve.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// start runs the binary with env and waits until /health answers 200.
func start(t *testing.T, port int, env []string) *proc {
	t.Helper()
	cmd := exec.Command(perfectBinary(t), "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("PORT=%d", port))
	p := &proc{t: t, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stdout = lockedBuffer{p.mu, p.logs}
	cmd.Stderr = lockedBuffer{p.mu, p.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("perfect did not become healthy:\n%s", p.output())
	return nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *proc) post(path string, body any) map[string]any {
	p.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.Post(p.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		p.t.Fatal(err)
	}
	return out
}

type stepJSON struct {
	ID          string    `json:"id"`
	Flow        string    `json:"flow"`
	Email       string    `json:"email"`
	Template    string    `json:"template"`
	EmailNumber int       `json:"email_number"`
	DueAt       time.Time `json:"due_at"`
	Status      string    `json:"status"`
}

func (p *proc) steps() []stepJSON {
	p.t.Helper()
	resp, err := http.Get(p.url + "/admin/api/steps?limit=1000")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Steps []stepJSON `json:"steps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		p.t.Fatal(err)
	}
	return out.Steps
}

func fixture(t *testing.T, file, entry string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "legacy", file))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	v, ok := all[entry].(map[string]any)
	if !ok {
		t.Fatalf("%s has no entry %s", file, entry)
	}
	return v
}

// TestE2E_TestingModeSequencesSurviveSIGKILL runs every sequence in
// TESTING_MODE on a clock 60 times faster than real time (one simulated
// minute a second) against a fake Resend, kills the process twice with
// SIGKILL (once while a send is held mid-flight) and checks that every
// planned email arrived once, on time, with the right content.
func TestE2E_TestingModeSequencesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	const speed = 60
	perfectBinary(t) // build first: the simulated clock starts now
	anchor := time.Now()
	epoch := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return epoch.Add(time.Duration(float64(time.Since(anchor)) * speed)) }

	rs := resendtest.NewServer(t)
	rs.SetClock(clock)
	dataDir := t.TempDir()
	port := freePort(t)
	env := []string{
		"TESTING_MODE=true",
		"PERFECT_DATA_DIR=" + dataDir,
		"RESEND_API_KEY=re_test_key",
		"RESEND_BASE_URL=" + rs.URL,
		"RESEND_RATE_LIMIT=50",
		"EMAIL_FROM=Perfect Test <sender@example.com>",
		"EMAIL_REPLY_TO=reply@example.com",
		"SHUTDOWN_TIMEOUT=2s",
		fmt.Sprintf("PERFECT_FAKE_CLOCK=epoch=%s,anchor=%s,speed=%d",
			epoch.Format(time.RFC3339Nano), anchor.Format(time.RFC3339Nano), speed),
		"LOG_LEVEL=debug",
	}
	p := start(t, port, env)

	signup := fixture(t, "test_customer_data.json", "lead_nurture_critical")
	delete(signup, "expected_segment")
	res := p.post("/webhook/christmas-signup", signup)
	if res["status"] != "accepted" || res["campaign"] != "Christmas 2025" || res["run_id"] == "" {
		t.Fatalf("christmas-signup answer %v", res)
	}
	if again := p.post("/webhook/christmas-signup", signup); again["duplicate"] != true || again["run_id"] != res["run_id"] {
		t.Fatalf("duplicate signup answer %v", again)
	}
	p.post("/webhook/calendly-noshow", fixture(t, "calendly_noshow_payload.json", "valid_payload"))
	p.post("/webhook/postcall-maybe", fixture(t, "crm_postcall_payload.json", "valid_payload"))
	p.post("/webhook/onboarding-start", fixture(t, "docusign_completion_payload.json", "valid_payload"))
	meeting := clock().Add(10 * time.Minute).Truncate(time.Second)
	p.post("/webhook/calcom-booking", map[string]any{
		"triggerEvent": "BOOKING_CREATED",
		"payload": map[string]any{
			"uid": "e2e-booking-1", "startTime": meeting.Format(time.RFC3339),
			"attendees": []any{map[string]any{"email": "e2e-booker@example.com", "name": "Booker Person"}},
		},
	})

	planned := p.steps()
	// 4 (5-day E2-E5) + 3 no-show + 3 post-call + 3 onboarding + 3 reminders.
	if len(planned) != 16 {
		t.Fatalf("planned %d steps, want 16: %+v", len(planned), planned)
	}
	due := map[string]stepJSON{}
	for _, s := range planned {
		due[s.ID] = s
	}

	// Hold the first send mid-flight and kill the process while it waits.
	release := rs.Pause()
	if !rs.WaitHeld(1, 30*time.Second) {
		t.Fatalf("no send reached Resend:\n%s", p.output())
	}
	p.kill()
	release()
	p = start(t, port, env)

	// Let a few more arrive, then kill again between sends.
	if !rs.WaitFor(6, 60*time.Second) {
		t.Fatalf("sends stalled after restart: %d received\n%s", len(rs.Received()), p.output())
	}
	p.kill()
	p = start(t, port, env)

	if !rs.WaitFor(16, 90*time.Second) {
		t.Fatalf("got %d of 16 emails\n%s", len(rs.Received()), p.output())
	}
	time.Sleep(500 * time.Millisecond) // a would-be duplicate has a moment to show up
	got := rs.Received()
	if len(got) != 16 {
		t.Fatalf("received %d emails, want 16", len(got))
	}
	for key, n := range rs.CountByKey() {
		if n != 1 {
			t.Errorf("key %s sent %d times", key, n)
		}
	}
	for _, r := range got {
		s, ok := due[r.Key]
		if !ok {
			t.Errorf("email with unknown Idempotency-Key %q", r.Key)
			continue
		}
		if r.At.Before(s.DueAt) {
			t.Errorf("%s (%s) sent at %s, before its due time %s", s.ID, s.Template, r.At, s.DueAt)
		}
		// Downtime is a few real seconds, i.e. a few simulated minutes.
		if late := r.At.Sub(s.DueAt); late > 5*time.Minute {
			t.Errorf("%s sent %s late", s.ID, late)
		}
		if len(r.Body.To) != 1 || !strings.EqualFold(r.Body.To[0], s.Email) {
			t.Errorf("%s to %v, want %s", s.ID, r.Body.To, s.Email)
		}
		if r.Body.From != "Perfect Test <sender@example.com>" || len(r.Body.ReplyTo) != 1 {
			t.Errorf("%s from %q reply-to %v", s.ID, r.Body.From, r.Body.ReplyTo)
		}
		if r.Body.Subject == "" || r.Body.HTML == "" || r.Body.Text == "" {
			t.Errorf("%s has an empty subject, html or text part", s.ID)
		}
		if strings.Contains(r.Body.HTML, "{{") {
			t.Errorf("%s (%s) has an unreplaced placeholder: %s", s.ID, s.Template, r.Body.HTML)
		}
	}
	checkTimings(t, planned, epoch, meeting)
	checkContent(t, got, due)

	final := p.steps()
	for _, s := range final {
		if s.Status != "sent" {
			t.Errorf("step %s ended %s, want sent", s.ID, s.Status)
		}
	}
}

// checkTimings compares each planned due time with the TESTING_MODE table.
func checkTimings(t *testing.T, steps []stepJSON, epoch, meeting time.Time) {
	t.Helper()
	want := map[string][]time.Duration{
		"christmas-signup-handler":          {time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute},
		"christmas-noshow-recovery-handler": {time.Minute, 2 * time.Minute, 3 * time.Minute},
		"christmas-postcall-maybe-handler":  {time.Minute, 2 * time.Minute, 3 * time.Minute},
		"christmas-onboarding-handler":      {time.Minute, 2 * time.Minute, 3 * time.Minute},
	}
	byFlow := map[string][]stepJSON{}
	for _, s := range steps {
		byFlow[s.Flow] = append(byFlow[s.Flow], s)
	}
	for flow, offsets := range want {
		ss := byFlow[flow]
		if len(ss) != len(offsets) {
			t.Errorf("%s: %d steps, want %d", flow, len(ss), len(offsets))
			continue
		}
		base := ss[0].DueAt.Add(-offsets[0])
		if d := base.Sub(epoch); d < 0 || d > time.Minute {
			t.Errorf("%s planned from %s, want within a minute of the start %s", flow, base, epoch)
		}
		for i, s := range ss {
			if got := s.DueAt.Sub(base); got != offsets[i] {
				t.Errorf("%s email %d due +%s, want +%s", flow, s.EmailNumber, got, offsets[i])
			}
		}
	}
	reminders := byFlow["christmas-precall-prep"]
	wantBefore := []time.Duration{6 * time.Minute, 3 * time.Minute, time.Minute}
	if len(reminders) != 3 {
		t.Fatalf("%d reminders, want 3", len(reminders))
	}
	for i, s := range reminders {
		if got := meeting.Sub(s.DueAt); got != wantBefore[i] {
			t.Errorf("reminder %d due %s before the meeting, want %s", i+1, got, wantBefore[i])
		}
	}
}

// checkContent spot-checks templates and variables.
func checkContent(t *testing.T, got []resendtest.Received, due map[string]stepJSON) {
	t.Helper()
	for _, r := range got {
		s := due[r.Key]
		switch s.Template {
		case "5-Day E2":
			if !strings.Contains(r.Body.HTML, "Critical") {
				t.Errorf("5-Day E2 does not greet the contact by first name: %s", r.Body.HTML)
			}
		case "onboarding_phase1_email_1":
			if !strings.Contains(r.Body.HTML, "123 Main Street") {
				t.Errorf("onboarding email lacks the salon address: %s", r.Body.HTML)
			}
		}
	}
}
