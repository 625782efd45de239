package tracking_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"perfect/internal/engine"
	"perfect/internal/metrics"
	"perfect/internal/notion/notiontest"
	"perfect/internal/tracking"
	"perfect/store"
)

// outboxRig is the tracking path of perfect serve: the store's outbox
// drained by the engine's Outbox through the Notion applier into a fake
// Notion, on a clock the test moves.
type outboxRig struct {
	db      *store.DB
	ns      *notiontest.Server
	clock   *manualClock
	ob      *engine.Outbox
	metrics *metrics.Metrics
	emails  []string
}

func newOutboxRig(t *testing.T) *outboxRig {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		db.Close()
	})
	r := &outboxRig{db: db, ns: notiontest.NewLegacy(t), clock: &manualClock{t: created},
		metrics: metrics.New()}
	r.ns.SetNow(r.clock.now)
	r.metrics.SetStore(db, r.clock.now)
	r.ob = engine.NewOutbox(engine.Outbox{
		DB: db, Now: r.clock.now, Jitter: func() float64 { return 0.5 },
		Appliers: map[string]engine.Applier{tracking.KindPrefix: tracking.Applier(newClient(t, r.ns))},
	})
	return r
}

// queue stores what n BusinessX contacts produce: the signup, then the
// first email sent (the contact's `Email 1 Sent` and an analytics row).
func (r *outboxRig) queue(t *testing.T, n int) {
	t.Helper()
	tr := &tracking.Notion{NewID: counter()}
	for i := range n {
		email := fmt.Sprintf("bx%02d@example.com", i)
		r.emails = append(r.emails, email)
		signup := runOf(t, "signup-handler", email, map[string]any{"name": "Sam Lee", "first_name": "Sam"})
		assess := runOf(t, "assessment-handler", email, map[string]any{"red_systems": 2, "orange_systems": 1})
		step := store.Step{ID: fmt.Sprintf("run-%d-e1", i), Email: email, Template: "email_1", EmailNumber: 1,
			ProviderID: fmt.Sprintf("re-%d", i), Status: store.StatusSent}
		items := tr.Started(signup, nil)
		items = append(items, tr.Attempted(assess, step, r.clock.now(), nil)...)
		for j := range items {
			items[j].ID = fmt.Sprintf("%s-%02d-%d", items[j].ID, i, j)
			items[j].CreatedAt, items[j].NextAt = r.clock.now(), r.clock.now()
		}
		if err := r.db.AddOutbox(items...); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *outboxRig) drain(t *testing.T) {
	t.Helper()
	if _, err := r.ob.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// settle moves the clock by step and drains until the outbox is empty,
// for at most limit of simulated time.
func (r *outboxRig) settle(t *testing.T, step, limit time.Duration) {
	t.Helper()
	for spent := time.Duration(0); spent <= limit; spent += step {
		r.drain(t)
		if st, _ := r.db.Stats(r.clock.now()); st.OutboxPending == 0 {
			return
		}
		r.clock.add(step)
	}
	items, _ := r.db.ListOutbox(5)
	t.Fatalf("outbox not drained after %s: %+v", limit, items)
}

// requests counts the calls the fake Notion received.
func (r *outboxRig) requests() int { return len(r.ns.Requests()) }

// landedOnce requires one BusinessX contact and one analytics row per
// queued contact, whatever failed on the way.
func (r *outboxRig) landedOnce(t *testing.T) {
	t.Helper()
	for _, email := range r.emails {
		contacts := r.ns.Find(notiontest.ContactsDB, "Email", email)
		if len(contacts) != 1 || !contacts[0].Checkbox("Email 1 Sent") {
			t.Errorf("%s: %d contacts (want 1, with Email 1 Sent)", email, len(contacts))
		}
		if rows := r.ns.Find(notiontest.AnalyticsDB, "Email", email); len(rows) != 1 {
			t.Errorf("%s: %d analytics rows, want 1", email, len(rows))
		}
	}
}

// gauge reads perfect_outbox_items{state} from /metrics.
func (r *outboxRig) gauge(t *testing.T, state string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	r.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	prefix := fmt.Sprintf("perfect_outbox_items{state=%q} ", state)
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", prefix)
	return 0
}

// pendingItem returns the first item still queued.
func (r *outboxRig) pendingItem(t *testing.T) store.OutboxItem {
	t.Helper()
	items, err := r.db.ListOutbox(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Attempts > 0 {
			return it
		}
	}
	t.Fatal("no item was attempted")
	return store.OutboxItem{}
}

// TestFaults_NotionAnswersLater: 429, 503 and 529 put Notion on hold for
// at least its Retry-After (no call is made before), the failure is kept
// on the item and counted in /metrics, and afterwards every write lands
// exactly once.
func TestFaults_NotionAnswersLater(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		code       string
		retryAfter time.Duration // -1: no Retry-After header
		quiet      time.Duration // no call may come this long after the failure
	}{
		{"429 rate limited with Retry-After", 429, "rate_limited", 40 * time.Second, 39 * time.Second},
		{"503 unavailable with Retry-After", 503, "service_unavailable", 20 * time.Second, 19 * time.Second},
		{"529 overloaded without Retry-After", 529, "service_overload", -1, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newOutboxRig(t)
			r.queue(t, 3)
			r.ns.FailNext(1, tt.status, tt.code, tt.retryAfter)
			r.drain(t)

			if n := r.requests(); n != 1 {
				t.Fatalf("%d calls after the first failure, want 1: the others wait for the hold", n)
			}
			it := r.pendingItem(t)
			if it.Attempts != 1 || it.Parked || !strings.Contains(it.LastError, strconv.Itoa(tt.status)) {
				t.Errorf("failed item: attempts %d parked %v last error %q", it.Attempts, it.Parked, it.LastError)
			}
			if v := r.gauge(t, "pending"); v != 9 {
				t.Errorf("outbox pending gauge %v, want 9", v)
			}
			r.clock.add(tt.quiet)
			r.drain(t)
			if n := r.requests(); n != 1 {
				t.Errorf("%d calls %s after a %d, want none before the hold ends", n-1, tt.quiet, tt.status)
			}

			r.settle(t, 5*time.Second, 10*time.Minute)
			r.landedOnce(t)
			if v := r.gauge(t, "pending"); v != 0 {
				t.Errorf("outbox pending gauge %v after recovery", v)
			}
		})
	}
}

// TestFaults_NotionOutageOfDays: Notion answers 503 for three simulated
// days. Nothing is parked or dropped, the calls stay few (the service is
// on hold, capped at a few minutes between tries), the items show the
// error, and when Notion is back every write lands exactly once.
func TestFaults_NotionOutageOfDays(t *testing.T) {
	r := newOutboxRig(t)
	r.queue(t, 10)
	r.ns.SetDown(true)
	const outage = 72 * time.Hour
	for spent := time.Duration(0); spent < outage; spent += 2 * time.Minute {
		r.drain(t)
		r.clock.add(2 * time.Minute)
	}
	calls := r.requests()
	// One call per hold: holds double from 5 s up to 5 min.
	if maxCalls := int(outage/(4*time.Minute)) + 20; calls > maxCalls {
		t.Errorf("%d calls during the outage, want at most %d", calls, maxCalls)
	}
	st, _ := r.db.Stats(r.clock.now())
	if st.OutboxPending != 30 || st.OutboxParked != 0 {
		t.Fatalf("after the outage: %d pending, %d parked; want 30 pending", st.OutboxPending, st.OutboxParked)
	}
	if it := r.pendingItem(t); !strings.Contains(it.LastError, "503") {
		t.Errorf("item error %q does not show the outage", it.LastError)
	}

	r.ns.SetDown(false)
	r.settle(t, time.Minute, 3*time.Hour)
	r.landedOnce(t)
	t.Logf("3-day outage: %d calls while down, 30 writes landed once after", calls)
}

// TestFaults_NotionRefusalParks: a write Notion refuses for good is parked
// with Notion's reason, visible in the outbox and /metrics, and does not
// hold up the others.
func TestFaults_NotionRefusalParks(t *testing.T) {
	r := newOutboxRig(t)
	r.queue(t, 2)
	r.ns.FailNext(1, 400, "validation_error", -1)
	r.settle(t, 5*time.Second, 10*time.Minute)
	items, _ := r.db.ListOutbox(10)
	if len(items) != 1 || !items[0].Parked || !strings.Contains(items[0].LastError, "validation_error") {
		t.Fatalf("outbox %+v, want one parked item with Notion's reason", items)
	}
	if v := r.gauge(t, "parked"); v != 1 {
		t.Errorf("parked gauge %v, want 1", v)
	}
	rows := len(r.ns.Pages(notiontest.AnalyticsDB)) + len(r.ns.Pages(notiontest.ContactsDB))
	if rows < 3 {
		t.Errorf("%d pages written, want the other writes landed", rows)
	}
}
