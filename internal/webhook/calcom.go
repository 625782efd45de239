package webhook

import (
	"strings"
	"time"
)

// Cal.com trigger events whose payload is a booking that perfect acts on.
const (
	CalcomBookingCreated     = "BOOKING_CREATED"
	CalcomBookingRescheduled = "BOOKING_RESCHEDULED"
	CalcomBookingCancelled   = "BOOKING_CANCELLED"
)

// The legacy handler's 400 messages.
const (
	msgNoAttendees   = "Invalid Cal.com payload: no attendees found"
	msgMissingFields = "Invalid Cal.com payload: missing email, name, or startTime"
)

// CalcomBooking is what the handler needs from a Cal.com delivery, from
// either payload shape.
type CalcomBooking struct {
	Event string
	// Email is the first attendee's normalized address (or the booking
	// form's email answer when the attendee has none); Name likewise.
	Email, Name string
	// StartTime is the meeting start in UTC; StartTimeRaw is the value as
	// Cal.com sent it (the legacy flow's meeting_time).
	StartTime    time.Time
	StartTimeRaw string
	// UID is the booking's uid (the new booking's on a reschedule);
	// RescheduleUID is the original booking's uid on a reschedule.
	UID, RescheduleUID string
	// Attendees counts the attendees, guests included.
	Attendees int
	// TimeZone is the first attendee's IANA time zone, if given.
	TimeZone string
}

// IsCalcomBookingEvent reports whether DecodeCalcom reads the booking of an
// event (created, rescheduled, cancelled) rather than only its name.
func IsCalcomBookingEvent(event string) bool {
	switch event {
	case CalcomBookingCreated, CalcomBookingRescheduled, CalcomBookingCancelled:
		return true
	}
	return false
}

// DecodeCalcom reads a Cal.com webhook delivery.
//
// A body that is not {"triggerEvent": string, "payload": object} is a
// *ValidationError (422, as FastAPI answered), except the flat MEETING_*
// bodies, which have no payload and decode with their Event (and uid,
// start and first attendee when present). Events other than those
// IsCalcomBookingEvent accepts (PING, BOOKING_REQUESTED, …) return their
// Event and any uid only; the handler answers them 200 "ignored".
//
// For booking events the attendees and booking fields are read from the
// real shape (payload.attendees, payload.startTime, payload.uid) or from
// the legacy payload.booking shape. No attendees gives
// *BadRequest{400, "Invalid Cal.com payload: no attendees found"}; a missing
// email, name or startTime gives *BadRequest{400, "Invalid Cal.com payload:
// missing email, name, or startTime"}; an invalid attendee email, a wrongly
// typed field or an unparseable startTime gives a *ValidationError.
func DecodeCalcom(body []byte) (*CalcomBooking, error) {
	obj, err := parseBodyObject(body)
	if err != nil {
		return nil, err
	}
	if b, ok := flatMeeting(obj); ok {
		return b, nil
	}
	event, payload, err := envelope(obj, "triggerEvent")
	if err != nil {
		return nil, err
	}
	if !IsCalcomBookingEvent(event) {
		uid := stringAt(payload, "uid")
		if uid == "" {
			uid = stringAt(payload, "bookingUid")
		}
		return &CalcomBooking{Event: event, UID: uid}, nil
	}
	return decodeCalcomBooking(event, payload)
}

// Params returns the christmas-precall-prep flow parameters.
func (b *CalcomBooking) Params() map[string]any {
	return map[string]any{
		"email":        b.Email,
		"name":         b.Name,
		"meeting_time": b.StartTimeRaw,
	}
}

// envelope validates a provider envelope: the event name under eventKey
// (str) and payload (dict), both required, other keys allowed. Cal.com
// names the event "triggerEvent", Calendly "event".
func envelope(obj *object, eventKey string) (string, *object, error) {
	var detail []FieldError
	var event string
	if raw, ok := obj.get(eventKey); !ok {
		detail = append(detail, missingAt(bodyLoc(eventKey), obj))
	} else if s, is := asString(raw); is != nil {
		detail = append(detail, is.at(bodyLoc(eventKey)))
	} else {
		event = s
	}
	var payload *object
	if raw, ok := obj.get("payload"); !ok {
		detail = append(detail, missingAt(bodyLoc("payload"), obj))
	} else if p, isObj := raw.(*object); !isObj {
		detail = append(detail, newIssue("dict_type", msgDictType, raw).at(bodyLoc("payload")))
	} else {
		payload = p
	}
	if len(detail) > 0 {
		return "", nil, &ValidationError{Detail: detail}
	}
	return event, payload, nil
}

// flatMeeting reads MEETING_STARTED / MEETING_ENDED, whose booking row sits
// at the top level. Nothing in it is required.
func flatMeeting(obj *object) (*CalcomBooking, bool) {
	if _, has := obj.get("payload"); has {
		return nil, false
	}
	event := stringAt(obj, "triggerEvent")
	if !strings.HasPrefix(event, "MEETING_") {
		return nil, false
	}
	b := &CalcomBooking{Event: event, UID: stringAt(obj, "uid"), StartTimeRaw: stringAt(obj, "startTime")}
	if t, ok := parseStartTime(b.StartTimeRaw); ok {
		b.StartTime = t
	}
	if atts, ok := valueAt(obj, "attendees").([]any); ok {
		b.Attendees = len(atts)
		if first, ok := firstObject(atts); ok {
			b.Name, b.TimeZone = stringAt(first, "name"), stringAt(first, "timeZone")
			if email, err := NormalizeEmail(stringAt(first, "email")); err == nil {
				b.Email = email
			}
		}
	}
	return b, true
}

// bookingSource looks booking fields up under payload, then under the
// legacy payload.booking.
type bookingSource struct {
	payload, booking *object
}

func (s bookingSource) lookup(key string) (any, []any, bool) {
	if v, ok := s.payload.get(key); ok && v != nil {
		return v, bodyLoc("payload", key), true
	}
	if s.booking != nil {
		if v, ok := s.booking.get(key); ok && v != nil {
			return v, bodyLoc("payload", "booking", key), true
		}
	}
	return nil, nil, false
}

// located is a string field value with where it came from.
type located struct {
	val string
	loc []any
	raw any
}

func decodeCalcomBooking(event string, payload *object) (*CalcomBooking, error) {
	src := bookingSource{payload: payload}
	if b, ok := valueAt(payload, "booking").(*object); ok {
		src.booking = b
	}
	first, attLoc, count, err := firstAttendee(src)
	if err != nil {
		return nil, err
	}
	var detail []FieldError
	email := src.person(first, attLoc, "email", &detail)
	name := src.person(first, attLoc, "name", &detail)
	start := src.startTime(&detail)
	if len(detail) > 0 {
		return nil, &ValidationError{Detail: detail}
	}
	if email.val == "" || name.val == "" || start.val == "" {
		return nil, &BadRequest{Status: 400, Message: msgMissingFields}
	}

	b := &CalcomBooking{
		Event: event, Name: name.val, StartTimeRaw: start.val, Attendees: count,
		TimeZone: stringAt(first, "timeZone"),
	}
	if norm, is := asEmail(email.raw); is != nil {
		detail = append(detail, is.at(email.loc))
	} else {
		b.Email = norm
	}
	if t, ok := parseStartTime(start.val); ok {
		b.StartTime = t
	} else {
		detail = append(detail, datetimeIssue(start.raw).at(start.loc))
	}
	if len(detail) > 0 {
		return nil, &ValidationError{Detail: detail}
	}
	b.UID = src.str("uid")
	b.RescheduleUID = src.str("rescheduleUid")
	return b, nil
}

// firstAttendee returns the first attendee, the attendees' location and
// their count.
func firstAttendee(src bookingSource) (*object, []any, int, error) {
	raw, loc, ok := src.lookup("attendees")
	if !ok {
		return nil, nil, 0, &BadRequest{Status: 400, Message: msgNoAttendees}
	}
	list, isList := raw.([]any)
	if !isList {
		return nil, nil, 0, &ValidationError{Detail: []FieldError{newIssue("list_type", msgListType, raw).at(loc)}}
	}
	if len(list) == 0 {
		return nil, nil, 0, &BadRequest{Status: 400, Message: msgNoAttendees}
	}
	first, isObj := list[0].(*object)
	if !isObj {
		itemLoc := append(append([]any{}, loc...), 0)
		return nil, nil, 0, &ValidationError{Detail: []FieldError{newIssue("dict_type", msgDictType, list[0]).at(itemLoc)}}
	}
	return first, append(append([]any{}, loc...), 0), len(list), nil
}

// person reads the attendee's email or name, falling back to the booking
// form's answer (responses.<key>.value) when the attendee has none.
func (s bookingSource) person(first *object, attLoc []any, key string, detail *[]FieldError) located {
	loc := append(append([]any{}, attLoc...), key)
	if raw, ok := first.get(key); ok && raw != nil {
		v, is := asString(raw)
		if is != nil {
			*detail = append(*detail, is.at(loc))
			return located{}
		}
		if v != "" {
			return located{val: v, loc: loc, raw: raw}
		}
	}
	return s.response(key)
}

// response reads responses.<key>.value; a split name field is
// {"firstName", "lastName"}.
func (s bookingSource) response(key string) located {
	raw, loc, _ := s.lookup("responses")
	resp, ok := raw.(*object)
	if !ok {
		return located{}
	}
	entry, _ := valueAt(resp, key).(*object)
	if entry == nil {
		return located{}
	}
	loc = append(append([]any{}, loc...), key, "value")
	switch v := valueAt(entry, "value").(type) {
	case string:
		return located{val: v, loc: loc, raw: v}
	case *object:
		full := strings.TrimSpace(stringAt(v, "firstName") + " " + stringAt(v, "lastName"))
		return located{val: full, loc: loc, raw: full}
	}
	return located{}
}

func (s bookingSource) startTime(detail *[]FieldError) located {
	raw, loc, ok := s.lookup("startTime")
	if !ok {
		return located{}
	}
	v, isStr := raw.(string)
	if !isStr {
		*detail = append(*detail, newIssue("datetime_type", msgDatetimeType, raw).at(loc))
		return located{}
	}
	return located{val: v, loc: loc, raw: raw}
}

func (s bookingSource) str(key string) string {
	raw, _, _ := s.lookup(key)
	v, _ := raw.(string)
	return v
}

func datetimeIssue(raw any) *issue {
	const reason = "input is not an RFC 3339 date-time"
	return &issue{typ: "datetime_parsing", msg: "Input should be a valid datetime, " + reason,
		input: raw, ctx: map[string]any{"error": reason}}
}

// parseStartTime reads an RFC 3339 time (Z or an offset such as +00:00,
// optional fraction). A time without an offset is taken as UTC, as the
// legacy flow did in its UTC container.
func parseStartTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	s = strings.Replace(s, " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func valueAt(o *object, key string) any {
	v, _ := o.get(key)
	return v
}

func stringAt(o *object, key string) string {
	s, _ := valueAt(o, key).(string)
	return s
}

func firstObject(list []any) (*object, bool) {
	if len(list) == 0 {
		return nil, false
	}
	o, ok := list[0].(*object)
	return o, ok
}
