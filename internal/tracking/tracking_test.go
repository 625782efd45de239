package tracking_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/notion"
	"perfect/internal/tracking"
	"perfect/internal/webhook"
	"perfect/store"
)

var created = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// counter returns ids id-1, id-2, ...
func counter() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("id-%d", n)
	}
}

// runOf stores params the way the engine does.
func runOf(t *testing.T, flow, email string, params map[string]any) store.Run {
	t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return store.Run{ID: "run-1", Flow: flow, Email: email, CreatedAt: created, Params: raw}
}

// paramsOf decodes a webhook body with the handler's decoder.
func paramsOf[T interface{ Params() map[string]any }](t *testing.T, decode func([]byte) (T, error), body string) map[string]any {
	t.Helper()
	req, err := decode([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return req.Params()
}

// wantItems encodes ops as the tracker should queue them.
func wantItems(t *testing.T, at time.Time, ops ...notion.Op) []store.OutboxItem {
	t.Helper()
	next := counter()
	var out []store.OutboxItem
	for _, op := range ops {
		kind, payload, err := notion.Encode(op)
		if err != nil {
			t.Fatalf("encode wanted op %+v: %v", op, err)
		}
		out = append(out, store.OutboxItem{ID: next(), Kind: "notion." + kind, Payload: payload,
			CreatedAt: at, NextAt: at})
	}
	return out
}

// sameItems compares items, payloads as JSON values.
func sameItems(t *testing.T, got, want []store.OutboxItem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d:\ngot  %s\nwant %s", len(got), len(want), show(got), show(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Kind != w.Kind || !g.CreatedAt.Equal(w.CreatedAt) || !g.NextAt.Equal(w.NextAt) {
			t.Errorf("item %d = %s %s %s, want %s %s %s", i, g.ID, g.Kind, g.NextAt, w.ID, w.Kind, w.NextAt)
		}
		var gp, wp map[string]any
		if err := json.Unmarshal(g.Payload, &gp); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(w.Payload, &wp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gp, wp) {
			t.Errorf("item %d (%s) payload\ngot  %s\nwant %s", i, g.Kind, g.Payload, w.Payload)
		}
	}
}

func show(items []store.OutboxItem) string {
	s := ""
	for _, it := range items {
		s += fmt.Sprintf("\n  %s %s", it.Kind, it.Payload)
	}
	return s
}

func TestNotion_Started(t *testing.T) {
	t.Parallel()
	score := 72
	tests := []struct {
		name   string
		flow   string
		email  string
		params func(t *testing.T) map[string]any
		want   []notion.Op
	}{
		{
			name: "christmas signup", flow: flows.ChristmasSignup, email: "jane@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeChristmasSignup, `{"email":"jane@example.com",
					"first_name":"Jane","business_name":"Jane's Salon","assessment_score":35,
					"red_systems":3,"orange_systems":2,"yellow_systems":1,"green_systems":2}`)
			},
			want: []notion.Op{notion.ChristmasAssessment{
				Email: "jane@example.com", FirstName: "Jane", BusinessName: "Jane's Salon",
				Campaign: "Christmas 2025", Score: 35, Segment: "CRITICAL",
				Red: 3, Orange: 2, Yellow: 1, Green: 2, SignedUpAt: created,
			}},
		},
		{
			name: "no-show", flow: flows.NoShowRecovery, email: "ned@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeNoShow, `{"email":"ned@example.com","first_name":"Ned",
					"business_name":"Ned Cuts","calendly_event_uri":"https://calendly.com/events/E1",
					"scheduled_time":"2025-12-01T14:00:00Z"}`)
			},
			want: []notion.Op{notion.SequenceStart{
				Email: "ned@example.com", FirstName: "Ned", BusinessName: "Ned Cuts",
				SequenceType: "No-Show Recovery", Campaign: "Christmas 2025", CreatedAt: created,
				CalendlyEventURI: "https://calendly.com/events/E1", ScheduledTime: "2025-12-01T14:00:00Z",
				EventType: webhook.DefaultEventType,
			}},
		},
		{
			name: "post-call", flow: flows.PostCallMaybe, email: "pat@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodePostCall, `{"email":"pat@example.com","first_name":"Pat",
					"business_name":"Pat's","call_date":"2025-12-01T14:30:00Z","call_outcome":"Maybe",
					"call_notes":"Needs budget approval","objections":["Price","Timing"],
					"follow_up_priority":"High"}`)
			},
			want: []notion.Op{notion.SequenceStart{
				Email: "pat@example.com", FirstName: "Pat", BusinessName: "Pat's",
				SequenceType: "Post-Call Follow-Up", Campaign: "Christmas 2025", CreatedAt: created,
				CallDate: "2025-12-01T14:30:00Z", CallOutcome: "Maybe", FollowUpPriority: "High",
				CallNotes: "Needs budget approval", Objections: []string{"Price", "Timing"},
			}},
		},
		{
			name: "onboarding", flow: flows.Onboarding, email: "olive@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeOnboarding, `{"email":"olive@example.com",
					"first_name":"Olive","business_name":"Olive Spa","payment_confirmed":true,
					"payment_amount":2997.5,"payment_date":"2025-12-01T15:00:00Z",
					"salon_address":"123 Main Street","observation_dates":["2025-12-10","2025-12-17"],
					"start_date":"2025-12-10"}`)
			},
			want: []notion.Op{notion.SequenceStart{
				Email: "olive@example.com", FirstName: "Olive", BusinessName: "Olive Spa",
				SequenceType: "Onboarding", Campaign: "Christmas 2025", CreatedAt: created,
				PaymentAmount: 2997.5, PaymentDate: "2025-12-01T15:00:00Z",
				PackageType: webhook.DefaultPackageType, SalonAddress: "123 Main Street",
				ObservationDates: []string{"2025-12-10", "2025-12-17"}, StartDate: "2025-12-10",
			}},
		},
		{
			name: "cal.com booking keeps the meeting's offset", flow: flows.PreCallPrep,
			email: "bo@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeCalcom, `{"triggerEvent":"BOOKING_CREATED","payload":{
					"uid":"b1","startTime":"2026-12-09T22:30:00-05:00",
					"attendees":[{"email":"bo@example.com","name":"Bo Smith","timeZone":"America/Toronto"}]}}`)
			},
			want: []notion.Op{
				notion.Booking{Email: "bo@example.com",
					MeetingAt: time.Date(2026, 12, 9, 22, 30, 0, 0, time.FixedZone("", -5*3600))},
				notion.SequenceStart{Email: "bo@example.com", FirstName: "Bo", SequenceType: "Pre-Call Reminder",
					Campaign: "Christmas 2025", CreatedAt: created},
			},
		},
		{
			name: "booking with a stored time zone", flow: flows.PreCallPrep, email: "bo@example.com",
			params: func(*testing.T) map[string]any {
				return map[string]any{"email": "bo@example.com", "name": "Bo",
					"meeting_time": "2026-12-10T03:30:00Z", "time_zone": "America/Toronto"}
			},
			want: []notion.Op{
				notion.Booking{Email: "bo@example.com",
					MeetingAt: time.Date(2026, 12, 10, 3, 30, 0, 0, time.UTC), TimeZone: "America/Toronto"},
				notion.SequenceStart{Email: "bo@example.com", FirstName: "Bo", SequenceType: "Pre-Call Reminder",
					Campaign: "Christmas 2025", CreatedAt: created},
			},
		},
		{
			name: "businessx signup", flow: flows.BusinessXSignup, email: "sam@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeSignup, `{"email":"sam@example.com","name":"Sam Lee",
					"first_name":"Sam","business_name":"Sam's Studio","signup_source":"webinar"}`)
			},
			want: []notion.Op{notion.BXSignup{Email: "sam@example.com", Name: "Sam Lee",
				FirstName: "Sam", BusinessName: "Sam's Studio", Source: "webinar", At: created}},
		},
		{
			name: "businessx assessment with a score", flow: flows.BusinessXAssess, email: "sam@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeAssessment, `{"email":"sam@example.com",
					"red_systems":1,"orange_systems":1,"yellow_systems":3,"green_systems":3,
					"assessment_score":72}`)
			},
			want: []notion.Op{notion.BXAssessment{Email: "sam@example.com", Red: 1, Orange: 1,
				Yellow: 3, Green: 3, Segment: "URGENT", Score: &score}},
		},
		{
			name: "businessx assessment without a score", flow: flows.BusinessXAssess, email: "sam@example.com",
			params: func(t *testing.T) map[string]any {
				return paramsOf(t, webhook.DecodeAssessment, `{"email":"sam@example.com",
					"red_systems":0,"orange_systems":0}`)
			},
			want: []notion.Op{notion.BXAssessment{Email: "sam@example.com", Segment: "OPTIMIZE"}},
		},
		{
			name: "unparseable meeting time: no booking", flow: flows.PreCallPrep, email: "bo@example.com",
			params: func(*testing.T) map[string]any {
				return map[string]any{"email": "bo@example.com", "name": "Bo", "meeting_time": "next tuesday"}
			},
			want: []notion.Op{notion.SequenceStart{Email: "bo@example.com", FirstName: "Bo",
				SequenceType: "Pre-Call Reminder", Campaign: "Christmas 2025", CreatedAt: created}},
		},
		{
			name: "unknown flow records nothing", flow: "no-such-flow", email: "x@example.com",
			params: func(*testing.T) map[string]any { return map[string]any{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &tracking.Notion{NewID: counter()}
			got := tr.Started(runOf(t, tt.flow, tt.email, tt.params(t)), nil)
			sameItems(t, got, wantItems(t, created, tt.want...))
		})
	}
}

func TestNotion_Attempted(t *testing.T) {
	t.Parallel()
	sentAt := created.Add(24 * time.Hour)
	christmas := map[string]any{"email": "jane@example.com", "first_name": "Jane",
		"business_name": "Jane's Salon", "assessment_score": 35, "segment": "CRITICAL"}
	tests := []struct {
		name    string
		flow    string
		params  map[string]any
		step    store.Step
		sendErr error
		want    []notion.Op
	}{
		{
			name: "5-day email sent", flow: flows.ChristmasSignup, params: christmas,
			step: store.Step{Template: "5-Day E2", EmailNumber: 2, ProviderID: "re_1"},
			want: []notion.Op{
				notion.EmailSent{Email: "jane@example.com", SequenceType: "", Number: 2, SentAt: sentAt,
					FirstName: "Jane", BusinessName: "Jane's Salon", Campaign: "Christmas 2025"},
				notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E2", Number: 2,
					Status: "sent", SentAt: sentAt, Campaign: "Christmas Campaign", ResendID: "re_1"},
			},
		},
		{
			name: "last 5-day email completes the sequence", flow: flows.ChristmasSignup, params: christmas,
			step: store.Step{Template: "5-Day E5", EmailNumber: 5, ProviderID: "re_5"},
			want: []notion.Op{
				notion.EmailSent{Email: "jane@example.com", Number: 5, SentAt: sentAt, Last: true,
					FirstName: "Jane", BusinessName: "Jane's Salon", Campaign: "Christmas 2025"},
				notion.Analytics{Email: "jane@example.com", TemplateID: "5-Day E5", Number: 5,
					Status: "sent", SentAt: sentAt, Campaign: "Christmas Campaign", ResendID: "re_5"},
			},
		},
		{
			name: "no-show email on its own record", flow: flows.NoShowRecovery,
			params: map[string]any{"first_name": "Ned", "business_name": "Ned Cuts"},
			step:   store.Step{Template: "noshow_recovery_email_1", EmailNumber: 1, ProviderID: "re_2"},
			want: []notion.Op{
				notion.EmailSent{Email: "jane@example.com", SequenceType: "No-Show Recovery", Number: 1,
					SentAt: sentAt, FirstName: "Ned", BusinessName: "Ned Cuts", Campaign: "Christmas 2025"},
				notion.Analytics{Email: "jane@example.com", TemplateID: "noshow_recovery_email_1",
					Number: 1, Status: "sent", SentAt: sentAt, Campaign: "Christmas Campaign", ResendID: "re_2"},
			},
		},
		{
			name: "pre-call reminder uses the attendee's first name", flow: flows.PreCallPrep,
			params: map[string]any{"name": "Bo Smith", "meeting_time": "2026-12-09T22:30:00Z"},
			step:   store.Step{Template: "precall_reminder_3", EmailNumber: 3, ProviderID: "re_3"},
			want: []notion.Op{
				notion.EmailSent{Email: "jane@example.com", SequenceType: "Pre-Call Reminder", Number: 3,
					SentAt: sentAt, Last: true, FirstName: "Bo", Campaign: "Christmas 2025"},
				notion.Analytics{Email: "jane@example.com", TemplateID: "precall_reminder_3",
					Number: 3, Status: "sent", SentAt: sentAt, Campaign: "Christmas Campaign", ResendID: "re_3"},
			},
		},
		{
			name: "businessx email on the contact", flow: flows.BusinessXAssess,
			params: map[string]any{"segment": "URGENT"},
			step:   store.Step{Template: "email_2b_urgent", EmailNumber: 2, ProviderID: "re_4"},
			want: []notion.Op{
				notion.EmailSent{Email: "jane@example.com", SequenceType: "BusinessX 5-Email", Number: 2,
					SentAt: sentAt, Campaign: "BusinessX"},
				notion.Analytics{Email: "jane@example.com", TemplateID: "email_2b_urgent",
					Number: 2, Status: "sent", SentAt: sentAt, Campaign: "BusinessX", ResendID: "re_4"},
			},
		},
		{
			name: "failed send writes a failed row only", flow: flows.PostCallMaybe,
			params:  map[string]any{"first_name": "Pat"},
			step:    store.Step{Template: "postcall_maybe_email_2", EmailNumber: 2},
			sendErr: errors.New("422 validation_error: invalid to address"),
			want: []notion.Op{
				notion.Analytics{Email: "jane@example.com", TemplateID: "postcall_maybe_email_2",
					Number: 2, Status: "failed", SentAt: sentAt, Campaign: "Christmas Campaign",
					Error: "422 validation_error: invalid to address"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &tracking.Notion{NewID: counter()}
			run := runOf(t, tt.flow, "jane@example.com", tt.params)
			got := tr.Attempted(run, tt.step, sentAt, tt.sendErr)
			sameItems(t, got, wantItems(t, sentAt, tt.want...))
		})
	}
}

func TestNotion_EnabledSkipsKinds(t *testing.T) {
	t.Parallel()
	tr := &tracking.Notion{NewID: counter(), Enabled: func(kind string) bool {
		return kind != notion.KindEmailSent
	}}
	run := runOf(t, flows.NoShowRecovery, "ned@example.com", map[string]any{"first_name": "Ned"})
	got := tr.Attempted(run, store.Step{Template: "noshow_recovery_email_1", EmailNumber: 1}, created, nil)
	if len(got) != 1 || got[0].Kind != "notion.analytics" {
		t.Fatalf("got %s, want only the analytics row", show(got))
	}
}

func TestNotion_InvalidOpNotQueued(t *testing.T) {
	t.Parallel()
	tr := &tracking.Notion{NewID: counter()}
	// An email number the Email Sequence DB has no property for.
	run := runOf(t, flows.ChristmasSignup, "jane@example.com", map[string]any{})
	got := tr.Attempted(run, store.Step{Template: "5-Day E9", EmailNumber: 9}, created, nil)
	if len(got) != 1 || got[0].Kind != "notion.analytics" {
		t.Fatalf("got %s, want the analytics row only", show(got))
	}
}

func TestNotion_Unsubscribed(t *testing.T) {
	t.Parallel()
	at := created.Add(time.Hour)
	tests := []struct {
		name   string
		prop   string
		reason string
		want   []notion.Op
	}{
		{name: "unsubscribe", prop: "Unsubscribed", reason: "unsubscribed",
			want: []notion.Op{notion.Unsubscribe{Email: "jane@example.com", Property: "Unsubscribed", At: at}}},
		{name: "complaint", prop: "Email Status", reason: "complained",
			want: []notion.Op{notion.Unsubscribe{Email: "jane@example.com", Property: "Email Status", At: at}}},
		{name: "bounce is not an unsubscribe", prop: "Unsubscribed", reason: "bounced"},
		{name: "off without a property", reason: "unsubscribed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &tracking.Notion{NewID: counter(), UnsubscribeProperty: tt.prop}
			got := tr.Unsubscribed(store.Suppression{Email: "jane@example.com", Reason: tt.reason, At: at})
			sameItems(t, got, wantItems(t, at, tt.want...))
		})
	}
}
