package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/notion/notiontest"
	"perfect/internal/resend/resendtest"
	"perfect/store"
)

// crashSpeed runs the service's clock 60 times faster than real time: one
// TESTING_MODE minute a second.
const crashSpeed = 60

// crashKills reads CRASH_KILLS; the crash test runs only when it is set
// (make crash-test, CI), so that make test stays fast.
func crashKills(t *testing.T) int {
	t.Helper()
	v := os.Getenv("CRASH_KILLS")
	if v == "" {
		t.Skip("crash test: set CRASH_KILLS=N to run it (make crash-test)")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("CRASH_KILLS=%q: want a positive number", v)
	}
	return n
}

// crashRig is everything one crash test drives: the fakes behind their
// gates, the load generator and the binary's environment.
type crashRig struct {
	t       *testing.T
	rng     *rand.Rand
	clock   func() time.Time
	resend  *resendtest.API
	rsGate  *holdGate
	notion  *notiontest.Server
	nsGate  *holdGate
	dataDir string
	port    int
	env     []string
	load    *loadGen
	// kills counts kills by the moment chosen; caught counts those
	// where the moment was really hit (a request in flight or held).
	kills, caught map[string]int
	// want counts the emails the stored steps rendered, by mailKey.
	want map[string]int
}

func newCrashRig(t *testing.T) *crashRig {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("CRASH_SEED=%d", seed)

	perfectBinary(t) // build first: the simulated clock starts now
	anchor := time.Now()
	epoch := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := &crashRig{
		t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		clock: func() time.Time {
			return epoch.Add(time.Duration(float64(time.Since(anchor)) * crashSpeed))
		},
		resend: resendtest.NewAPI(), dataDir: t.TempDir(), port: freePort(t),
		kills: map[string]int{}, caught: map[string]int{}, want: map[string]int{},
	}
	r.rsGate = &holdGate{next: r.resend}
	rs := httptest.NewServer(r.rsGate)
	t.Cleanup(rs.Close)
	r.notion = notiontest.NewLegacy(t)
	r.notion.SetNow(r.clock)
	seedTemplates(r.notion)
	r.nsGate = &holdGate{next: r.notion}
	ns := httptest.NewServer(r.nsGate)
	t.Cleanup(ns.Close)
	r.env = []string{
		"TESTING_MODE=true",
		"PERFECT_DATA_DIR=" + r.dataDir,
		"RESEND_API_KEY=re_crash_test",
		"RESEND_BASE_URL=" + rs.URL,
		"RESEND_RATE_LIMIT=200",
		// Small batches are frequent: every restart finds a few steps due
		// at once, so batch and single sends are both killed mid-flight.
		"SEND_BATCH_MIN=4",
		"EMAIL_FROM=Perfect Crash <sender@example.com>",
		"WEBHOOK_RATE_LIMIT=100000",
		"WEBHOOK_RATE_BURST=100000",
		"SHUTDOWN_TIMEOUT=5s",
		"BOLT_OPEN_TIMEOUT=10s",
		fmt.Sprintf("PERFECT_FAKE_CLOCK=epoch=%s,anchor=%s,speed=%d",
			epoch.Format(time.RFC3339Nano), anchor.Format(time.RFC3339Nano), crashSpeed),
		"NOTION_RATE_LIMIT=1000",
		"TEMPLATE_CACHE_TTL=1h",
	}
	for k, v := range r.notion.Env() {
		if k == "NOTION_BASE_URL" {
			v = ns.URL
		}
		r.env = append(r.env, k+"="+v)
	}
	r.load = newLoadGen(loadShapes(t), r.clock, 40*time.Millisecond)
	return r
}

// moments are the points at which a kill is aimed, taken in turn.
var moments = []string{"intake", "resend-held", "resend-landed", "batch-answered", "notion-held", "notion-landed"}

// killAt waits for the moment, up to a few seconds, and reports whether
// it was hit; release undoes what was armed once the process is dead.
func (r *crashRig) killAt(moment string) (hit bool, release func()) {
	switch moment {
	case "intake":
		return r.waitFor(func() bool { return r.load.InFlight() > 0 }), func() {}
	case "resend-held":
		// Pause holds sends after the fake reserved their key; a send whose
		// client dies while held is dropped unsent.
		release := r.resend.Pause()
		return r.waitFor(func() bool { return r.rsGate.InFlight() > 0 && r.heldAtResend() }), release
	case "resend-landed":
		h := r.rsGate.Arm(isPost, true)
		return h.Held(5 * time.Second), func() { r.rsGate.Disarm(h) }
	case "batch-answered":
		// The batch answer reaches perfect, which is killed a few
		// milliseconds later, while it records the members as sent.
		h := r.rsGate.Arm(isBatch, true)
		hit := h.Held(5 * time.Second)
		h.Release()
		time.Sleep(time.Duration(r.rng.IntN(8000)) * time.Microsecond)
		return hit, func() { r.rsGate.Disarm(h) }
	case "notion-held", "notion-landed":
		h := r.nsGate.Arm(isNotionWrite, moment == "notion-landed")
		return h.Held(5 * time.Second), func() { r.nsGate.Disarm(h) }
	}
	r.t.Fatalf("unknown moment %q", moment)
	return false, nil
}

// heldAtResend reports whether the paused fake holds at least one send.
func (r *crashRig) heldAtResend() bool {
	for n := 1; n <= 16; n++ {
		if r.resend.WaitHeld(n, 0) {
			return true
		}
	}
	return false
}

func (r *crashRig) waitFor(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

func isPost(r *http.Request) bool { return r.Method == http.MethodPost }

// isNotionWrite matches a page create or update.
func isNotionWrite(r *http.Request) bool {
	return (r.Method == http.MethodPost && r.URL.Path == "/v1/pages") ||
		(r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/v1/pages/"))
}

func isBatch(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/emails/batch"
}

// cycle starts the binary, lets it work for a random while, then kills it
// with SIGKILL at the next moment of the given kind.
func (r *crashRig) cycle(moment string) {
	p := start(r.t, r.port, r.env)
	r.load.SetUp(p.url)
	if moment != "batch-answered" { // batches are most frequent at start-up
		time.Sleep(time.Duration(r.rng.IntN(600)) * time.Millisecond)
	}
	hit, release := r.killAt(moment)
	r.load.SetDown()
	p.kill()
	release()
	r.kills[moment]++
	if hit {
		r.caught[moment]++
	}
}

// stats reads the admin stats of a running server.
func stats(t *testing.T, p *proc) store.Stats {
	t.Helper()
	resp, err := http.Get(p.url + "/admin/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st store.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// drain waits until nothing is planned, being sent or waiting in the
// outbox; a failed step ends the wait at once.
func drain(t *testing.T, p *proc, timeout time.Duration) store.Stats {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := stats(t, p)
		if st.ByStatus[store.StatusFailed] > 0 {
			t.Fatalf("steps failed: %v\n%s", st.ByStatus, tail(p.output(), 4000))
		}
		if st.OutboxParked > 0 {
			t.Fatalf("%d tracking writes parked\n%s", st.OutboxParked, tail(p.output(), 4000))
		}
		if st.ByStatus[store.StatusPlanned] == 0 && st.ByStatus[store.StatusSending] == 0 && st.OutboxPending == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained after %s: %+v\n%s", timeout, st, tail(p.output(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the process with SIGTERM and waits for it.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		p.t.Errorf("perfect serve after SIGTERM: %v\n%s", err, tail(p.output(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestCrash_SIGKILLUnderLoad runs the real binary under a steady stream of
// webhooks of all eight shapes, kills it with SIGKILL CRASH_KILLS times at
// chosen moments (a webhook in flight, a send held at Resend before it is
// recorded, a send recorded at Resend whose answer is held), restarts it
// each time, lets it drain and checks: every accepted webhook has all its
// steps sent exactly once by Idempotency-Key, a webhook without an answer
// exists whole or not at all, nothing is left planned, sending, failed or
// queued, and the data file passes bbolt's check.
func TestCrash_SIGKILLUnderLoad(t *testing.T) {
	kills := crashKills(t)
	r := newCrashRig(t)
	r.load.Start(3)
	began := time.Now()
	for i := range kills {
		r.cycle(moments[i%len(moments)])
	}
	p := start(t, r.port, r.env)
	r.load.SetUp(p.url)
	time.Sleep(time.Second)
	r.load.Stop()
	final := drain(t, p, 3*time.Minute)
	p.stop()

	db, err := store.Open(filepath.Join(r.dataDir, "perfect.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sum := r.checkDeliveries(db)
	r.checkTracking(db, &sum)
	checkStoreCommand(t, filepath.Join(r.dataDir, "perfect.db"))

	t.Logf("crash test: %d kills in %s (%s)", kills, time.Since(began).Round(time.Second), r.killSummary())
	t.Logf("notion: %d sequence records, %d BusinessX contacts, %d analytics rows; missing %d, duplicated %d",
		sum.records, sum.contacts, sum.rows, sum.trackMissing, sum.trackDuplicated)
	t.Logf("webhooks: %d posted (%d accepted, %d never answered of which %d stored whole, %d posts without answer, "+
		"%d re-posts of which %d answered as duplicates); "+
		"runs %d, steps sent %d, keys sent at Resend %d (%d batches), duplicates %d, lost %d, half-written runs %d",
		sum.webhooks, sum.accepted, sum.unanswered, sum.stored, sum.noAnswer, sum.reposts, sum.deduped,
		sum.runs, final.ByStatus[store.StatusSent], sum.sends, sum.batches, sum.duplicates, sum.lost, sum.partial)
}

func (r *crashRig) killSummary() string {
	var parts []string
	for _, m := range moments {
		parts = append(parts, fmt.Sprintf("%s %d/%d hit", m, r.caught[m], r.kills[m]))
	}
	return strings.Join(parts, ", ")
}

// crashSummary counts what the checks saw.
type crashSummary struct {
	webhooks, accepted, unanswered, noAnswer, reposts int
	// stored counts unanswered webhooks found stored (whole); deduped
	// counts re-posts answered as duplicates of a first post that was
	// stored although its answer was lost.
	stored, deduped                                 int
	runs, sends, batches, duplicates, lost, partial int

	records, contacts, rows, trackMissing, trackDuplicated int
}

// checkDeliveries compares every webhook posted with the data file and
// with what the fake Resend sent.
func (r *crashRig) checkDeliveries(db *store.DB) crashSummary {
	t := r.t
	counts := r.resend.CountByKey()
	var sum crashSummary
	known := map[string]bool{} // step ids of every run found
	for _, w := range r.load.Webhooks() {
		sum.webhooks++
		sum.reposts += len(w.answers) - 1
		for _, a := range w.answers {
			if a.status == 0 {
				sum.noAnswer++
			} else if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
				t.Errorf("%s %s: unexpected answer %d %s", w.shape.path, w.email, a.status, a.err)
			}
		}
		runs := r.runsOf(db, w)
		ok := w.accepted()
		switch {
		case len(ok) > 0:
			sum.accepted++
			if len(runs) != 1 {
				t.Errorf("%s %s accepted, %d runs stored", w.shape.path, w.email, len(runs))
				sum.lost++
			}
			for _, a := range ok {
				if a.duplicate {
					sum.deduped++
				}
				if len(runs) == 1 && a.runID != runs[0].ID {
					t.Errorf("%s %s: answered run %s, stored %s", w.shape.path, w.email, a.runID, runs[0].ID)
				}
			}
		default:
			sum.unanswered++
			sum.stored += len(runs)
			if len(runs) > 1 {
				t.Errorf("%s %s unanswered, %d runs stored", w.shape.path, w.email, len(runs))
			}
		}
		for _, run := range runs {
			sum.runs++
			r.checkRun(db, w, run, counts, known, &sum)
		}
	}
	for key, n := range counts {
		sum.sends += n
		if strings.HasPrefix(key, "batch-") {
			sum.batches++
		}
		if !known[key] {
			t.Errorf("Resend sent key %s, which is no step of any stored run", key)
		}
	}
	r.checkRecipients(&sum)
	return sum
}

// runsOf returns the runs stored for a webhook's contact and flow.
func (r *crashRig) runsOf(db *store.DB, w *webhook) []store.Run {
	all, err := db.RunsByEmail(w.email)
	if err != nil {
		r.t.Fatal(err)
	}
	var runs []store.Run
	for _, run := range all {
		if run.Flow == w.shape.flow {
			runs = append(runs, run)
		}
	}
	return runs
}

// checkRun requires a run to be whole and each of its steps sent once.
func (r *crashRig) checkRun(db *store.DB, w *webhook, run store.Run, counts map[string]int,
	known map[string]bool, sum *crashSummary) {
	t := r.t
	steps, err := db.StepsByRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != w.shape.steps {
		sum.partial++
		t.Errorf("%s run %s has %d steps, the flow plans %d", w.shape.path, run.ID, len(steps), w.shape.steps)
	}
	for _, s := range steps {
		key := s.ID
		if s.BatchID != "" {
			key = "batch-" + s.BatchID
		}
		known[key] = true
		if s.Rendered != nil {
			r.want[mailKey(s.Email, s.Rendered.Subject)]++
		}
		switch n := counts[key]; {
		case s.Status != store.StatusSent:
			t.Errorf("step %s (%s) ended %s: %s", s.ID, s.Template, s.Status, s.LastError)
		case n == 0:
			sum.lost++
			t.Errorf("step %s (%s) is sent but Resend never got its key %s", s.ID, s.Template, key)
		case n > 1:
			sum.duplicates++
			t.Errorf("step %s (%s) sent %d times under key %s", s.ID, s.Template, n, key)
		}
	}
}

// mailKey names an email by recipient and subject, which tells apart the
// emails of one contact: a batch carries one key for many steps, so this is
// how each received email is matched to its step.
func mailKey(to, subject string) string { return strings.ToLower(to) + "\x00" + subject }

// checkStoreCommand runs perfect store check on the file.
func checkStoreCommand(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(perfectBinary(t), "store", "check", "--file", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": ok") {
		t.Fatalf("perfect store check: %v\n%s", err, out)
	}
}

// checkRecipients requires every email a step rendered to have been
// received exactly once, and nothing else.
func (r *crashRig) checkRecipients(sum *crashSummary) {
	got := map[string]int{}
	for _, rc := range r.resend.Received() {
		for _, to := range rc.Body.To {
			got[mailKey(to, rc.Body.Subject)]++
		}
	}
	for k, n := range r.want {
		switch to, subject, _ := strings.Cut(k, "\x00"); {
		case got[k] < n:
			sum.lost += n - got[k]
			r.t.Errorf("%s got %q %d times, its steps plan it %d times", to, subject, got[k], n)
		case got[k] > n:
			sum.duplicates += got[k] - n
			r.t.Errorf("%s got %q %d times, its steps plan it %d times", to, subject, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := r.want[k]; !ok {
			to, subject, _ := strings.Cut(k, "\x00")
			r.t.Errorf("%s got %q %d times, no stored step rendered it", to, subject, n)
		}
	}
}

// pagesByEmail groups the pages of a fake Notion database by address.
func pagesByEmail(ns *notiontest.Server, db, prop string) map[string][]notiontest.Page {
	out := map[string][]notiontest.Page{}
	for _, p := range ns.Pages(db) {
		k := strings.ToLower(p.Text(prop))
		out[k] = append(out[k], p)
	}
	return out
}

// checkTracking requires every stored run to be tracked in the fake
// Notion exactly once: one sequence record per contact and sequence type
// (or one BusinessX contact), one analytics row per email sent, and
// nothing for a webhook that left no run.
func (r *crashRig) checkTracking(db *store.DB, sum *crashSummary) {
	t := r.t
	records := pagesByEmail(r.notion, notiontest.SequenceDB, "Email")
	contacts := pagesByEmail(r.notion, notiontest.ContactsDB, "Email")
	rows := pagesByEmail(r.notion, notiontest.AnalyticsDB, "Email")
	for _, ps := range records {
		sum.records += len(ps)
	}
	for _, ps := range contacts {
		sum.contacts += len(ps)
	}
	for _, ps := range rows {
		sum.rows += len(ps)
	}
	count := func(what string, got, want int) {
		switch {
		case got < want:
			sum.trackMissing += want - got
			t.Errorf("%s: %d in Notion, want %d", what, got, want)
		case got > want:
			sum.trackDuplicated += got - want
			t.Errorf("%s: %d in Notion, want %d", what, got, want)
		}
	}
	for _, w := range r.load.Webhooks() {
		email := strings.ToLower(w.email)
		runs := r.runsOf(db, w)
		want := min(len(runs), 1)
		switch w.shape.flow {
		case flows.BusinessXSignup, flows.BusinessXAssess:
			count("BusinessX contact of "+email, len(contacts[email]), want)
		default:
			f, _ := flows.ByName(w.shape.flow)
			n := 0
			for _, p := range records[email] {
				if p.Text("Template Type") == f.SequenceType {
					n++
				}
			}
			count(fmt.Sprintf("sequence record %q of %s", f.SequenceType, email), n, want)
		}
		steps := 0
		for _, run := range runs {
			ss, err := db.StepsByRun(run.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				steps++
				n := 0
				for _, p := range rows[email] {
					if p.Text("Template ID") == s.Template && p.Text("Email Number") == strconv.Itoa(s.EmailNumber) &&
						p.Text("Status") == "sent" {
						n++
					}
				}
				count(fmt.Sprintf("analytics row of %s to %s", s.Template, email), n, 1)
			}
		}
		if len(rows[email]) > steps {
			count("analytics rows of "+email, len(rows[email]), steps)
		}
	}
}
