package notion

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Op kinds, stored as store.OutboxItem.Kind.
const (
	KindChristmasAssessment = "christmas_assessment"
	KindSequenceStart       = "sequence_start"
	KindBooking             = "booking"
	KindEmailSent           = "email_sent"
	KindAnalytics           = "analytics"
	KindBXSignup            = "bx_signup"
	KindBXAssessment        = "bx_assessment"
	KindUnsubscribe         = "unsubscribe"
)

// Sequence types: the `Template Type` select of the Email Sequence DB, as in
// flows.Flow.SequenceType. The 5-day signup sequence has none.
const (
	SequenceFiveDay    = ""
	SequenceNoShow     = "No-Show Recovery"
	SequencePostCall   = "Post-Call Follow-Up"
	SequenceOnboarding = "Onboarding"
	SequencePreCall    = "Pre-Call Reminder"
	// SequenceBusinessX is tracked on the BusinessX contact (legacy §6.6),
	// not in the Email Sequence DB.
	SequenceBusinessX = "BusinessX 5-Email"
)

// Default labels written when an op leaves them empty (legacy §10 #27).
const (
	defaultCampaign          = "Christmas 2025"
	defaultAnalyticsCampaign = "Christmas Campaign"
	defaultSignupSource      = "web_form"
	defaultTemplateID        = "unknown"
)

// Analytics statuses.
const (
	StatusSent   = "sent"
	StatusFailed = "failed"
)

// Op is one tracking write. Ops are plain values, JSON-encoded into the
// outbox by Encode and read back by Decode.
type Op interface {
	// Kind names the op in the outbox.
	Kind() string
	// Validate reports an op that can never be applied, wrapping ErrInvalidOp.
	Validate() error
}

// ChristmasAssessment records a Christmas signup (legacy §2.2 steps 3-4):
// the BusinessX Canada contact gets Assessment Score, Segment and Christmas
// Campaign Status = Nurture Sequence (when the contact exists; none is
// created, as before), and the 5-day sequence record is created, or
// refreshed with the new assessment when it exists.
type ChristmasAssessment struct {
	Email        string    `json:"email"`
	FirstName    string    `json:"first_name"`
	BusinessName string    `json:"business_name"`
	Campaign     string    `json:"campaign,omitempty"`
	Score        int       `json:"assessment_score"`
	Segment      string    `json:"segment"`
	Red          int       `json:"red_systems"`
	Orange       int       `json:"orange_systems"`
	Yellow       int       `json:"yellow_systems"`
	Green        int       `json:"green_systems"`
	SignedUpAt   time.Time `json:"signed_up_at"`
}

// SequenceStart creates the sequence record of a secondary sequence
// (legacy §6.2 no-show, post-call and onboarding rows), reusing the record
// of the same email and sequence type when there is one.
type SequenceStart struct {
	Email        string    `json:"email"`
	FirstName    string    `json:"first_name"`
	BusinessName string    `json:"business_name"`
	SequenceType string    `json:"sequence_type"`
	Campaign     string    `json:"campaign,omitempty"`
	CreatedAt    time.Time `json:"created_at"`

	// No-show recovery.
	CalendlyEventURI string `json:"calendly_event_uri,omitempty"`
	ScheduledTime    string `json:"scheduled_time,omitempty"`
	EventType        string `json:"event_type,omitempty"`

	// Post-call follow-up.
	CallDate         string   `json:"call_date,omitempty"`
	CallOutcome      string   `json:"call_outcome,omitempty"`
	FollowUpPriority string   `json:"follow_up_priority,omitempty"`
	CallNotes        string   `json:"call_notes,omitempty"`
	Objections       []string `json:"objections,omitempty"`

	// Onboarding.
	PaymentAmount    float64  `json:"payment_amount,omitempty"`
	PaymentDate      string   `json:"payment_date,omitempty"`
	PackageType      string   `json:"package_type,omitempty"`
	SalonAddress     string   `json:"salon_address,omitempty"`
	ObservationDates []string `json:"observation_dates,omitempty"`
	StartDate        string   `json:"start_date,omitempty"`
}

// Booking marks a BusinessX Canada contact as booked (legacy §2.7 step 4):
// Booking Status = Booked, Christmas Campaign Status = Pre-Call Prep and
// Diagnostic Call Date = the meeting's date in its own zone (TimeZone, an
// IANA name, when given; else MeetingAt's offset). A contact that does not
// exist is left alone.
type Booking struct {
	Email     string    `json:"email"`
	MeetingAt time.Time `json:"meeting_at"`
	TimeZone  string    `json:"time_zone,omitempty"`
}

// EmailSent records that email Number of a sequence went out: `Email {n}
// Sent` = SentAt on the (Email, SequenceType) record. For SequenceBusinessX
// it sets `Email {n} Sent` (checkbox) and `Email {n} Sent Date` on the
// BusinessX contact instead. Last also marks the sequence completed. When
// the record does not exist yet (its creating op still queued), it is
// created from the fields here.
type EmailSent struct {
	Email        string    `json:"email"`
	SequenceType string    `json:"sequence_type"`
	Number       int       `json:"email_number"`
	SentAt       time.Time `json:"sent_at"`
	Last         bool      `json:"last,omitempty"`
	FirstName    string    `json:"first_name,omitempty"`
	BusinessName string    `json:"business_name,omitempty"`
	Campaign     string    `json:"campaign,omitempty"`
}

// Analytics is one Email Analytics row per send attempt (legacy §6.4).
// The attempt is identified by Email, TemplateID, Number, Status and
// SentAt (to the second): a row with those values is never written twice.
type Analytics struct {
	Email      string    `json:"email"`
	TemplateID string    `json:"template_id"`
	Number     int       `json:"email_number"`
	Status     string    `json:"status"`
	SentAt     time.Time `json:"sent_at"`
	Campaign   string    `json:"campaign,omitempty"`
	ResendID   string    `json:"resend_id,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// BXSignup creates the BusinessX contact of /webhook/signup (legacy §6.6),
// or, when it exists, sets Last Signup Date and Signup Source (and fills
// Name, First Name, Business Name and Signup Date when they are empty).
type BXSignup struct {
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	FirstName    string    `json:"first_name"`
	BusinessName string    `json:"business_name"`
	Source       string    `json:"signup_source,omitempty"`
	At           time.Time `json:"at"`
}

// BXAssessment writes a BusinessX assessment on the contact (legacy §6.6):
// Assessment Completed, the four system counts, Segment, and Assessment
// Score when given. A missing contact is created with its Email, so an
// assessment that arrives before its signup is not lost.
type BXAssessment struct {
	Email   string `json:"email"`
	Red     int    `json:"red_systems"`
	Orange  int    `json:"orange_systems"`
	Yellow  int    `json:"yellow_systems"`
	Green   int    `json:"green_systems"`
	Segment string `json:"segment"`
	Score   *int   `json:"assessment_score,omitempty"`
}

// Unsubscribe marks a contact who asked for no more emails: Property, a
// checkbox, select or date of the contacts databases (the BusinessX Canada
// DB and the BusinessX contacts DB, those configured), becomes true,
// `Unsubscribed` or At on every contact page of Email. Contacts are not
// created, and a database whose pages lack Property is left alone.
type Unsubscribe struct {
	Email    string    `json:"email"`
	Property string    `json:"property"`
	At       time.Time `json:"at"`
}

// UnsubscribedOption is the select option Unsubscribe writes.
const UnsubscribedOption = "Unsubscribed"

// Kind names the op.
func (ChristmasAssessment) Kind() string { return KindChristmasAssessment }

// Kind names the op.
func (SequenceStart) Kind() string { return KindSequenceStart }

// Kind names the op.
func (Booking) Kind() string { return KindBooking }

// Kind names the op.
func (EmailSent) Kind() string { return KindEmailSent }

// Kind names the op.
func (Analytics) Kind() string { return KindAnalytics }

// Kind names the op.
func (BXSignup) Kind() string { return KindBXSignup }

// Kind names the op.
func (BXAssessment) Kind() string { return KindBXAssessment }

// Kind names the op.
func (Unsubscribe) Kind() string { return KindUnsubscribe }

// Validate checks the op.
func (o ChristmasAssessment) Validate() error {
	return check(o.Kind(), needEmail(o.Email), needTime("signed_up_at", o.SignedUpAt),
		needText("segment", o.Segment))
}

// Validate checks the op.
func (o SequenceStart) Validate() error {
	var typeErr error
	switch o.SequenceType {
	case SequenceFiveDay:
		typeErr = errors.New("sequence_type is empty: the 5-day record comes with christmas_assessment")
	case SequenceBusinessX:
		typeErr = errors.New("the BusinessX sequence has no sequence record")
	}
	return check(o.Kind(), needEmail(o.Email), needTime("created_at", o.CreatedAt), typeErr)
}

// Validate checks the op.
func (o Booking) Validate() error {
	var zoneErr error
	if o.TimeZone != "" {
		if _, err := time.LoadLocation(o.TimeZone); err != nil {
			zoneErr = fmt.Errorf("time_zone: %w", err)
		}
	}
	return check(o.Kind(), needEmail(o.Email), needTime("meeting_at", o.MeetingAt), zoneErr)
}

// Validate checks the op.
func (o EmailSent) Validate() error {
	limit := 7 // the Email Sequence DB has Email 1..7 Sent
	if o.SequenceType == SequenceBusinessX {
		limit = 5
	}
	var numErr error
	if o.Number < 1 || o.Number > limit {
		numErr = fmt.Errorf("email_number %d is outside 1..%d", o.Number, limit)
	}
	return check(o.Kind(), needEmail(o.Email), needTime("sent_at", o.SentAt), numErr)
}

// Validate checks the op.
func (o Analytics) Validate() error {
	var statusErr error
	if o.Status != StatusSent && o.Status != StatusFailed {
		statusErr = fmt.Errorf("status %q is not %q or %q", o.Status, StatusSent, StatusFailed)
	}
	return check(o.Kind(), needEmail(o.Email), needTime("sent_at", o.SentAt), statusErr)
}

// Validate checks the op.
func (o BXSignup) Validate() error {
	return check(o.Kind(), needEmail(o.Email), needTime("at", o.At))
}

// Validate checks the op.
func (o BXAssessment) Validate() error {
	return check(o.Kind(), needEmail(o.Email), needText("segment", o.Segment))
}

// Validate checks the op.
func (o Unsubscribe) Validate() error {
	return check(o.Kind(), needEmail(o.Email), needText("property", o.Property), needTime("at", o.At))
}

func needEmail(email string) error {
	if !strings.Contains(email, "@") {
		return errors.New("email is missing or invalid")
	}
	return nil
}

func needTime(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is missing", field)
	}
	return nil
}

func needText(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is missing", field)
	}
	return nil
}

// check joins the problems found in an op of kind.
func check(kind string, errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w %s: %w", ErrInvalidOp, kind, err)
	}
	return nil
}

// Encode validates op and returns the kind and payload to store in the
// outbox.
func Encode(op Op) (kind string, payload json.RawMessage, err error) {
	if err := op.Validate(); err != nil {
		return "", nil, err
	}
	payload, err = json.Marshal(op)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s op: %w", op.Kind(), err)
	}
	return op.Kind(), payload, nil
}

// Decode reads an op back from its outbox kind and payload.
func Decode(kind string, payload []byte) (Op, error) {
	switch kind {
	case KindChristmasAssessment:
		return decodeAs[ChristmasAssessment](payload)
	case KindSequenceStart:
		return decodeAs[SequenceStart](payload)
	case KindBooking:
		return decodeAs[Booking](payload)
	case KindEmailSent:
		return decodeAs[EmailSent](payload)
	case KindAnalytics:
		return decodeAs[Analytics](payload)
	case KindBXSignup:
		return decodeAs[BXSignup](payload)
	case KindBXAssessment:
		return decodeAs[BXAssessment](payload)
	case KindUnsubscribe:
		return decodeAs[Unsubscribe](payload)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalidOp, kind)
}

func decodeAs[T Op](payload []byte) (Op, error) {
	var op T
	if err := json.Unmarshal(payload, &op); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrInvalidOp, op.Kind(), err)
	}
	return op, nil
}
