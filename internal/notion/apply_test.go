package notion_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/notion"
	"perfect/internal/notion/notiontest"
)

var (
	t0     = time.Date(2025, 12, 1, 10, 30, 0, 0, time.UTC)
	t0Text = "2025-12-01T10:30:00.000+00:00" // how Notion writes t0 back
)

func applyTwice(t *testing.T, c *notion.Client, op notion.Op) {
	t.Helper()
	for i := range 2 {
		if err := c.Apply(context.Background(), op); err != nil {
			t.Fatalf("apply #%d: %v", i+1, err)
		}
	}
}

func TestApply_ChristmasAssessment(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	contact := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com", "first_name": "Jane"})

	applyTwice(t, c, notion.ChristmasAssessment{
		Email: "jane@example.com", FirstName: "Jane", BusinessName: "Jane's Salon",
		Score: 72, Segment: "URGENT", Red: 1, Orange: 2, Yellow: 3, Green: 2, SignedUpAt: t0,
	})

	p, _ := srv.Page(contact)
	wantProps(t, p, map[string]any{
		"Assessment Score": "72", "Segment": "URGENT", "Christmas Campaign Status": "Nurture Sequence",
		"Booking Status": nil,
	})
	wantProps(t, onlyPage(t, srv, notiontest.SequenceDB), map[string]any{
		"Email": "jane@example.com", "First Name": "Jane", "Business Name": "Jane's Salon",
		"Campaign": "Christmas 2025", "Segment": "URGENT", "Assessment Score": "72",
		"Red Systems": "1", "Orange Systems": "2", "Yellow Systems": "3", "Green Systems": "2",
		"Signup Date": t0Text, "Assessment Completed": true, "Sequence Completed": false,
		"Template Type": nil, "Sequence Created": nil, "Email 1 Sent": nil,
	})
}

func TestApply_ChristmasAssessment_ExistingRecord(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	// The website created the record and marked E1; no contact exists.
	id := srv.AddPage(notiontest.SequenceDB, map[string]any{
		"Email": "jane@example.com", "Email 1 Sent": "2025-12-01T09:00:00Z", "Campaign": "Christmas 2025",
	})

	applyTwice(t, c, notion.ChristmasAssessment{
		Email: "Jane@Example.com", FirstName: "Jane", Score: 40, Segment: "OPTIMIZE", SignedUpAt: t0,
	})

	if n := len(srv.Pages(notiontest.SequenceDB)); n != 1 {
		t.Fatalf("sequence records = %d, want the website's one", n)
	}
	p, _ := srv.Page(id)
	wantProps(t, p, map[string]any{
		"Email": "jane@example.com", "First Name": "Jane", "Segment": "OPTIMIZE", "Assessment Score": "40",
		"Signup Date": t0Text, "Assessment Completed": true, "Email 1 Sent": "2025-12-01T09:00:00.000+00:00",
	})
	if n := len(srv.Pages(notiontest.BusinessXDB)); n != 0 {
		t.Errorf("contacts = %d, want none created", n)
	}
}

func TestApply_SequenceStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   notion.SequenceStart
		want map[string]any
	}{
		{
			name: "no-show",
			op: notion.SequenceStart{SequenceType: notion.SequenceNoShow, CalendlyEventURI: "https://calendly.test/e/1",
				ScheduledTime: "2025-12-02T15:00:00Z", EventType: "Discovery Call"},
			want: map[string]any{"Template Type": "No-Show Recovery", "Calendly Event URI": "https://calendly.test/e/1",
				"Scheduled Time": "2025-12-02T15:00:00Z", "Event Type": "Discovery Call", "Call Notes": nil},
		},
		{
			name: "post-call",
			op: notion.SequenceStart{SequenceType: notion.SequencePostCall, CallDate: "2025-12-01",
				CallOutcome: "Maybe", FollowUpPriority: "High", CallNotes: "Needs to think",
				Objections: []string{"price", "timing"}},
			want: map[string]any{"Template Type": "Post-Call Follow-Up", "Call Date": "2025-12-01",
				"Call Outcome": "Maybe", "Follow-Up Priority": "High", "Call Notes": "Needs to think",
				"Objections": "price, timing"},
		},
		{
			name: "onboarding",
			op: notion.SequenceStart{SequenceType: notion.SequenceOnboarding, PaymentAmount: 2997,
				PaymentDate: "2025-11-28", PackageType: "Phase 1", SalonAddress: "1 Main St",
				ObservationDates: []string{"2025-12-03", "2025-12-04"}, StartDate: "not a date"},
			want: map[string]any{"Template Type": "Onboarding", "Payment Amount": "2997",
				"Payment Date": "2025-11-28", "Package Type": "Phase 1", "Salon Address": "1 Main St",
				"Observation Dates": "2025-12-03, 2025-12-04", "Start Date": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := setup(t)
			// The 5-day record of the same contact must not be taken for this one.
			srv.AddPage(notiontest.SequenceDB, map[string]any{"Email": "jane@example.com"})
			op := tt.op
			op.Email, op.FirstName, op.BusinessName, op.CreatedAt = "jane@example.com", "Jane", "Salon", t0

			applyTwice(t, c, op)

			got := srv.Find(notiontest.SequenceDB, "Template Type", op.SequenceType)
			if len(got) != 1 {
				t.Fatalf("records of %s = %d, want 1", op.SequenceType, len(got))
			}
			wantProps(t, got[0], tt.want)
			wantProps(t, got[0], map[string]any{"Email": "jane@example.com", "First Name": "Jane",
				"Business Name": "Salon", "Campaign": "Christmas 2025", "Sequence Created": t0Text,
				"Sequence Completed": false, "Segment": nil, "Signup Date": nil})
		})
	}
}

func TestApply_Booking(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	contact := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})
	// 23:30 in Toronto is already the next day in UTC.
	meeting := time.Date(2025, 12, 5, 4, 30, 0, 0, time.UTC)

	applyTwice(t, c, notion.Booking{Email: "jane@example.com", MeetingAt: meeting, TimeZone: "America/Toronto"})
	if err := c.Apply(context.Background(), notion.Booking{Email: "nobody@example.com", MeetingAt: meeting}); err != nil {
		t.Fatalf("booking of an unknown contact: %v", err)
	}

	p, _ := srv.Page(contact)
	wantProps(t, p, map[string]any{"Booking Status": "Booked", "Christmas Campaign Status": "Pre-Call Prep",
		"Diagnostic Call Date": "2025-12-04"})
	if n := len(srv.Pages(notiontest.BusinessXDB)); n != 1 {
		t.Errorf("contacts = %d, want 1 (none created)", n)
	}
}

func TestApply_EmailSent(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	fiveDay := srv.AddPage(notiontest.SequenceDB, map[string]any{"Email": "jane@example.com", "Campaign": "Christmas 2025"})
	noShow := srv.AddPage(notiontest.SequenceDB, map[string]any{"Email": "jane@example.com", "Template Type": "No-Show Recovery"})

	applyTwice(t, c, notion.EmailSent{Email: "jane@example.com", SequenceType: notion.SequenceNoShow, Number: 2, SentAt: t0})
	applyTwice(t, c, notion.EmailSent{Email: "jane@example.com", Number: 5, SentAt: t0, Last: true})

	p, _ := srv.Page(noShow)
	wantProps(t, p, map[string]any{"Email 2 Sent": t0Text, "Email 5 Sent": nil, "Sequence Completed": false})
	p, _ = srv.Page(fiveDay)
	wantProps(t, p, map[string]any{"Email 5 Sent": t0Text, "Email 2 Sent": nil, "Sequence Completed": true})
	if n := len(srv.Pages(notiontest.SequenceDB)); n != 2 {
		t.Errorf("records = %d, want 2", n)
	}
}

func TestApply_EmailSent_CreatesMissingRecord(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)

	// The email went out before the record's own op landed.
	applyTwice(t, c, notion.EmailSent{Email: "jane@example.com", SequenceType: notion.SequencePostCall,
		Number: 1, SentAt: t0, FirstName: "Jane"})
	applyTwice(t, c, notion.SequenceStart{Email: "jane@example.com", SequenceType: notion.SequencePostCall,
		FirstName: "Jane", BusinessName: "Salon", CreatedAt: t0.Add(-time.Minute), CallOutcome: "Maybe"})

	wantProps(t, onlyPage(t, srv, notiontest.SequenceDB), map[string]any{
		"Email": "jane@example.com", "Template Type": "Post-Call Follow-Up", "Email 1 Sent": t0Text,
		"First Name": "Jane", "Business Name": "Salon", "Call Outcome": "Maybe",
		"Sequence Created": "2025-12-01T10:29:00.000+00:00", "Campaign": "Christmas 2025",
	})
}

func TestApply_EmailSent_BusinessX(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	contact := srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com", "Name": "Jane Doe"})

	applyTwice(t, c, notion.EmailSent{Email: "jane@example.com", SequenceType: notion.SequenceBusinessX, Number: 5, SentAt: t0, Last: true})

	p, _ := srv.Page(contact)
	wantProps(t, p, map[string]any{"Email 5 Sent": true, "Email 5 Sent Date": t0Text, "Sequence Complete": true,
		"Email 1 Sent": false})
	if n := len(srv.Pages(notiontest.SequenceDB)); n != 0 {
		t.Errorf("sequence records = %d, want 0", n)
	}
}

func TestApply_Analytics(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	longErr := strings.Repeat("provider said no. ", 250) // 4500 characters

	applyTwice(t, c, notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E2", Number: 2,
		Status: notion.StatusSent, SentAt: t0, ResendID: "re_123"})
	applyTwice(t, c, notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E3", Number: 3,
		Status: notion.StatusFailed, SentAt: t0, Error: longErr})
	// A second attempt of the same email is its own row.
	applyTwice(t, c, notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E3", Number: 3,
		Status: notion.StatusSent, SentAt: t0.Add(5 * time.Minute), ResendID: "re_456"})

	rows := srv.Pages(notiontest.AnalyticsDB)
	if len(rows) != 3 {
		t.Fatalf("rows = %d, want 3", len(rows))
	}
	wantProps(t, rows[0], map[string]any{"Email": "jane@example.com", "Template ID": "5-Day E2",
		"Email Number": "2", "Status": "sent", "Sent Date": t0Text, "Campaign": "Christmas Campaign",
		"Resend Email ID": "re_123", "Error Message": nil})
	wantProps(t, rows[1], map[string]any{"Status": "failed", "Error Message": longErr, "Resend Email ID": nil})
	if n := len(rows[1].Segments("Error Message")); n != 3 {
		t.Errorf("Error Message segments = %d, want 3", n)
	}
	wantProps(t, rows[2], map[string]any{"Status": "sent", "Resend Email ID": "re_456"})
}

func TestApply_AnalyticsHugeError(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	huge := strings.Repeat("€", 250_000)

	if err := c.Apply(context.Background(), notion.Analytics{Email: "a@example.com", Number: 1,
		Status: notion.StatusFailed, SentAt: t0, Error: huge}); err != nil {
		t.Fatal(err)
	}

	row := onlyPage(t, srv, notiontest.AnalyticsDB)
	got := row.Text("Error Message")
	if !strings.HasSuffix(got, "…") || !strings.HasPrefix(huge, strings.TrimSuffix(got, "…")) {
		t.Errorf("Error Message is not a marked prefix of the error (%d characters)", len([]rune(got)))
	}
	if n := len(row.Segments("Error Message")); n > 100 {
		t.Errorf("segments = %d, want at most 100", n)
	}
	wantProps(t, row, map[string]any{"Template ID": "unknown"})
}

func TestApply_BXSignup(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	first := notion.BXSignup{Email: "jane@example.com", Name: "Jane Doe", FirstName: "Jane",
		BusinessName: "Salon", Source: "landing", At: t0}

	applyTwice(t, c, first)
	wantProps(t, onlyPage(t, srv, notiontest.ContactsDB), map[string]any{
		"Email": "jane@example.com", "Name": "Jane Doe", "First Name": "Jane", "Business Name": "Salon",
		"Signup Date": t0Text, "Signup Source": "landing", "Last Signup Date": nil,
	})

	again := notion.BXSignup{Email: "jane@example.com", Name: "J", FirstName: "J", At: t0.Add(24 * time.Hour)}
	applyTwice(t, c, again)
	wantProps(t, onlyPage(t, srv, notiontest.ContactsDB), map[string]any{
		"Name": "Jane Doe", "Signup Date": t0Text, "Signup Source": "web_form",
		"Last Signup Date": "2025-12-02T10:30:00.000+00:00",
	})
}

func TestApply_BXAssessment(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	score := 35

	// Before the signup: the contact is created from the assessment...
	applyTwice(t, c, notion.BXAssessment{Email: "jane@example.com", Red: 2, Orange: 1, Yellow: 3, Green: 2,
		Segment: "CRITICAL", Score: &score})
	// ...and the signup that follows completes it.
	applyTwice(t, c, notion.BXSignup{Email: "jane@example.com", Name: "Jane Doe", FirstName: "Jane", At: t0})

	wantProps(t, onlyPage(t, srv, notiontest.ContactsDB), map[string]any{
		"Email": "jane@example.com", "Assessment Completed": true, "Red Systems": "2", "Orange Systems": "1",
		"Yellow Systems": "3", "Green Systems": "2", "Segment": "CRITICAL", "Assessment Score": "35",
		"Name": "Jane Doe", "First Name": "Jane", "Signup Date": t0Text, "Signup Source": "web_form",
		"Last Signup Date": nil,
	})
}

func TestApply_LookupsMatchCaseVariants(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	lower := srv.AddPage(notiontest.ContactsDB, map[string]any{"Email": "jane@example.com"})

	// The normalized address keeps the local part's case; the stored page
	// has it lower-cased, and the lookup finds it.
	if err := c.Apply(context.Background(), notion.BXAssessment{Email: "Jane@example.com", Segment: "URGENT"}); err != nil {
		t.Fatal(err)
	}

	p, _ := srv.Page(lower)
	wantProps(t, p, map[string]any{"Segment": "URGENT"})
	if n := len(srv.Pages(notiontest.ContactsDB)); n != 1 {
		t.Errorf("contacts = %d, want 1", n)
	}
}

func TestApply_DoesNotRestoreArchivedPages(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t)
	id := srv.AddPage(notiontest.BusinessXDB, map[string]any{"email": "jane@example.com"})

	if err := c.Apply(context.Background(), notion.Booking{Email: "jane@example.com", MeetingAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Method == "PATCH" && strings.Contains(string(r.Body), "archived") {
			t.Errorf("update sent %s", r.Body)
		}
	}

	// A contact a person archived is not found, not updated, and stays archived.
	srv.Archive(id)
	patches := srv.Count("PATCH", "/v1/pages/*")
	if err := c.Apply(context.Background(), notion.Booking{Email: "jane@example.com", MeetingAt: t0}); err != nil {
		t.Fatal(err)
	}
	if p, _ := srv.Page(id); !p.Archived || srv.Count("PATCH", "/v1/pages/*") != patches {
		t.Errorf("archived = %v, patches %d -> %d", p.Archived, patches, srv.Count("PATCH", "/v1/pages/*"))
	}
}

func TestApply_Invalid(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t)
	tests := []struct {
		name string
		op   notion.Op
	}{
		{name: "no email", op: notion.Booking{MeetingAt: t0}},
		{name: "email number 8", op: notion.EmailSent{Email: "a@example.com", Number: 8, SentAt: t0}},
		{name: "BusinessX number 6", op: notion.EmailSent{Email: "a@example.com", SequenceType: notion.SequenceBusinessX, Number: 6, SentAt: t0}},
		{name: "status", op: notion.Analytics{Email: "a@example.com", Status: "bounced", SentAt: t0}},
		{name: "5-day start", op: notion.SequenceStart{Email: "a@example.com", CreatedAt: t0}},
		{name: "bad zone", op: notion.Booking{Email: "a@example.com", MeetingAt: t0, TimeZone: "Mars/Base"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Apply(context.Background(), tt.op)
			if !errors.Is(err, notion.ErrInvalidOp) || notion.Retryable(err) {
				t.Errorf("Apply = %v, want permanent ErrInvalidOp", err)
			}
		})
	}
}

func TestApply_NotConfigured(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, func(cfg *notion.Config) { cfg.AnalyticsDB = "" })

	err := c.Apply(context.Background(), notion.Analytics{Email: "a@example.com", Number: 1, Status: "sent", SentAt: t0})
	if !errors.Is(err, notion.ErrNotConfigured) || notion.Retryable(err) {
		t.Errorf("Apply = %v, want permanent ErrNotConfigured", err)
	}
	if err := c.Configured(notion.KindAnalytics); !errors.Is(err, notion.ErrNotConfigured) ||
		!strings.Contains(err.Error(), "NOTION_EMAIL_ANALYTICS_DB_ID") {
		t.Errorf("Configured = %v", err)
	}
	if err := c.Configured(notion.KindBooking); err != nil {
		t.Errorf("Configured(booking) = %v", err)
	}
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	score := 10
	ops := []notion.Op{
		notion.ChristmasAssessment{Email: "a@example.com", Segment: "URGENT", SignedUpAt: t0},
		notion.SequenceStart{Email: "a@example.com", SequenceType: notion.SequenceOnboarding, CreatedAt: t0, ObservationDates: []string{"x"}},
		notion.Booking{Email: "a@example.com", MeetingAt: t0.In(time.FixedZone("x", -5*3600))},
		notion.EmailSent{Email: "a@example.com", Number: 2, SentAt: t0},
		notion.Analytics{Email: "a@example.com", Status: "sent", SentAt: t0},
		notion.BXSignup{Email: "a@example.com", At: t0},
		notion.BXAssessment{Email: "a@example.com", Segment: "OPTIMIZE", Score: &score},
	}
	for _, op := range ops {
		t.Run(op.Kind(), func(t *testing.T) {
			kind, payload, err := notion.Encode(op)
			if err != nil {
				t.Fatal(err)
			}
			back, err := notion.Decode(kind, payload)
			if err != nil {
				t.Fatal(err)
			}
			k2, p2, _ := notion.Encode(back)
			if k2 != kind || string(p2) != string(payload) {
				t.Errorf("round trip: %s %s, want %s %s", k2, p2, kind, payload)
			}
		})
	}
	if _, err := notion.Decode("nope", []byte(`{}`)); !errors.Is(err, notion.ErrInvalidOp) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestSequenceTypesMatchFlows(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		flows.ChristmasSignup: notion.SequenceFiveDay,
		flows.NoShowRecovery:  notion.SequenceNoShow,
		flows.PostCallMaybe:   notion.SequencePostCall,
		flows.Onboarding:      notion.SequenceOnboarding,
		flows.PreCallPrep:     notion.SequencePreCall,
		flows.BusinessXAssess: notion.SequenceBusinessX,
	}
	for name, seq := range want {
		f, ok := flows.ByName(name)
		if !ok || f.SequenceType != seq {
			t.Errorf("flow %s: SequenceType differs from notion's %q", name, seq)
		}
	}
}
