package webhook

import (
	"strings"
	"time"
)

// Calendly's native events that perfect acts on (decisions §3).
const (
	CalendlyInviteeCreated  = "invitee.created"
	CalendlyInviteeCanceled = "invitee.canceled"
	CalendlyNoShowCreated   = "invitee_no_show.created"
	CalendlyNoShowDeleted   = "invitee_no_show.deleted"
)

// CalendlyEvent is a delivery in Calendly's own envelope
// {"event", "created_at", "created_by", "payload": <invitee>}.
type CalendlyEvent struct {
	Event string
	// Email is the invitee's normalized address and Name their full name
	// (invitee events only).
	Email, Name string
	// StartTime is the scheduled event's start in UTC (zero when absent or
	// unparseable); StartTimeRaw is scheduled_event.start_time as sent.
	StartTime    time.Time
	StartTimeRaw string
	// InviteeURI is the invitee's API URI (payload.uri).
	InviteeURI string
	// Rescheduled is payload.rescheduled: a cancel that is half of a
	// reschedule.
	Rescheduled bool
	// NoShow is the invitee mapped onto the legacy no-show fields. It is set
	// for invitee.* and invitee_no_show.* events and nil for the others.
	NoShow *NoShow
}

// IsCalendlyEnvelope reports whether body is in Calendly's own envelope (an
// "event" string and a "payload" object, no top-level "email") rather than
// the legacy flattened no-show body.
func IsCalendlyEnvelope(body []byte) bool {
	v, err := parseJSON(body)
	if err != nil {
		return false
	}
	obj, ok := v.(*object)
	if !ok {
		return false
	}
	_, hasEmail := obj.get("email")
	_, isObj := valueAt(obj, "payload").(*object)
	_, isStr := valueAt(obj, "event").(string)
	return isObj && isStr && !hasEmail
}

// DecodeCalendly reads a native Calendly delivery. The envelope needs
// "event" (string) and "payload" (object); invitee events need
// payload.email, a valid address. The no-show fields are taken from the
// invitee: first_name (or the first word of name), the scheduled event's
// URI, start time and name, the reschedule URL, and the business name from
// a booking question that mentions a business or salon ("" when none).
func DecodeCalendly(body []byte) (*CalendlyEvent, error) {
	obj, err := parseBodyObject(body)
	if err != nil {
		return nil, err
	}
	event, payload, err := envelope(obj, "event")
	if err != nil {
		return nil, err
	}
	ev := &CalendlyEvent{Event: event, InviteeURI: stringAt(payload, "uri")}
	ev.Rescheduled, _ = valueAt(payload, "rescheduled").(bool)
	if !strings.HasPrefix(event, "invitee.") && !strings.HasPrefix(event, "invitee_no_show.") {
		return ev, nil
	}
	ns, err := calendlyNoShow(payload)
	if err != nil {
		return nil, err
	}
	ev.NoShow, ev.Email, ev.Name = ns, ns.Email, stringAt(payload, "name")
	ev.StartTimeRaw = ns.ScheduledTime
	if t, ok := parseStartTime(ev.StartTimeRaw); ok {
		ev.StartTime = t
	}
	return ev, nil
}

// NoShowParams returns the christmas-noshow-recovery-handler parameters of
// an invitee event (nil for other events).
func (e *CalendlyEvent) NoShowParams() map[string]any {
	if e.NoShow == nil {
		return nil
	}
	return e.NoShow.Params()
}

// BookingParams returns the christmas-precall-prep parameters of an
// invitee.created event, as a Cal.com booking would give them.
func (e *CalendlyEvent) BookingParams() map[string]any {
	return map[string]any{"email": e.Email, "name": e.Name, "meeting_time": e.StartTimeRaw}
}

func calendlyNoShow(payload *object) (*NoShow, error) {
	loc := bodyLoc("payload", "email")
	raw, ok := payload.get("email")
	if !ok || raw == nil {
		return nil, &ValidationError{Detail: []FieldError{missingAt(loc, payload)}}
	}
	email, is := asEmail(raw)
	if is != nil {
		return nil, &ValidationError{Detail: []FieldError{is.at(loc)}}
	}
	scheduled, _ := valueAt(payload, "scheduled_event").(*object)
	if scheduled == nil {
		scheduled = newObject()
	}
	ns := &NoShow{
		Email:            email,
		FirstName:        stringAt(payload, "first_name"),
		BusinessName:     businessAnswer(payload),
		CalendlyEventURI: stringAt(payload, "event"),
		ScheduledTime:    stringAt(scheduled, "start_time"),
		EventType:        stringAt(scheduled, "name"),
	}
	if ns.FirstName == "" {
		ns.FirstName, _, _ = strings.Cut(strings.TrimSpace(stringAt(payload, "name")), " ")
	}
	if ns.CalendlyEventURI == "" {
		ns.CalendlyEventURI = stringAt(scheduled, "uri")
	}
	if ns.EventType == "" {
		ns.EventType = DefaultEventType
	}
	if u := stringAt(payload, "reschedule_url"); u != "" {
		ns.RescheduleURL = &u
	}
	return ns, nil
}

// businessAnswer returns the answer to the first booking question that asks
// for a business or salon name.
func businessAnswer(payload *object) string {
	qas, _ := valueAt(payload, "questions_and_answers").([]any)
	for _, qa := range qas {
		o, ok := qa.(*object)
		if !ok {
			continue
		}
		q := strings.ToLower(stringAt(o, "question"))
		if strings.Contains(q, "business") || strings.Contains(q, "salon") {
			return strings.TrimSpace(stringAt(o, "answer"))
		}
	}
	return ""
}
