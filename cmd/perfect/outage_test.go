package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/internal/resend/resendtest"
	"perfect/store"
)

// outageRate is RESEND_RATE_LIMIT in the long-outage test: sends a second.
const outageRate = 10

// TestE2E_LongOutage: with production timings, onboarding, Christmas and
// post-call runs are accepted; the process is SIGKILLed and starts again
// 100 hours later. The overdue emails go out no faster than
// RESEND_RATE_LIMIT (request times measured at the fake Resend), nurture
// emails more than MAX_LATENESS late are expired with a reason instead of
// sent, and onboarding emails are sent however late they are.
func TestE2E_LongOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	tests := []struct {
		name, lateness string
		// sent and expired are the templates each contact must end with.
		sent, expired []string
	}{
		{
			name:    "MAX_LATENESS default (24h)",
			sent:    []string{"onboarding_phase1_email_1", "onboarding_phase1_email_2", "onboarding_phase1_email_3", "5-Day E4"},
			expired: []string{"5-Day E2", "5-Day E3", "postcall_maybe_email_1", "postcall_maybe_email_2"},
		},
		{
			name: "MAX_LATENESS=48h", lateness: "48h",
			sent: []string{"onboarding_phase1_email_1", "onboarding_phase1_email_2", "onboarding_phase1_email_3",
				"5-Day E3", "5-Day E4", "postcall_maybe_email_2"},
			expired: []string{"5-Day E2", "postcall_maybe_email_1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { longOutage(t, tt.lateness, tt.sent, tt.expired) })
	}
}

func longOutage(t *testing.T, lateness string, wantSent, wantExpired []string) {
	const perFlow = 6
	rs := resendtest.NewServer(t)
	var mu sync.Mutex
	var at []time.Time // real arrival time of every send request
	rs.SetHandler(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return false
	})
	dataDir, port := t.TempDir(), freePort(t)
	epoch := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	env := func(clock time.Time) []string {
		return []string{
			"PERFECT_DATA_DIR=" + dataDir,
			"RESEND_API_KEY=re_outage_test", "RESEND_BASE_URL=" + rs.URL,
			fmt.Sprintf("RESEND_RATE_LIMIT=%d", outageRate),
			"SEND_BATCH_MIN=0", // one request per email, so the pacing is measured per email
			"EMAIL_FROM=Perfect Outage <sender@example.com>",
			"MAX_LATENESS=" + lateness,
			fmt.Sprintf("PERFECT_FAKE_CLOCK=epoch=%s,anchor=%s,speed=1",
				clock.Format(time.RFC3339Nano), time.Now().Format(time.RFC3339Nano)),
		}
	}

	p := start(t, port, env(epoch))
	shapes := map[string]*shape{}
	for _, s := range loadShapes(t) {
		shapes[s.name] = s
	}
	var emails []string
	for _, name := range []string{"onboarding", "christmas", "postcall"} {
		for i := range perFlow {
			email := fmt.Sprintf("outage-%s-%d@example.com", name, i)
			var body map[string]any
			mustUnmarshal(t, shapes[name].body(email, i, epoch), &body)
			p.post(shapes[name].path, body)
			emails = append(emails, email)
		}
	}
	p.kill()

	// Down for 100 hours: a new process on a clock moved forward.
	p = start(t, port, env(epoch.Add(100*time.Hour)))
	wantSends := perFlow * len(wantSent)
	if !rs.WaitFor(wantSends, 30*time.Second) {
		t.Fatalf("%d of %d overdue emails sent\n%s", len(rs.Received()), wantSends, tail(p.output(), 3000))
	}
	time.Sleep(300 * time.Millisecond) // room for a send that should not happen
	p.stop()

	mu.Lock()
	checkPacing(t, at, outageRate)
	mu.Unlock()
	if got := len(rs.Received()); got != wantSends {
		t.Errorf("%d emails sent after the outage, want %d", got, wantSends)
	}
	checkOutcomes(t, filepath.Join(dataDir, "perfect.db"), emails, wantSent, wantExpired)
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

// checkPacing requires no more than rate requests in any second: the
// (rate+1)th request after any other comes at least a second later.
func checkPacing(t *testing.T, at []time.Time, rate int) {
	t.Helper()
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	const slack = 50 * time.Millisecond
	for i := 0; i+rate < len(at); i++ {
		if d := at[i+rate].Sub(at[i]); d < time.Second-slack {
			t.Errorf("%d requests within %s (requests %d..%d), want at most %d a second", rate+1, d, i, i+rate, rate)
			return
		}
	}
	if len(at) > 1 {
		span := at[len(at)-1].Sub(at[0])
		t.Logf("%d overdue sends spread over %s (RESEND_RATE_LIMIT=%d)", len(at), span.Round(time.Millisecond), rate)
	}
}

// checkOutcomes reads the data file: every contact's wantSent templates
// are sent, its wantExpired ones expired with a reason, and nothing else
// is due.
func checkOutcomes(t *testing.T, path string, emails, wantSent, wantExpired []string) {
	t.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]store.Status{}
	for _, tpl := range wantSent {
		want[tpl] = store.StatusSent
	}
	for _, tpl := range wantExpired {
		want[tpl] = store.StatusExpired
	}
	for _, email := range emails {
		steps, err := db.List(store.Filter{Email: email, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			w, listed := want[s.Template]
			switch {
			case listed && s.Status != w:
				t.Errorf("%s %s: %s (%s), want %s", email, s.Template, s.Status, s.CancelReason, w)
			case !listed && s.Status != store.StatusPlanned:
				t.Errorf("%s %s: %s, want still planned (not due yet)", email, s.Template, s.Status)
			case s.Status == store.StatusExpired && !strings.Contains(s.CancelReason, "late"):
				t.Errorf("%s %s expired without a reason: %q", email, s.Template, s.CancelReason)
			case strings.HasPrefix(s.Template, "onboarding") && s.Status == store.StatusExpired:
				t.Errorf("%s: onboarding email expired", email)
			}
		}
	}
}
