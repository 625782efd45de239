package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/notion/notiontest"
	"perfect/internal/resend/resendtest"
)

// The Notion end-to-end tests run the real binary against a fake Resend
// and a fake Notion that holds the legacy databases (notiontest), on a
// clock 60 times faster than real time, in TESTING_MODE.

const notionSpeed = 60

// Addresses of the fixtures posted by postAll.
const (
	christmasEmail = "e2e-critical-segment@example.com"
	noShowEmail    = "e2e-noshow-test@example.com"
	postCallEmail  = "e2e-postcall-test@example.com"
	onboardEmail   = "e2e-onboarding-test@example.com"
	bookerEmail    = "e2e-booker@example.com"
	bxEmail        = "e2e-businessx@example.com"
)

// sendsPerPostAll is what postAll plans: 4 (5-day E2-E5) + 3 no-show +
// 3 post-call + 3 onboarding + 3 reminders + 5 BusinessX.
const sendsPerPostAll = 21

// filler makes every template body longer than one rich-text segment.
var filler = strings.Repeat("Notion keeps this paragraph in its own segment. ", 40)

// notionRig is one perfect serve wired to a fake Resend and a fake Notion.
type notionRig struct {
	t      *testing.T
	ns     *notiontest.Server
	rs     *resendtest.Server
	p      *proc
	env    []string
	clock  func() time.Time
	epoch  time.Time
	warmed time.Time // the clock when the template cache was warm
}

type rigOptions struct {
	ttl string
	// front, when set, stands between perfect and the fake Notion.
	front func(next http.Handler) http.Handler
	epoch time.Time
	// unsubscribe adds an `Unsubscribed` checkbox to both contacts
	// databases and sets NOTION_UNSUBSCRIBE_PROPERTY to it.
	unsubscribe bool
}

func newNotionRig(t *testing.T, o rigOptions) *notionRig {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	perfectBinary(t) // build first: the simulated clock starts now
	anchor := time.Now()
	epoch := o.epoch
	if epoch.IsZero() {
		epoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	}
	clock := func() time.Time { return epoch.Add(time.Duration(float64(time.Since(anchor)) * notionSpeed)) }

	schemas := notiontest.LegacySchemas()
	if o.unsubscribe {
		schemas[notiontest.BusinessXDB]["Unsubscribed"] = "checkbox"
		schemas[notiontest.ContactsDB]["Unsubscribed"] = "checkbox"
	}
	r := &notionRig{t: t, ns: notiontest.New(t, schemas), rs: resendtest.NewServer(t), clock: clock, epoch: epoch}
	r.ns.SetNow(clock)
	r.rs.SetClock(clock)
	seedTemplates(r.ns)
	// The website owns the BusinessX Canada contacts: perfect updates them.
	r.ns.AddPage(notiontest.BusinessXDB, map[string]any{"email": christmasEmail, "first_name": "Critical"})
	r.ns.AddPage(notiontest.BusinessXDB, map[string]any{"email": bookerEmail, "first_name": "Booker"})

	notionURL := r.ns.URL()
	if o.front != nil {
		front := httptest.NewServer(o.front(r.ns))
		t.Cleanup(front.Close)
		notionURL = front.URL
	}
	r.env = []string{
		"TESTING_MODE=true",
		"PERFECT_DATA_DIR=" + t.TempDir(),
		"RESEND_API_KEY=re_test_key",
		"RESEND_BASE_URL=" + r.rs.URL,
		"RESEND_RATE_LIMIT=50",
		"EMAIL_FROM=Perfect Test <sender@example.com>",
		"SHUTDOWN_TIMEOUT=2s",
		"NOTION_RATE_LIMIT=50",
		"TEMPLATE_CACHE_TTL=" + o.ttl,
		fmt.Sprintf("PERFECT_FAKE_CLOCK=epoch=%s,anchor=%s,speed=%d",
			epoch.Format(time.RFC3339Nano), anchor.Format(time.RFC3339Nano), notionSpeed),
		"LOG_LEVEL=debug",
	}
	if o.unsubscribe {
		r.env = append(r.env, "NOTION_UNSUBSCRIBE_PROPERTY=Unsubscribed")
	}
	for k, v := range r.ns.Env() {
		if k == "NOTION_BASE_URL" {
			v = notionURL
		}
		r.env = append(r.env, k+"="+v)
	}
	r.p = start(t, freePort(t), r.env)
	r.waitLog("notion templates warmed", 20*time.Second)
	r.warmed = clock()
	return r
}

// seedTemplates adds a template page for every name the flows use, with
// subject and body split over several rich-text segments: the Christmas
// names in the Email Templates DB, the BusinessX ones in theirs.
func seedTemplates(ns *notiontest.Server) {
	for _, name := range flows.TemplateNames() {
		subject := []string{name + ": ", "for {{first_name}}"}
		body := []string{"<p>Hello {{first_name}},</p>", "<p>Template " + name + " from Notion.</p>",
			"<p>" + filler + "</p>"}
		if strings.HasPrefix(name, "email_") {
			ns.AddPage(notiontest.BXTemplatesDB, map[string]any{
				"Template Name": name, "Subject": subject, "HTML Body": body, "Status": "Active"})
			continue
		}
		ns.AddPage(notiontest.EmailTemplatesDB, map[string]any{
			"Template Name": name, "Subject Line": subject, "Email Body HTML": body, "Status": "Active"})
	}
}

// postAll posts one of each webhook: the Christmas fixtures of the legacy
// test suite, a Cal.com booking and a BusinessX signup and assessment.
func (r *notionRig) postAll() time.Time {
	r.t.Helper()
	signup := fixture(r.t, "test_customer_data.json", "lead_nurture_critical")
	delete(signup, "expected_segment")
	posts := []struct {
		path string
		body any
	}{
		{"/webhook/christmas-signup", signup},
		{"/webhook/calendly-noshow", fixture(r.t, "calendly_noshow_payload.json", "valid_payload")},
		{"/webhook/postcall-maybe", fixture(r.t, "crm_postcall_payload.json", "valid_payload")},
		{"/webhook/onboarding-start", fixture(r.t, "docusign_completion_payload.json", "valid_payload")},
		{"/webhook/signup", map[string]any{"email": bxEmail, "name": "Bea Exxon", "first_name": "Bea",
			"business_name": "Bea's Barbers", "signup_source": "webinar"}},
		{"/webhook/assessment", map[string]any{"email": bxEmail, "red_systems": 2, "orange_systems": 1,
			"yellow_systems": 3, "green_systems": 2, "assessment_score": 41}},
	}
	// The meeting is written with the attendee's offset; its date there
	// is the call date Notion must show.
	meeting := r.clock().Add(10 * time.Minute).Truncate(time.Second)
	posts = append(posts, struct {
		path string
		body any
	}{"/webhook/calcom-booking", map[string]any{
		"triggerEvent": "BOOKING_CREATED",
		"payload": map[string]any{
			"uid": "notion-e2e-booking", "startTime": meeting.In(toronto).Format(time.RFC3339),
			"attendees": []any{map[string]any{"email": bookerEmail, "name": "Booker Person"}},
		},
	}})
	for _, post := range posts {
		began := time.Now()
		r.p.post(post.path, post.body)
		// The answer never waits for Notion.
		if d := time.Since(began); d > 2*time.Second {
			r.t.Errorf("POST %s took %s", post.path, d)
		}
	}
	return meeting
}

var toronto = time.FixedZone("EST", -5*3600)

// waitLog waits until the service logged msg.
func (r *notionRig) waitLog(msg string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(r.p.output(), msg) {
		if time.Now().After(deadline) {
			r.t.Fatalf("no %q in the log:\n%s", msg, r.p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// health returns /health.
func (r *notionRig) health() map[string]any {
	r.t.Helper()
	resp, err := http.Get(r.p.url + "/health")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *notionRig) outboxCounts() (pending, parked int) {
	eng, _ := r.health()["engine"].(map[string]any)
	p, _ := eng["outbox_pending"].(float64)
	k, _ := eng["outbox_parked"].(float64)
	return int(p), int(k)
}

// waitOutboxEmpty waits until every step is recorded as sent and every
// tracking write landed.
func (r *notionRig) waitOutboxEmpty(timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		unsent := 0
		for _, s := range r.p.steps() {
			if s.Status != "sent" {
				unsent++
			}
		}
		if unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d steps not recorded as sent\n%s", unsent, r.p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		pending, parked := r.outboxCounts()
		if parked > 0 {
			r.t.Fatalf("%d outbox items parked:\n%s", parked, r.queueOutbox())
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d outbox items still pending:\n%s\n%s", pending, r.queueOutbox(), r.p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueOutbox runs `perfect queue ls --outbox` against the server.
func (r *notionRig) queueOutbox() string {
	r.t.Helper()
	cmd := exec.Command(perfectBinary(r.t), "queue", "ls", "--outbox")
	cmd.Env = append(os.Environ(), append(r.env, "PERFECT_URL="+r.p.url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("perfect queue ls --outbox: %v\n%s", err, out)
	}
	return string(out)
}

// waitSends waits for n emails and checks none was sent twice.
func (r *notionRig) waitSends(n int) []resendtest.Received {
	r.t.Helper()
	if !r.rs.WaitFor(n, 60*time.Second) {
		r.t.Fatalf("got %d of %d emails\n%s", len(r.rs.Received()), n, r.p.output())
	}
	got := r.rs.Received()
	if len(got) != n {
		r.t.Fatalf("received %d emails, want %d", len(got), n)
	}
	for key, c := range r.rs.CountByKey() {
		if c != 1 {
			r.t.Errorf("key %s sent %d times", key, c)
		}
	}
	return got
}

// sendsOnTime checks each email went out at its due time, within slack.
func sendsOnTime(t *testing.T, got []resendtest.Received, due map[string]stepJSON, slack time.Duration) {
	t.Helper()
	for _, r := range got {
		s, ok := due[r.Key]
		if !ok {
			t.Errorf("email with unknown Idempotency-Key %q", r.Key)
			continue
		}
		if late := r.At.Sub(s.DueAt); late < 0 || late > slack {
			t.Errorf("%s (%s) due %s sent %s: %s late, want within %s",
				s.ID, s.Template, s.DueAt.Format(time.TimeOnly), r.At.Format(time.TimeOnly), late, slack)
		}
	}
}

func stepsByID(steps []stepJSON) map[string]stepJSON {
	m := map[string]stepJSON{}
	for _, s := range steps {
		m[s.ID] = s
	}
	return m
}

// TestE2E_NotionTrackingAndTemplates runs every webhook with Notion
// configured and checks the emails carry Notion's templates and that
// the contacts, sequence records and analytics rows are written with the
// legacy property names (legacy §6), each once.
func TestE2E_NotionTrackingAndTemplates(t *testing.T) {
	// Late evening in Toronto is already the next day in UTC.
	r := newNotionRig(t, rigOptions{ttl: "5m", epoch: time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC),
		unsubscribe: true})
	h := r.health()
	if in, _ := h["integrations"].(map[string]any); in["notion"] != "live" || in["templates"] != "notion" {
		t.Errorf("/health integrations %v, want notion live and templates notion", in)
	}
	if !strings.Contains(r.p.output(), "notion live") {
		t.Errorf("start-up log does not say Notion is live:\n%s", r.p.output())
	}

	meeting := r.postAll()
	if meeting.In(toronto).Format(time.DateOnly) == meeting.UTC().Format(time.DateOnly) {
		t.Fatal("the test meeting should fall on another day in UTC")
	}
	steps := r.p.steps()
	if len(steps) != sendsPerPostAll {
		t.Fatalf("planned %d steps, want %d", len(steps), sendsPerPostAll)
	}
	due := stepsByID(steps)
	got := r.waitSends(sendsPerPostAll)
	r.waitOutboxEmpty(60 * time.Second)
	sendsOnTime(t, got, due, 30*time.Second)

	for _, m := range got {
		s := due[m.Key]
		if !strings.HasPrefix(m.Body.Subject, s.Template+": for ") {
			t.Errorf("%s subject %q, want the Notion subject", s.Template, m.Body.Subject)
		}
		if !strings.Contains(m.Body.HTML, "Template "+s.Template+" from Notion.") ||
			!strings.Contains(m.Body.HTML, filler) {
			t.Errorf("%s body is not the joined Notion body: %.200s", s.Template, m.Body.HTML)
		}
	}
	checkContacts(t, r.ns, meeting)
	checkSequences(t, r.ns, got, due)
	checkAnalytics(t, r.ns, got, due)
	checkBusinessX(t, r.ns, got, due)

	// One-click unsubscribes from the Christmas and the BusinessX contact
	// tick their `Unsubscribed` box (NOTION_UNSUBSCRIBE_PROPERTY).
	for _, email := range []string{christmasEmail, bxEmail} {
		r.oneClickUnsubscribe(got, email)
	}
	r.waitOutboxEmpty(30 * time.Second)
	for _, c := range []struct{ db, prop, email string }{
		{notiontest.BusinessXDB, "email", christmasEmail},
		{notiontest.ContactsDB, "Email", bxEmail},
	} {
		if p := onePage(t, r.ns.Find(c.db, c.prop, c.email), c.email); !p.Checkbox("Unsubscribed") {
			t.Errorf("%s: Unsubscribed not ticked after the unsubscribe", c.email)
		}
	}
	if p := onePage(t, r.ns.Find(notiontest.BusinessXDB, "email", bookerEmail), bookerEmail); p.Checkbox("Unsubscribed") {
		t.Error("a contact who did not unsubscribe is ticked")
	}
}

// oneClickUnsubscribe posts the RFC 8058 one-click request of the
// List-Unsubscribe header of an email sent to email.
func (r *notionRig) oneClickUnsubscribe(got []resendtest.Received, email string) {
	r.t.Helper()
	for _, m := range got {
		link := strings.Trim(m.Body.Headers["List-Unsubscribe"], "<>")
		if m.Body.To[0] != email || link == "" {
			continue
		}
		u, err := url.Parse(link)
		if err != nil {
			r.t.Fatal(err)
		}
		resp, err := http.Post(r.p.url+u.RequestURI(), "application/x-www-form-urlencoded",
			strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			r.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			r.t.Fatalf("one-click unsubscribe of %s: %d", email, resp.StatusCode)
		}
		return
	}
	r.t.Fatalf("no email to %s has a List-Unsubscribe header", email)
}

func onePage(t *testing.T, pages []notiontest.Page, what string) notiontest.Page {
	t.Helper()
	if len(pages) != 1 {
		t.Fatalf("%d pages for %s, want exactly 1", len(pages), what)
	}
	return pages[0]
}

// want checks text properties of a page.
func want(t *testing.T, p notiontest.Page, what string, props map[string]string) {
	t.Helper()
	for name, v := range props {
		if p.Type(name) == "" {
			t.Errorf("%s: the database has no property %q", what, name)
			continue
		}
		if got := p.Text(name); got != v {
			t.Errorf("%s: %s = %q, want %q", what, name, got, v)
		}
	}
}

// checkContacts checks the BusinessX Canada contacts (legacy §6.1).
func checkContacts(t *testing.T, ns *notiontest.Server, meeting time.Time) {
	t.Helper()
	c := onePage(t, ns.Find(notiontest.BusinessXDB, "email", christmasEmail), "the signup contact")
	want(t, c, "signup contact", map[string]string{"Assessment Score": "35", "Segment": "CRITICAL",
		"Christmas Campaign Status": "Nurture Sequence"})

	b := onePage(t, ns.Find(notiontest.BusinessXDB, "email", bookerEmail), "the booker contact")
	want(t, b, "booker contact", map[string]string{"Booking Status": "Booked",
		"Christmas Campaign Status": "Pre-Call Prep",
		"Diagnostic Call Date":      meeting.In(toronto).Format(time.DateOnly)})
	if n := len(ns.Pages(notiontest.BusinessXDB)); n != 2 {
		t.Errorf("%d BusinessX Canada contacts, want the 2 seeded (none is created)", n)
	}
}

// sentAtByRecord maps "email|template type" to the emails of that record.
func sentByRecord(got []resendtest.Received, due map[string]stepJSON) map[string][]resendtest.Received {
	out := map[string][]resendtest.Received{}
	for _, m := range got {
		s := due[m.Key]
		f, _ := flows.ByName(s.Flow)
		out[s.Email+"|"+f.SequenceType] = append(out[s.Email+"|"+f.SequenceType], m)
	}
	return out
}

// checkSequences checks one Email Sequence record per contact and
// sequence (legacy §6.2), with `Email {n} Sent` near each send.
func checkSequences(t *testing.T, ns *notiontest.Server, got []resendtest.Received, due map[string]stepJSON) {
	t.Helper()
	records := []struct {
		email, typ string
		props      map[string]string
	}{
		{christmasEmail, "", map[string]string{"First Name": "Critical", "Business Name": "Critical Test Salon",
			"Campaign": "Christmas 2025", "Segment": "CRITICAL", "Assessment Score": "35", "Red Systems": "3",
			"Orange Systems": "2", "Yellow Systems": "1", "Green Systems": "0"}},
		{noShowEmail, "No-Show Recovery", map[string]string{"First Name": "NoShow Test",
			"Business Name": "NoShow Test Salon", "Campaign": "Christmas 2025",
			"Calendly Event URI": "https://calendly.com/events/E2E-TEST-NOSHOW-001",
			"Scheduled Time":     "2025-12-01T14:00:00Z", "Event Type": "Discovery Call - $2997 Diagnostic"}},
		{postCallEmail, "Post-Call Follow-Up", map[string]string{"First Name": "PostCall Test",
			"Campaign": "Christmas 2025", "Call Date": "2025-12-01T14:30:00Z", "Call Outcome": "Maybe",
			"Call Notes":         "Interested but needs budget approval from business partner",
			"Objections":         "Price, Timing",
			"Follow-Up Priority": "High"}},
		{onboardEmail, "Onboarding", map[string]string{"First Name": "Onboarding Test",
			"Campaign": "Christmas 2025", "Payment Amount": "2997",
			"Package Type":      "Phase 1 - Traditional Service Diagnostic",
			"Salon Address":     "123 Main Street, Toronto, ON M5V 2T6",
			"Observation Dates": "2025-12-10, 2025-12-17", "Start Date": "2025-12-10"}},
		{bookerEmail, "Pre-Call Reminder", map[string]string{"First Name": "Booker", "Campaign": "Christmas 2025"}},
	}
	sent := sentByRecord(got, due)
	all := ns.Pages(notiontest.SequenceDB)
	if len(all) != len(records) {
		t.Errorf("%d Email Sequence records, want %d", len(all), len(records))
	}
	for _, rec := range records {
		var pages []notiontest.Page
		for _, p := range ns.Find(notiontest.SequenceDB, "Email", rec.email) {
			if p.Text("Template Type") == rec.typ {
				pages = append(pages, p)
			}
		}
		what := fmt.Sprintf("sequence %q of %s", rec.typ, rec.email)
		p := onePage(t, pages, what)
		want(t, p, what, rec.props)
		if !p.Checkbox("Sequence Completed") {
			t.Errorf("%s: Sequence Completed not set after its last email", what)
		}
		if rec.typ == "" {
			if !p.Checkbox("Assessment Completed") || !p.Has("Signup Date") {
				t.Errorf("%s: Assessment Completed / Signup Date missing", what)
			}
			if p.Has("Email 1 Sent") {
				t.Errorf("%s: Email 1 Sent set, but the website sends E1", what)
			}
		} else if !p.Has("Sequence Created") {
			t.Errorf("%s: Sequence Created missing", what)
		}
		if rec.typ == "Onboarding" && p.Date("Payment Date") == "" {
			t.Errorf("%s: Payment Date missing", what)
		}
		for _, m := range sent[rec.email+"|"+rec.typ] {
			s := due[m.Key]
			prop := fmt.Sprintf("Email %d Sent", s.EmailNumber)
			at, ok := p.Time(prop)
			if !ok || absDur(at.Sub(m.At)) > time.Minute {
				t.Errorf("%s: %s = %q, want about %s", what, prop, p.Date(prop), m.At.Format(time.RFC3339))
			}
		}
	}
}

// checkAnalytics checks one Email Analytics row per send (legacy §6.4).
func checkAnalytics(t *testing.T, ns *notiontest.Server, got []resendtest.Received, due map[string]stepJSON) {
	t.Helper()
	rows := ns.Pages(notiontest.AnalyticsDB)
	if len(rows) != len(got) {
		t.Errorf("%d analytics rows, want one per email (%d)", len(rows), len(got))
	}
	for _, m := range got {
		s := due[m.Key]
		var match []notiontest.Page
		for _, row := range ns.Find(notiontest.AnalyticsDB, "Email", s.Email) {
			if row.Text("Template ID") == s.Template && row.Text("Email Number") == fmt.Sprint(s.EmailNumber) {
				match = append(match, row)
			}
		}
		what := "analytics row of " + s.Template + " to " + s.Email
		row := onePage(t, match, what)
		campaign := "Christmas Campaign"
		if s.Flow == flows.BusinessXAssess {
			campaign = "BusinessX"
		}
		want(t, row, what, map[string]string{"Status": "sent", "Resend Email ID": m.ID, "Campaign": campaign})
		if at, ok := row.Time("Sent Date"); !ok || absDur(at.Sub(m.At)) > time.Minute {
			t.Errorf("%s: Sent Date %q, want about %s", what, row.Date("Sent Date"), m.At)
		}
		if row.Has("Error Message") {
			t.Errorf("%s: Error Message set on a sent row", what)
		}
	}
}

// checkBusinessX checks the BusinessX contact (legacy §6.6): created by
// the signup, assessed, and its five emails ticked.
func checkBusinessX(t *testing.T, ns *notiontest.Server, got []resendtest.Received, due map[string]stepJSON) {
	t.Helper()
	c := onePage(t, ns.Find(notiontest.ContactsDB, "Email", bxEmail), "the BusinessX contact")
	want(t, c, "BusinessX contact", map[string]string{"Name": "Bea Exxon", "First Name": "Bea",
		"Business Name": "Bea's Barbers", "Signup Source": "webinar", "Segment": "CRITICAL",
		"Red Systems": "2", "Orange Systems": "1", "Yellow Systems": "3", "Green Systems": "2",
		"Assessment Score": "41"})
	if !c.Has("Signup Date") || !c.Checkbox("Assessment Completed") || !c.Checkbox("Sequence Complete") {
		t.Errorf("BusinessX contact: Signup Date, Assessment Completed or Sequence Complete missing")
	}
	for _, m := range got {
		s := due[m.Key]
		if s.Flow != flows.BusinessXAssess {
			continue
		}
		if !c.Checkbox(fmt.Sprintf("Email %d Sent", s.EmailNumber)) || !c.Has(fmt.Sprintf("Email %d Sent Date", s.EmailNumber)) {
			t.Errorf("BusinessX contact: Email %d Sent not ticked", s.EmailNumber)
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// flakyNotion stands in front of the fake Notion: it answers 429 with
// Retry-After to the first requests, then 500 to everything for a while,
// then lets requests through.
type flakyNotion struct {
	next http.Handler

	mu          sync.Mutex
	armed       bool
	rateLimited int           // 429 answers left
	downFor     time.Duration // 500 phase, real time, starting after the last 429
	downUntil   time.Time
	served429   int
	served500   int
}

func (f *flakyNotion) arm(rateLimited int, downFor time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.rateLimited, f.downFor = true, rateLimited, downFor
}

func (f *flakyNotion) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served429, f.served500
}

func (f *flakyNotion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	status := 0
	switch {
	case !f.armed:
	case f.rateLimited > 0:
		f.rateLimited--
		f.served429++
		status = http.StatusTooManyRequests
		if f.rateLimited == 0 {
			f.downUntil = time.Now().Add(f.downFor)
		}
	case time.Now().Before(f.downUntil):
		f.served500++
		status = http.StatusInternalServerError
	}
	f.mu.Unlock()
	if status == 0 {
		f.next.ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	code := "internal_server_error"
	if status == http.StatusTooManyRequests {
		code = "rate_limited"
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "error", "status": status, "code": code,
		"message": "notion is having a bad day"})
}

// TestE2E_NotionOutage: Notion answers 429 with Retry-After, then 500 for
// a while, then recovers (with two page creates landing but answered 500).
// Every tracking write lands exactly once, and no email waits for Notion.
func TestE2E_NotionOutage(t *testing.T) {
	flaky := &flakyNotion{}
	r := newNotionRig(t, rigOptions{ttl: "1h", front: func(next http.Handler) http.Handler {
		flaky.next = next
		return flaky
	}})

	// Four simulated minutes of 500s after the 429s: every first send and
	// several emails fall inside the outage.
	flaky.arm(3, 4*time.Second)
	// After the outage, the first two creates land but their answer is lost.
	r.ns.LandThenFailOn("POST", "/v1/pages", 2, 500, "internal_server_error")
	meeting := r.postAll()
	steps := r.p.steps()
	due := stepsByID(steps)

	// While Notion fails, the writes wait in the outbox, visible.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pending, _ := r.outboxCounts(); pending > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/health never counted pending outbox items during the outage")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := r.queueOutbox(); !strings.Contains(out, "notion.") {
		t.Errorf("perfect queue ls --outbox shows no notion item during the outage:\n%s", out)
	}

	got := r.waitSends(sendsPerPostAll)
	sendsOnTime(t, got, due, 30*time.Second)

	r.waitOutboxEmpty(60 * time.Second)
	n429, n500 := flaky.counts()
	t.Logf("fake Notion answered %d 429s and %d 500s; %d requests reached it",
		n429, n500, len(r.ns.Requests()))
	if n429 != 3 || n500 == 0 {
		t.Errorf("fake Notion answered %d 429s and %d 500s, want 3 and some", n429, n500)
	}
	lost := 0
	for _, req := range r.ns.Requests() {
		if req.Method == "POST" && req.Path == "/v1/pages" && req.Status == 500 {
			lost++
		}
	}
	if lost != 2 {
		t.Errorf("%d page creates landed with a lost answer, want 2", lost)
	}
	if !strings.Contains(r.p.output(), "outbox item will be retried") {
		t.Error("no retry was logged")
	}

	checkContacts(t, r.ns, meeting)
	checkSequences(t, r.ns, got, due)
	checkAnalytics(t, r.ns, got, due)
	checkBusinessX(t, r.ns, got, due)
}

// TestE2E_NotionTemplateEdit: a template edited in Notion after an email
// used it is picked up once TEMPLATE_CACHE_TTL has passed, and not before.
func TestE2E_NotionTemplateEdit(t *testing.T) {
	const ttl = 5 * time.Minute
	r := newNotionRig(t, rigOptions{ttl: ttl.String()})
	const tpl = "noshow_recovery_email_1"
	page := onePage(t, r.ns.Find(notiontest.EmailTemplatesDB, "Template Name", tpl), tpl)

	noShow := func(email string) {
		body := fixture(t, "calendly_noshow_payload.json", "valid_payload")
		body["email"] = email
		r.p.post("/webhook/calendly-noshow", body)
	}
	firstEmailTo := func(email string) resendtest.Received {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range r.rs.Received() {
				if m.Body.To[0] == email && strings.HasPrefix(m.Body.Subject, tpl+":") {
					return m
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no %s to %s\n%s", tpl, email, r.p.output())
		return resendtest.Received{}
	}

	noShow("edit-a@example.com")
	a := firstEmailTo("edit-a@example.com")
	r.ns.SetProps(page.ID, map[string]any{"Email Body HTML": []string{"<p>Edited in Notion, ", "{{first_name}}.</p>"}})

	// Within the TTL the cached text is still used.
	noShow("edit-b@example.com")
	b := firstEmailTo("edit-b@example.com")
	if b.At.Sub(r.warmed) >= ttl {
		t.Fatalf("second email sent %s after the cache was warm; the test needs it within %s", b.At.Sub(r.warmed), ttl)
	}

	// Once the TTL has passed, the next email reads Notion again.
	for r.clock().Sub(r.warmed) < ttl {
		time.Sleep(20 * time.Millisecond)
	}
	noShow("edit-c@example.com")
	c := firstEmailTo("edit-c@example.com")

	for _, m := range []resendtest.Received{a, b} {
		if !strings.Contains(m.Body.HTML, "Template "+tpl+" from Notion.") {
			t.Errorf("email to %s within the TTL: %.120s, want the original text", m.Body.To[0], m.Body.HTML)
		}
	}
	if c.Body.HTML != "<p>Edited in Notion, NoShow Test.</p>" {
		t.Errorf("email after the TTL: %q, want the edited text", c.Body.HTML)
	}
}

// runPerfect runs a one-shot command of the binary and returns its exit
// code and combined output.
func runPerfect(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(perfectBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("perfect %v: %v", args, err)
	}
	return 0, string(out)
}

// A Notion configuration error stops start-up with one line naming the
// variable.
func TestE2E_NotionConfigErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{name: "templates database missing", env: []string{"NOTION_TOKEN=secret_x"},
			want: "NOTION_EMAIL_TEMPLATES_DB_ID must be set when NOTION_TOKEN is set"},
		{name: "not a database id", env: []string{"NOTION_TOKEN=secret_x",
			"NOTION_EMAIL_TEMPLATES_DB_ID=0b1e7a11000040008000000000000001",
			"NOTION_EMAIL_SEQUENCE_DB_ID=https://www.notion.so/sequences"},
			want: "NOTION_EMAIL_SEQUENCE_DB_ID must be a Notion database id"},
		{name: "bad base URL", env: []string{"NOTION_TOKEN=secret_x",
			"NOTION_EMAIL_TEMPLATES_DB_ID=0b1e7a11000040008000000000000001", "NOTION_BASE_URL=notion.local"},
			want: "NOTION_BASE_URL must be an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"PERFECT_DATA_DIR=" + t.TempDir(), fmt.Sprintf("PORT=%d", freePort(t))}, tt.env...)
			code, out := runPerfect(t, env, "serve")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("serve exited %d with %q, want 2 and one line naming %q", code, out, tt.want)
			}
			if strings.Contains(out, "secret_x") {
				t.Errorf("the token is printed: %s", out)
			}
		})
	}
}

// `perfect templates check` reads Notion when it is configured, and names
// the templates Notion lacks with the reason.
func TestE2E_TemplatesCheckNotion(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	ns := notiontest.NewLegacy(t)
	seedTemplates(ns)
	id := onePage(t, ns.Find(notiontest.EmailTemplatesDB, "Template Name", "5-Day E3"), "5-Day E3").ID
	ns.SetProps(id, map[string]any{"Status": "Inactive"})
	ns.Archive(onePage(t, ns.Find(notiontest.EmailTemplatesDB, "Template Name", "precall_reminder_2"), "").ID)

	var env []string
	for k, v := range ns.Env() {
		env = append(env, k+"="+v)
	}
	code, out := runPerfect(t, env, "templates", "check")
	if code != 1 {
		t.Errorf("templates check exited %d, want 1 (two templates unusable)\n%s", code, out)
	}
	for _, want := range []string{"SOURCE (notion)", "MISSING: not active (Status: Inactive)",
		"MISSING: not found", "2 template(s) missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(line, "  ")
		switch name {
		case "5-Day E3", "precall_reminder_2":
			if !strings.Contains(line, "MISSING") {
				t.Errorf("%s not reported missing: %q", name, line)
			}
		case "5-Day E2", "email_1":
			if !strings.Contains(line, " ok ") && !strings.HasSuffix(strings.TrimSpace(line), "]") {
				t.Errorf("%s not ok: %q", name, line)
			}
		}
	}
}
