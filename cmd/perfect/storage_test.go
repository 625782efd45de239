package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/internal/resend/resendtest"
	"perfect/store"
)

// serveOnce runs perfect serve until it exits or timeout passes, polling
// /health meanwhile; it returns the exit code (-1: still running, killed),
// stderr and the /health codes seen.
func serveOnce(t *testing.T, env []string, timeout time.Duration) (int, string, []int) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(perfectBinary(t), "serve")
	cmd.Env = append(append(os.Environ(), env...), fmt.Sprintf("PORT=%d", port))
	var stderr lockedBuffer
	stderr.mu, stderr.buf = &sync.Mutex{}, &bytes.Buffer{}
	cmd.Stderr, cmd.Stdout = stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	var health []int
	deadline := time.After(timeout)
	for {
		select {
		case <-exited:
			stderr.mu.Lock()
			defer stderr.mu.Unlock()
			return cmd.ProcessState.ExitCode(), stderr.buf.String(), health
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			stderr.mu.Lock()
			defer stderr.mu.Unlock()
			return -1, stderr.buf.String(), health
		case <-time.After(20 * time.Millisecond):
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
				resp.Body.Close()
				health = append(health, resp.StatusCode)
			}
		}
	}
}

// oneLine returns the lines of stderr that are perfect's own message (not
// log records) and fails unless there is exactly one, with no Go panic or
// fault dump around it.
func oneLine(t *testing.T, stderr string) string {
	t.Helper()
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "perfect: ") {
			msgs = append(msgs, l)
		}
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "fatal error") {
		t.Errorf("stderr holds a crash dump:\n%s", tail(stderr, 1500))
	}
	if len(msgs) != 1 {
		t.Fatalf("%d message lines, want 1:\n%s", len(msgs), tail(stderr, 1500))
	}
	return msgs[0]
}

// TestE2E_StorageLockedFile: a second server on the same data directory
// (a new container during a redeploy) answers /health 503 while it waits
// BOLT_OPEN_TIMEOUT for the lock, then exits 1 with one line; the first
// server goes on serving.
func TestE2E_StorageLockedFile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	first := start(t, freePort(t), []string{"PERFECT_DATA_DIR=" + dir})

	began := time.Now()
	code, stderr, health := serveOnce(t, []string{"PERFECT_DATA_DIR=" + dir, "BOLT_OPEN_TIMEOUT=1s"}, 15*time.Second)
	waited := time.Since(began)
	if code != 1 {
		t.Fatalf("second server exit code %d, want 1\n%s", code, stderr)
	}
	line := oneLine(t, stderr)
	if !strings.Contains(line, "locked by another process") || !strings.Contains(line, "1s") ||
		!strings.Contains(line, filepath.Join(dir, "perfect.db")) {
		t.Errorf("exit line %q does not name the file, the lock and the wait", line)
	}
	if waited < 900*time.Millisecond { // bbolt gives up one 50 ms retry early
		t.Errorf("gave up after %s, want BOLT_OPEN_TIMEOUT=1s", waited)
	}
	if len(health) == 0 {
		t.Error("/health never answered while waiting for the lock")
	}
	for _, c := range health {
		if c != http.StatusServiceUnavailable {
			t.Errorf("/health answered %d while the file was locked, want 503", c)
		}
	}
	first.post("/webhook/calendly-noshow", fixture(t, "calendly_noshow_payload.json", "valid_payload"))
}

// goodFile writes a data file holding runs 0..n-1 of four planned steps.
func goodFile(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "perfect.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		run := fmt.Sprintf("01RUN%021d", i)
		in := store.Intake{Run: store.Run{ID: run, Flow: "christmas-signup-handler",
			Email: fmt.Sprintf("c%d@example.com", i), CreatedAt: at, Params: json.RawMessage(`{"first_name":"Ada"}`)}}
		for e := 2; e <= 5; e++ {
			in.Steps = append(in.Steps, store.Step{ID: fmt.Sprintf("%s-e%d", run, e), RunID: run,
				Flow: in.Run.Flow, Email: in.Run.Email, Template: fmt.Sprintf("5-Day E%d", e), EmailNumber: e,
				DueAt: at.Add(time.Duration(e) * 24 * time.Hour), Status: store.StatusPlanned, CreatedAt: at})
		}
		if _, _, err := db.CreateRun(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// damage writes a damaged copy of the file at src into a new directory.
func damage(t *testing.T, src string, how func([]byte) []byte) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "perfect.db"), how(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestE2E_StorageDamagedFile: serve refuses a damaged data file with one
// clear line and never answers healthy; store check and store backup
// report the damage in one line and exit 1; on a good file both work.
func TestE2E_StorageDamagedFile(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	good := goodFile(t, t.TempDir(), 300)
	const page = 4096
	tests := []struct {
		name string
		how  func([]byte) []byte
	}{
		{name: "garbage header", how: func(b []byte) []byte {
			copy(b, bytes.Repeat([]byte{0xAB}, 2*page))
			return b
		}},
		{name: "truncated to 16 KiB", how: func(b []byte) []byte { return b[:4*page] }},
		{name: "garbled data pages", how: func(b []byte) []byte {
			for i := 10 * page; i < 30*page && i < len(b); i++ {
				b[i] = b[i]*7 + 13
			}
			return b
		}},
	}
	for _, tt := range tests {
		dir := damage(t, good, tt.how)
		path := filepath.Join(dir, "perfect.db")
		t.Run(tt.name+"/serve", func(t *testing.T) {
			code, stderr, health := serveOnce(t, []string{"PERFECT_DATA_DIR=" + dir, "BOLT_OPEN_TIMEOUT=1s"}, 10*time.Second)
			if code != 1 {
				t.Fatalf("serve exit code %d, want 1\n%s", code, tail(stderr, 1500))
			}
			if line := oneLine(t, stderr); !strings.Contains(line, path) {
				t.Errorf("exit line %q does not name the file", line)
			}
			for _, c := range health {
				if c == http.StatusOK {
					t.Error("/health answered 200 on a damaged file")
				}
			}
		})
		t.Run(tt.name+"/store check", func(t *testing.T) {
			out, stderr, code := cli(t, nil, "store", "check", "--file", path)
			if code != 1 || out != "" {
				t.Fatalf("store check: exit %d, stdout %q, want 1 and nothing", code, out)
			}
			if line := oneLine(t, stderr); !strings.Contains(line, path) {
				t.Errorf("store check line %q does not name the file", line)
			}
		})
		t.Run(tt.name+"/store backup", func(t *testing.T) {
			to := filepath.Join(t.TempDir(), "copy.db")
			_, stderr, code := cli(t, nil, "store", "backup", "--file", path, "--to", to)
			if code != 1 {
				t.Fatalf("store backup: exit %d, want 1\n%s", code, stderr)
			}
			if line := oneLine(t, stderr); !strings.Contains(line, path) {
				t.Errorf("store backup line %q does not name the file", line)
			}
			if _, err := os.Stat(to); err == nil {
				t.Error("a failed backup left a file behind")
			}
		})
	}

	t.Run("good file", func(t *testing.T) {
		out, stderr, code := cli(t, nil, "store", "check", "--file", good)
		if code != 0 || !strings.Contains(out, ": ok") || !strings.Contains(out, "planned    1200") {
			t.Fatalf("store check of a good file: exit %d\n%s%s", code, out, stderr)
		}
		to := filepath.Join(t.TempDir(), "copy.db")
		if out, stderr, code := cli(t, nil, "store", "backup", "--file", good, "--to", to); code != 0 {
			t.Fatalf("store backup of a good file: exit %d\n%s%s", code, out, stderr)
		}
		if out, stderr, code := cli(t, nil, "store", "check", "--file", to); code != 0 || !strings.Contains(out, "planned    1200") {
			t.Fatalf("the backup does not check: exit %d\n%s%s", code, out, stderr)
		}
	})
}

// TestE2E_StorageFull: the data file reaches BOLT_MAX_SIZE (as a full
// disk would) while webhooks keep coming. Every refused webhook is a 503
// with Retry-After that wrote nothing; the accepted ones are intact. When
// space returns (restart with no cap) the sender's retries are accepted
// and every email of every accepted webhook is sent exactly once.
func TestE2E_StorageFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	const speed = 60
	perfectBinary(t)
	anchor := time.Now()
	epoch := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rs := resendtest.NewServer(t)
	dir, port := t.TempDir(), freePort(t)
	env := []string{
		"TESTING_MODE=true", "PERFECT_DATA_DIR=" + dir,
		"RESEND_API_KEY=re_full_test", "RESEND_BASE_URL=" + rs.URL, "RESEND_RATE_LIMIT=100",
		"EMAIL_FROM=Perfect Full <sender@example.com>",
		"WEBHOOK_RATE_LIMIT=100000", "WEBHOOK_RATE_BURST=100000",
		fmt.Sprintf("PERFECT_FAKE_CLOCK=epoch=%s,anchor=%s,speed=%d",
			epoch.Format(time.RFC3339Nano), anchor.Format(time.RFC3339Nano), speed),
	}
	p := start(t, port, append(env, fmt.Sprintf("BOLT_MAX_SIZE=%d", 512<<10)))

	var christmas *shape
	for _, s := range loadShapes(t) {
		if s.name == "christmas" {
			christmas = s
		}
	}
	type post struct {
		email string
		body  []byte
	}
	var accepted, refused []post
	for i := 0; len(refused) < 10 && i < 5000; i++ {
		email := fmt.Sprintf("full-%04d@example.com", i)
		w := post{email, christmas.body(email, i, epoch)}
		resp, err := http.Post(p.url+christmas.path, "application/json", bytes.NewReader(w.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			accepted = append(accepted, w)
		case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
			refused = append(refused, w)
		default:
			t.Fatalf("POST %d: %d %s (Retry-After %q)", i, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	if len(refused) == 0 || len(accepted) == 0 {
		t.Fatalf("%d accepted, %d refused: the cap was never reached", len(accepted), len(refused))
	}
	p.kill()

	// Space returns: the refused webhooks are posted again by their sender.
	p = start(t, port, env)
	for _, w := range refused {
		var body map[string]any
		mustUnmarshal(t, w.body, &body)
		p.post(christmas.path, body)
	}
	all := append(accepted, refused...)
	if !rs.WaitFor(4*len(all), 2*time.Minute) {
		t.Fatalf("%d of %d emails sent after space returned\n%s", len(rs.Received()), 4*len(all), tail(p.output(), 3000))
	}
	time.Sleep(300 * time.Millisecond)
	p.stop()

	for key, n := range rs.CountByKey() {
		if n != 1 {
			t.Errorf("key %s sent %d times", key, n)
		}
	}
	perEmail := map[string]int{}
	for _, r := range rs.Received() {
		perEmail[r.Body.To[0]]++
	}
	for _, w := range all {
		if perEmail[w.email] != 4 {
			t.Errorf("%s received %d emails, want 4", w.email, perEmail[w.email])
		}
	}
	checkStoreCommand(t, filepath.Join(dir, "perfect.db"))
	t.Logf("full disk: %d webhooks accepted before the cap, %d refused with 503 and accepted after; %d emails sent once",
		len(accepted), len(refused), len(rs.Received()))
}
