// Package tracking connects the engine to Notion: it turns engine events
// (a run started, an email sent or failed) into Notion ops stored in the
// engine's outbox, applies those ops from the outbox, and serves Notion's
// templates to the renderer.
//
// Building ops is pure: the engine calls the Tracker inside its store
// transaction, and the Notion calls happen later, in the outbox drainer.
package tracking

import (
	"log/slog"
	"strings"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/notion"
	"perfect/store"
)

// KindPrefix starts the outbox kind of every Notion op: "notion." + the
// op's kind, such as "notion.email_sent".
const KindPrefix = "notion."

// Notion is the engine.Tracker that records runs and sends in Notion.
type Notion struct {
	// NewID returns the id of each outbox item (the engine's NewID).
	NewID func() string
	// Enabled reports whether ops of a kind can land, that is whether the
	// databases they write are configured; nil enables every kind. Ops of a
	// disabled kind are not queued, so they never sit parked in the outbox.
	Enabled func(kind string) bool
	// UnsubscribeProperty is the contacts' property that records an
	// unsubscribe (NOTION_UNSUBSCRIBE_PROPERTY); empty turns it off.
	UnsubscribeProperty string
	// Log reports ops that could not be built; nil discards.
	Log *slog.Logger
}

var _ engine.Tracker = (*Notion)(nil)

// Started returns the ops that record a new run: the Christmas signup's
// assessment and 5-day record, a secondary sequence's record, a booking,
// or a BusinessX signup or assessment.
func (n *Notion) Started(run store.Run, _ []store.Step) []store.OutboxItem {
	f, ok := flows.ByName(run.Flow)
	if !ok {
		return nil
	}
	p, err := readParams(run.Params)
	if err != nil {
		n.log().Warn("notion tracking skipped: bad run params", "run_id", run.ID, "err", err)
		return nil
	}
	return n.items(run.CreatedAt, startOps(f, run, p)...)
}

// Attempted returns the ops that record a send: on success the sequence
// record's `Email {n} Sent` and a `sent` analytics row with the provider
// id; on failure a `failed` analytics row with the error.
func (n *Notion) Attempted(run store.Run, step store.Step, at time.Time, sendErr error) []store.OutboxItem {
	f, ok := flows.ByName(run.Flow)
	if !ok {
		return nil
	}
	row := notion.Analytics{
		Email: run.Email, TemplateID: step.Template, Number: step.EmailNumber,
		SentAt: at, Campaign: analyticsCampaign(f),
	}
	if sendErr != nil {
		row.Status, row.Error = notion.StatusFailed, sendErr.Error()
		return n.items(at, row)
	}
	row.Status, row.ResendID = notion.StatusSent, step.ProviderID

	p, err := readParams(run.Params)
	if err != nil {
		n.log().Warn("notion tracking: bad run params", "run_id", run.ID, "err", err)
	}
	sent := notion.EmailSent{
		Email: run.Email, SequenceType: f.SequenceType, Number: step.EmailNumber, SentAt: at,
		Last:      step.EmailNumber == lastNumber(f),
		FirstName: firstName(p), BusinessName: p.text("business_name"), Campaign: f.Campaign,
	}
	return n.items(at, sent, row)
}

// Unsubscribed returns the op that marks the contact in Notion after a
// suppression the person asked for (an unsubscribe or a spam complaint;
// not a bounce), when UnsubscribeProperty is set.
func (n *Notion) Unsubscribed(s store.Suppression) []store.OutboxItem {
	if n.UnsubscribeProperty == "" || (s.Reason != "unsubscribed" && s.Reason != "complained") {
		return nil
	}
	return n.items(s.At, notion.Unsubscribe{Email: s.Email, Property: n.UnsubscribeProperty, At: s.At})
}

// startOps builds the ops of a new run.
func startOps(f *flows.Flow, run store.Run, p params) []notion.Op {
	switch f.Name {
	case flows.ChristmasSignup:
		return []notion.Op{christmasAssessment(f, run, p)}
	case flows.NoShowRecovery, flows.PostCallMaybe, flows.Onboarding:
		return []notion.Op{sequenceStart(f, run, p)}
	case flows.PreCallPrep:
		// The contact is marked booked, and the reminders get their own
		// sequence record like every other sequence.
		ops := []notion.Op{sequenceStart(f, run, p)}
		if b, ok := booking(run, p); ok {
			ops = append([]notion.Op{b}, ops...)
		}
		return ops
	case flows.BusinessXSignup:
		return []notion.Op{notion.BXSignup{
			Email: run.Email, Name: p.text("name"), FirstName: p.text("first_name"),
			BusinessName: p.text("business_name"), Source: p.text("signup_source"), At: run.CreatedAt,
		}}
	case flows.BusinessXAssess:
		return []notion.Op{bxAssessment(run, p)}
	}
	return nil
}

func christmasAssessment(f *flows.Flow, run store.Run, p params) notion.Op {
	red, orange := p.integer("red_systems"), p.integer("orange_systems")
	segment := p.text("segment")
	if segment == "" {
		segment = flows.Segment(red, orange)
	}
	return notion.ChristmasAssessment{
		Email: run.Email, FirstName: p.text("first_name"), BusinessName: p.text("business_name"),
		Campaign: f.Campaign, Score: p.integer("assessment_score"), Segment: segment,
		Red: red, Orange: orange, Yellow: p.integer("yellow_systems"), Green: p.integer("green_systems"),
		SignedUpAt: run.CreatedAt,
	}
}

// sequenceStart carries each secondary flow's own fields (legacy §6.2).
func sequenceStart(f *flows.Flow, run store.Run, p params) notion.Op {
	op := notion.SequenceStart{
		Email: run.Email, FirstName: firstName(p), BusinessName: p.text("business_name"),
		SequenceType: f.SequenceType, Campaign: f.Campaign, CreatedAt: run.CreatedAt,
	}
	switch f.Name {
	case flows.NoShowRecovery:
		op.CalendlyEventURI = p.text("calendly_event_uri")
		op.ScheduledTime = p.text("scheduled_time")
		op.EventType = p.text("event_type")
	case flows.PostCallMaybe:
		op.CallDate = p.text("call_date")
		op.CallOutcome = p.text("call_outcome")
		op.FollowUpPriority = p.text("follow_up_priority")
		op.CallNotes = p.text("call_notes")
		op.Objections = p.list("objections")
	case flows.Onboarding:
		op.PaymentAmount = p.number("payment_amount")
		op.PaymentDate = p.text("payment_date")
		op.PackageType = p.text("package_type")
		op.SalonAddress = p.text("salon_address")
		op.ObservationDates = p.list("observation_dates")
		op.StartDate = p.text("start_date")
	}
	return op
}

// booking marks the contact booked for the meeting as Cal.com sent it,
// keeping its offset so the call date is the meeting's own day.
func booking(run store.Run, p params) (notion.Op, bool) {
	at, ok := parseMeeting(p.text("meeting_time"))
	if !ok {
		return nil, false
	}
	return notion.Booking{Email: run.Email, MeetingAt: at, TimeZone: p.text("time_zone")}, true
}

func bxAssessment(run store.Run, p params) notion.Op {
	red, orange := p.integer("red_systems"), p.integer("orange_systems")
	segment := p.text("segment")
	if segment == "" {
		segment = flows.Segment(red, orange)
	}
	op := notion.BXAssessment{
		Email: run.Email, Red: red, Orange: orange,
		Yellow: p.integer("yellow_systems"), Green: p.integer("green_systems"), Segment: segment,
	}
	if p.has("assessment_score") {
		score := p.integer("assessment_score")
		op.Score = &score
	}
	return op
}

// parseMeeting reads an RFC 3339 time, keeping its offset; a time without
// one is UTC, as the webhook reads it.
func parseMeeting(s string) (time.Time, bool) {
	s = strings.Replace(strings.TrimSpace(s), " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// firstName is the contact's first name, or the first word of the
// attendee's name for the pre-call flow.
func firstName(p params) string {
	if v := p.text("first_name"); v != "" {
		return v
	}
	first, _, _ := strings.Cut(strings.TrimSpace(p.text("name")), " ")
	return first
}

// analyticsCampaign is the analytics row's Campaign: the Christmas flows
// write `Christmas Campaign` there, unlike their sequence records
// (legacy §6.4).
func analyticsCampaign(f *flows.Flow) string {
	if f.Campaign == flows.CampaignChristmas {
		return flows.CampaignChristmasAnalytic
	}
	return f.Campaign
}

func lastNumber(f *flows.Flow) int {
	last := 0
	for _, s := range f.Steps {
		last = max(last, s.Number)
	}
	return last
}

// items encodes ops as outbox items due at at, skipping disabled kinds and
// ops that fail validation.
func (n *Notion) items(at time.Time, ops ...notion.Op) []store.OutboxItem {
	var out []store.OutboxItem
	for _, op := range ops {
		if n.Enabled != nil && !n.Enabled(op.Kind()) {
			continue
		}
		kind, payload, err := notion.Encode(op)
		if err != nil {
			n.log().Warn("notion op not queued", "kind", op.Kind(), "err", err)
			continue
		}
		out = append(out, store.OutboxItem{
			ID: n.NewID(), Kind: KindPrefix + kind, Payload: payload, CreatedAt: at, NextAt: at,
		})
	}
	return out
}

func (n *Notion) log() *slog.Logger {
	if n.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Log
}
