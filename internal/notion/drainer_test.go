package notion_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
	"perfect/store"
)

func newDrainer(c *notion.Client, ob notion.Outbox, clk *clock) *notion.Drainer {
	d := notion.NewDrainer(c, ob, nil, clk.now)
	d.Jitter = func() float64 { return 0 }
	return d
}

func drain(t *testing.T, d *notion.Drainer) int {
	t.Helper()
	n, err := d.DrainOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An outage (429 with a long Retry-After, then 500s) delays the writes;
// once Notion recovers every write lands exactly once.
func TestDrainer_OutageThenRecovery(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	clk := &clock{t: t0}
	ob := newOutbox()
	d := newDrainer(c, ob, clk)
	contact := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})

	first := ob.add(t, notion.ChristmasAssessment{Email: "jane@example.com", FirstName: "Jane",
		Score: 50, Segment: "URGENT", Red: 1, SignedUpAt: t0}, clk.now())
	ob.add(t, notion.EmailSent{Email: "jane@example.com", Number: 2, SentAt: t0.Add(time.Minute)}, clk.now())
	ob.add(t, sentRow, clk.now())
	ob.add(t, notion.Booking{Email: "jane@example.com", MeetingAt: t0.Add(72 * time.Hour)}, clk.now())
	ob.add(t, notion.BXSignup{Email: "jane@example.com", Name: "Jane", At: t0}, clk.now())

	// A 429 whose Retry-After (90 s) is longer than the client waits in a call.
	srv.FailNext(1, 429, "rate_limited", 90*time.Second)
	if n := drain(t, d); n != 0 {
		t.Fatalf("applied %d during a rate limit", n)
	}
	it, _ := ob.item(first)
	if it.Attempts != 1 || it.NextAt.Before(t0.Add(90*time.Second)) || !strings.Contains(it.LastError, "429") {
		t.Fatalf("after 429: attempts %d, next %v, error %q", it.Attempts, it.NextAt.Sub(t0), it.LastError)
	}
	if got := srv.Count("", ""); got != 1 {
		t.Errorf("requests in the failed pass = %d, want 1 (the pass stops)", got)
	}

	// Held off: nothing is sent before the Retry-After.
	clk.advance(60 * time.Second)
	if drain(t, d); srv.Count("", "") != 1 {
		t.Fatalf("a pass ran during the hold")
	}

	// Then Notion fails with 500s for a while, landing one create blind.
	clk.advance(31 * time.Second)
	srv.FailNext(3, 500, "internal_server_error", -1)
	srv.LandThenFailOn("POST", "/v1/pages", 1, 504, "gateway_timeout")
	for range 20 {
		clk.advance(31 * time.Minute) // past any backoff
		drain(t, d)
		if ob.len() == 0 {
			break
		}
	}

	if n := ob.len(); n != 0 {
		t.Fatalf("%d items left in the outbox", n)
	}
	seen := map[int]int{}
	for _, r := range srv.Requests() {
		seen[r.Status]++
	}
	if seen[500] != 3 || seen[504] != 1 {
		t.Errorf("answers = %v, want the three 500s and the blind 504 to have happened", seen)
	}
	wantProps(t, onlyPage(t, srv, notiontest.SequenceDB), map[string]any{
		"Email": "jane@example.com", "Segment": "URGENT", "Email 2 Sent": "2025-12-01T10:31:00.000+00:00",
	})
	wantProps(t, onlyPage(t, srv, notiontest.AnalyticsDB), map[string]any{"Resend Email ID": "re_1"})
	wantProps(t, onlyPage(t, srv, notiontest.ContactsDB), map[string]any{"Name": "Jane"})
	p, _ := srv.Page(contact)
	wantProps(t, p, map[string]any{"Booking Status": "Booked", "Segment": "URGENT"})
}

func TestDrainer_ParksPermanentFailures(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	clk := &clock{t: t0}
	ob := newOutbox()
	d := newDrainer(c, ob, clk)

	refused := ob.add(t, sentRow, clk.now())
	ok := ob.add(t, notion.BXSignup{Email: "jane@example.com", At: t0}, clk.now())
	srv.FailNext(1, 400, "validation_error", -1)

	if n := drain(t, d); n != 1 {
		t.Fatalf("applied %d, want the second item despite the first", n)
	}
	msg, parked := ob.parkedErr(refused)
	if !parked || !strings.Contains(msg, "validation_error") {
		t.Errorf("first item parked = %v (%q), want parked with the reason", parked, msg)
	}
	if _, left := ob.item(ok); left {
		t.Error("second item still queued")
	}

	// Parked items are not retried.
	clk.advance(time.Hour)
	if drain(t, d); srv.Count("POST", "/v1/pages") != 1 {
		t.Errorf("creates = %d, want 1 (only the BusinessX contact)", srv.Count("POST", "/v1/pages"))
	}
}

func TestDrainer_ParksBadItems(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, func(cfg *notion.Config) { cfg.ContactsDB = "" })
	clk := &clock{t: t0}
	ob := newOutbox()
	d := newDrainer(c, ob, clk)
	ob.items["garbled"] = &store.OutboxItem{ID: "garbled", Kind: notion.KindAnalytics, Payload: []byte(`{"email":`)}
	ob.items["unknown"] = &store.OutboxItem{ID: "unknown", Kind: "fax", Payload: []byte(`{}`)}
	unconfigured := ob.add(t, notion.BXSignup{Email: "jane@example.com", At: t0}, clk.now())

	drain(t, d)

	for _, id := range []string{"garbled", "unknown", unconfigured} {
		if msg, parked := ob.parkedErr(id); !parked {
			t.Errorf("%s not parked", id)
		} else if id == unconfigured && !strings.Contains(msg, "NOTION_CONTACTS_DB_ID") {
			t.Errorf("%s parked with %q, want the missing variable named", id, msg)
		}
	}
}

func TestDrainer_ParksAfterMaxAge(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	clk := &clock{t: t0}
	ob := newOutbox()
	d := newDrainer(c, ob, clk)
	id := ob.add(t, sentRow, clk.now())
	srv.SetDown(true)

	clk.advance(d.MaxAge + time.Minute)
	drain(t, d)

	if msg, parked := ob.parkedErr(id); !parked || !strings.Contains(msg, "still failing") {
		t.Errorf("parked = %v (%q), want parked after MaxAge", parked, msg)
	}
}

func TestDrainer_RunWakes(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	clk := &clock{t: t0}
	ob := newOutbox()
	d := newDrainer(c, ob, clk)
	d.Interval = time.Hour // only Wake can start the second pass
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(stopped)
	}()

	for i := range 2 {
		ob.add(t, notion.BXSignup{Email: "jane@example.com", At: t0.Add(time.Duration(i) * time.Hour)}, clk.now())
		d.Wake()
		select {
		case <-ob.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("item %d not drained after Wake", i+1)
		}
	}
	cancel()
	<-stopped

	wantProps(t, onlyPage(t, srv, notiontest.ContactsDB), map[string]any{
		"Last Signup Date": "2025-12-01T11:30:00.000+00:00",
	})
}
