package webhook

import (
	"reflect"
	"testing"
)

func TestDecodeCalendly_ProviderSamples(t *testing.T) {
	t.Parallel()
	reschedule := "https://calendly.com/reschedulings/00000000-0000-0000-0000-000000000001"
	got, err := DecodeCalendly(readFixture(t, "calendly-invitee_no_show-1.json"))
	if err != nil {
		t.Fatalf("DecodeCalendly: %v", err)
	}
	want := CalendlyEvent{
		Event: CalendlyNoShowCreated, Email: "john.doe@example.com", Name: "John Doe",
		StartTime: utc("2026-06-10T06:30:00Z"), StartTimeRaw: "2026-06-10T06:30:00.000000Z",
		InviteeURI: "https://api.calendly.com/scheduled_events/00000000-0000-0000-0000-000000000002/invitees/00000000-0000-0000-0000-000000000001",
		NoShow: &NoShow{
			Email: "john.doe@example.com", FirstName: "John",
			CalendlyEventURI: "https://api.calendly.com/scheduled_events/00000000-0000-0000-0000-000000000002",
			ScheduledTime:    "2026-06-10T06:30:00.000000Z", EventType: "Acme - Intro",
			RescheduleURL: &reschedule,
		},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("\n got %+v %+v\nwant %+v %+v", *got, got.NoShow, want, want.NoShow)
	}
	if p := got.NoShowParams(); p["first_name"] != "John" || p["reschedule_url"] != reschedule {
		t.Fatalf("NoShowParams() = %v", p)
	}
	wantBooking := map[string]any{"email": "john.doe@example.com", "name": "John Doe",
		"meeting_time": "2026-06-10T06:30:00.000000Z"}
	if p := got.BookingParams(); !reflect.DeepEqual(p, wantBooking) {
		t.Fatalf("BookingParams() = %v", p)
	}

	for _, file := range []string{"calendly-invitee.created-1.json", "calendly-invitee.canceled-1.json"} {
		body := readFixture(t, file)
		if !IsCalendlyEnvelope(body) {
			t.Errorf("%s: IsCalendlyEnvelope = false", file)
		}
		ev, err := DecodeCalendly(body)
		if err != nil || ev.NoShow == nil || ev.NoShow.Email == "" {
			t.Errorf("%s: DecodeCalendly = %+v, %v", file, ev, err)
		}
	}
}

func TestDecodeCalendly_Cases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		envelope bool
		want     *CalendlyEvent
		locs     []string
	}{
		{name: "legacy flattened body", body: `{"email":"a@example.com","first_name":"A","event":"x","payload":{}}`,
			envelope: false, want: &CalendlyEvent{Event: "x"}},
		{name: "business question", envelope: true, body: `{"event":"invitee_no_show.deleted","payload":{
			"email":"A@Example.com","name":"Ann Lee","questions_and_answers":[
			{"question":"Your salon's name?","answer":" Shear Joy "}],"scheduled_event":{"uri":"u","start_time":"s"}}}`,
			want: &CalendlyEvent{Event: CalendlyNoShowDeleted, Email: "A@example.com", Name: "Ann Lee",
				StartTimeRaw: "s", NoShow: &NoShow{
					Email: "A@example.com", FirstName: "Ann", BusinessName: "Shear Joy",
					CalendlyEventURI: "u", ScheduledTime: "s", EventType: DefaultEventType}}},
		{name: "other event", envelope: true, body: `{"event":"routing_form_submission.created","payload":{}}`,
			want: &CalendlyEvent{Event: "routing_form_submission.created"}},
		{name: "bad email", envelope: true, body: `{"event":"invitee_no_show.created","payload":{"email":"nope"}}`,
			locs: []string{"value_error@body.payload.email"}},
		{name: "no payload", envelope: false, body: `{"event":"invitee_no_show.created"}`,
			locs: []string{"missing@body.payload"}},
		{name: "not json", envelope: false, body: `{`, locs: []string{"json_invalid@body.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsCalendlyEnvelope([]byte(tt.body)); got != tt.envelope {
				t.Errorf("IsCalendlyEnvelope = %v, want %v", got, tt.envelope)
			}
			got, err := DecodeCalendly([]byte(tt.body))
			if tt.locs != nil {
				if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
					t.Fatalf("locs = %v, want %v", l, tt.locs)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeCalendly: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("\n got %+v %+v\nwant %+v %+v", got, got.NoShow, tt.want, tt.want.NoShow)
			}
		})
	}
}
