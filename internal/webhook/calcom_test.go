package webhook

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDecodeCalcom_ProviderSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want CalcomBooking
	}{
		{file: "calcom-BOOKING_CREATED-1.json", want: CalcomBooking{
			Event: "BOOKING_CREATED", Email: "guest@example.com", Name: "Guest User",
			StartTime: utc("2024-01-01T10:00:00Z"), StartTimeRaw: "2024-01-01T10:00:00Z",
			UID: "unique-booking-id", Attendees: 2, TimeZone: "UTC",
		}},
		{file: "calcom-BOOKING_CREATED-2.json", want: CalcomBooking{
			Event: "BOOKING_CREATED", Email: "john.doe@example.com", Name: "John Doe",
			StartTime: utc("2023-05-25T09:30:00Z"), StartTimeRaw: "2023-05-25T09:30:00Z",
			UID: "bFJeNb2uX8ANpT3JL5EfXw", Attendees: 1, TimeZone: "Asia/Kolkata",
		}},
		{file: "calcom-BOOKING_RESCHEDULED-1.json", want: CalcomBooking{
			Event: "BOOKING_RESCHEDULED", Email: "guest@example.com", Name: "Guest User",
			StartTime: utc("2024-01-10T14:30:00Z"), StartTimeRaw: "2024-01-10T14:30:00Z",
			UID: "new-booking-unique-id", RescheduleUID: "previous-booking-unique-id",
			Attendees: 2, TimeZone: "UTC",
		}},
		{file: "calcom-BOOKING_CANCELLED-1.json", want: CalcomBooking{
			Event: "BOOKING_CANCELLED", Email: "guest@example.com", Name: "Guest User",
			StartTime: utc("2024-01-04T10:00:00Z"), StartTimeRaw: "2024-01-04T10:00:00+00:00",
			UID: "unique-booking-identifier", Attendees: 2, TimeZone: "UTC",
		}},
		{file: "calcom-PING-1.json", want: CalcomBooking{Event: "PING"}},
		{file: "calcom-MEETING_STARTED-1.json", want: CalcomBooking{
			Event: "MEETING_STARTED", Email: "guest@example.com", Name: "Guest User",
			StartTime: utc("2024-01-01T10:00:00Z"), StartTimeRaw: "2024-01-01T10:00:00.000Z",
			UID: "unique-booking-identifier", Attendees: 2, TimeZone: "UTC",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeCalcom(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("DecodeCalcom: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeCalcom_Shapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want CalcomBooking
	}{
		{name: "legacy payload.booking", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"booking":{
			"attendees":[{"email":"Jo@Example.com","name":"Jo","timeZone":"America/Toronto"}],
			"startTime":"2025-12-10T15:00:00.000Z","uid":"u1"}}}`,
			want: CalcomBooking{Event: "BOOKING_CREATED", Email: "Jo@example.com", Name: "Jo",
				StartTime: utc("2025-12-10T15:00:00Z"), StartTimeRaw: "2025-12-10T15:00:00.000Z",
				UID: "u1", Attendees: 1, TimeZone: "America/Toronto"}},
		{name: "responses fallback", body: `{"triggerEvent":"BOOKING_CREATED","payload":{
			"attendees":[{"email":"","name":""}],"startTime":"2025-12-10T10:00:00-05:00",
			"responses":{"email":{"value":"form@example.com"},"name":{"value":{"firstName":"Fo","lastName":"Rm"}}}}}`,
			want: CalcomBooking{Event: "BOOKING_CREATED", Email: "form@example.com", Name: "Fo Rm",
				StartTime: utc("2025-12-10T15:00:00Z"), StartTimeRaw: "2025-12-10T10:00:00-05:00", Attendees: 1}},
		{name: "fraction and offset", body: `{"triggerEvent":"BOOKING_CREATED","payload":{
			"attendees":[{"email":"a@example.com","name":"A"}],"startTime":"2025-12-10T20:30:00.250+05:30"}}`,
			want: CalcomBooking{Event: "BOOKING_CREATED", Email: "a@example.com", Name: "A",
				StartTime: utc("2025-12-10T15:00:00.25Z"), StartTimeRaw: "2025-12-10T20:30:00.250+05:30", Attendees: 1}},
		{name: "naive time is UTC", body: `{"triggerEvent":"BOOKING_CREATED","payload":{
			"attendees":[{"email":"a@example.com","name":"A"}],"startTime":"2025-12-10T15:00:00"}}`,
			want: CalcomBooking{Event: "BOOKING_CREATED", Email: "a@example.com", Name: "A",
				StartTime: utc("2025-12-10T15:00:00Z"), StartTimeRaw: "2025-12-10T15:00:00", Attendees: 1}},
		{name: "no-show update is not a booking", body: `{"triggerEvent":"BOOKING_NO_SHOW_UPDATED",
			"payload":{"message":"x","attendees":[{"email":"a@example.com","noShow":true}],"bookingUid":"b1"}}`,
			want: CalcomBooking{Event: "BOOKING_NO_SHOW_UPDATED", UID: "b1"}},
		{name: "unknown event", body: `{"triggerEvent":"FORM_SUBMITTED","payload":{}}`,
			want: CalcomBooking{Event: "FORM_SUBMITTED"}},
		{name: "flat meeting ended, empty", body: `{"triggerEvent":"MEETING_ENDED"}`,
			want: CalcomBooking{Event: "MEETING_ENDED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeCalcom([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeCalcom: %s", marshalErrOrNil(t, err))
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestDecodeCalcom_Errors(t *testing.T) {
	t.Parallel()
	const attendee = `"attendees":[{"email":"a@example.com","name":"A"}]`
	tests := []struct {
		name string
		body string
		bad  *BadRequest // wanted 400
		locs []string    // wanted 422 locations
	}{
		{name: "no attendees key", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"startTime":"2025-01-01T00:00:00Z"}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: no attendees found"}},
		{name: "empty attendees", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":[]}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: no attendees found"}},
		{name: "legacy empty booking", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"booking":{}}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: no attendees found"}},
		{name: "missing start", body: `{"triggerEvent":"BOOKING_CREATED","payload":{` + attendee + `}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: missing email, name, or startTime"}},
		{name: "missing name", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":[{"email":"a@example.com"}],"startTime":"2025-01-01T00:00:00Z"}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: missing email, name, or startTime"}},
		{name: "empty email", body: `{"triggerEvent":"BOOKING_RESCHEDULED","payload":{"attendees":[{"email":"","name":"A"}],"startTime":"2025-01-01T00:00:00Z"}}`,
			bad: &BadRequest{400, "Invalid Cal.com payload: missing email, name, or startTime"}},
		{name: "invalid email", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":[{"email":"nope","name":"A"}],"startTime":"2025-01-01T00:00:00Z"}}`,
			locs: []string{"value_error@body.payload.attendees.0.email"}},
		{name: "invalid legacy email and time", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"booking":{"attendees":[{"email":"a@b.test","name":"A"}],"startTime":"tomorrow"}}}`,
			locs: []string{"value_error@body.payload.booking.attendees.0.email", "datetime_parsing@body.payload.booking.startTime"}},
		{name: "bad start time", body: `{"triggerEvent":"BOOKING_CREATED","payload":{` + attendee + `,"startTime":"2025-13-01T00:00:00Z"}}`,
			locs: []string{"datetime_parsing@body.payload.startTime"}},
		{name: "numeric start time", body: `{"triggerEvent":"BOOKING_CREATED","payload":{` + attendee + `,"startTime":1735689600}}`,
			locs: []string{"datetime_type@body.payload.startTime"}},
		{name: "attendees not a list", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":"a@example.com"}}`,
			locs: []string{"list_type@body.payload.attendees"}},
		{name: "attendee not an object", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":["a@example.com"]}}`,
			locs: []string{"dict_type@body.payload.attendees.0"}},
		{name: "name not a string", body: `{"triggerEvent":"BOOKING_CREATED","payload":{"attendees":[{"email":"a@example.com","name":7}],"startTime":"2025-01-01T00:00:00Z"}}`,
			locs: []string{"string_type@body.payload.attendees.0.name"}},
		{name: "no trigger event", body: `{"payload":{}}`, locs: []string{"missing@body.triggerEvent"}},
		{name: "flat booking has no payload", body: `{"triggerEvent":"BOOKING_CREATED",` + attendee + `}`,
			locs: []string{"missing@body.payload"}},
		{name: "payload not an object", body: `{"triggerEvent":"PING","payload":[]}`,
			locs: []string{"dict_type@body.payload"}},
		{name: "trigger event not a string", body: `{"triggerEvent":5,"payload":{}}`,
			locs: []string{"string_type@body.triggerEvent"}},
		{name: "not an object", body: `"PING"`, locs: []string{"model_attributes_type@body"}},
		{name: "empty body", body: ``, locs: []string{"missing@body"}},
		{name: "malformed", body: `{"triggerEvent":`, locs: []string{"json_invalid@body.16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeCalcom([]byte(tt.body))
			if tt.bad != nil {
				var br *BadRequest
				if !errors.As(err, &br) || *br != *tt.bad {
					t.Fatalf("DecodeCalcom = %+v, %v; want %+v", got, err, tt.bad)
				}
				if b := marshalErr(t, err); b != `{"detail":"`+tt.bad.Message+`"}` {
					t.Fatalf("body = %s", b)
				}
				return
			}
			if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
				t.Fatalf("locs = %v, want %v", l, tt.locs)
			}
		})
	}
}

func TestCalcomBooking_Params(t *testing.T) {
	t.Parallel()
	got, err := DecodeCalcom(readFixture(t, "calcom-BOOKING_CANCELLED-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"email": "guest@example.com", "name": "Guest User", "meeting_time": "2024-01-04T10:00:00+00:00"}
	if p := got.Params(); !reflect.DeepEqual(p, want) {
		t.Fatalf("Params() = %v, want %v", p, want)
	}
}
