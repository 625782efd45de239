// Package flows defines the email sequences of perfect as data: which
// webhook starts which flow, the emails of each flow, their templates and
// their delays in production and in testing mode. It does no I/O and imports
// only the standard library, so every other package can depend on it.
package flows

import (
	"fmt"
	"sort"
	"time"
)

// Flow names. They are the Prefect flow and deployment names of the legacy
// system, so runs keep the names the business already filters on.
const (
	ChristmasSignup   = "christmas-signup-handler"
	NoShowRecovery    = "christmas-noshow-recovery-handler"
	PostCallMaybe     = "christmas-postcall-maybe-handler"
	Onboarding        = "christmas-onboarding-handler"
	PreCallPrep       = "christmas-precall-prep"
	BusinessXSignup   = "signup-handler"
	BusinessXAssess   = "assessment-handler"
	ChristmasSendMail = "christmas-send-email"
)

// Campaign labels, kept as the legacy system wrote them (legacy §10 #27).
const (
	CampaignChristmas         = "Christmas 2025"
	CampaignChristmasAnalytic = "Christmas Campaign"
	CampaignTraditional       = "Christmas Traditional Service"
	CampaignBusinessX         = "BusinessX"
)

// Anchor says what a step's offset is counted from.
type Anchor int

const (
	// FromIntake counts offsets forward from the moment the webhook was accepted.
	FromIntake Anchor = iota
	// BeforeMeeting counts offsets backwards from the meeting start time.
	BeforeMeeting
)

// Step is one email of a flow.
type Step struct {
	// Number is the email_number passed to templates and to Prefect.
	Number int
	// Template is the template name; BySegment overrides it per segment.
	Template  string
	BySegment map[string]string
	// Delay is the production offset from the anchor; TestDelay is used in
	// TESTING_MODE. For BeforeMeeting flows both count backwards.
	Delay     time.Duration
	TestDelay time.Duration
}

// TemplateFor returns the template name of the step for a segment.
func (s Step) TemplateFor(segment string) string {
	if t, ok := s.BySegment[segment]; ok {
		return t
	}
	return s.Template
}

// Flow is one email sequence.
type Flow struct {
	// Name is the legacy flow and Prefect deployment name.
	Name string
	// Path is the webhook that starts the flow.
	Path string
	// SequenceType is the Notion `Template Type` of the flow's sequence
	// record ("" for the 5-day nurture sequence, as in the legacy system).
	SequenceType string
	Campaign     string
	Anchor       Anchor
	Steps        []Step
	// Nurture marks marketing emails: a booking cancels them and they expire
	// when too late. Transactional emails (onboarding after payment) are
	// neither cancelled by nurture rules nor blocked by unsubscribes.
	Nurture       bool
	Transactional bool
	// MaxLateness is how late a step may be sent; zero means never expire.
	MaxLateness time.Duration
}

const (
	minute = time.Minute
	hour   = time.Hour
)

var all = []*Flow{
	{
		Name: ChristmasSignup, Path: "/webhook/christmas-signup",
		Campaign: CampaignChristmas, Anchor: FromIntake, Nurture: true,
		MaxLateness: 24 * hour,
		// The website sends E1 itself, so the sequence always starts at E2
		// (decisions §4, website-first).
		Steps: []Step{
			{Number: 2, Template: "5-Day E2", Delay: 24 * hour, TestDelay: 1 * minute},
			{Number: 3, Template: "5-Day E3", Delay: 72 * hour, TestDelay: 2 * minute},
			{Number: 4, Template: "5-Day E4", Delay: 96 * hour, TestDelay: 3 * minute},
			{Number: 5, Template: "5-Day E5", Delay: 120 * hour, TestDelay: 4 * minute},
		},
	},
	{
		Name: NoShowRecovery, Path: "/webhook/calendly-noshow",
		SequenceType: "No-Show Recovery", Campaign: CampaignChristmas,
		Anchor: FromIntake, Nurture: true, MaxLateness: 24 * hour,
		Steps: []Step{
			{Number: 1, Template: "noshow_recovery_email_1", Delay: 5 * minute, TestDelay: 1 * minute},
			{Number: 2, Template: "noshow_recovery_email_2", Delay: 24 * hour, TestDelay: 2 * minute},
			{Number: 3, Template: "noshow_recovery_email_3", Delay: 48 * hour, TestDelay: 3 * minute},
		},
	},
	{
		Name: PostCallMaybe, Path: "/webhook/postcall-maybe",
		SequenceType: "Post-Call Follow-Up", Campaign: CampaignChristmas,
		Anchor: FromIntake, Nurture: true, MaxLateness: 24 * hour,
		Steps: []Step{
			{Number: 1, Template: "postcall_maybe_email_1", Delay: 1 * hour, TestDelay: 1 * minute},
			{Number: 2, Template: "postcall_maybe_email_2", Delay: 72 * hour, TestDelay: 2 * minute},
			{Number: 3, Template: "postcall_maybe_email_3", Delay: 168 * hour, TestDelay: 3 * minute},
		},
	},
	{
		Name: Onboarding, Path: "/webhook/onboarding-start",
		SequenceType: "Onboarding", Campaign: CampaignChristmas,
		Anchor: FromIntake, Transactional: true,
		Steps: []Step{
			{Number: 1, Template: "onboarding_phase1_email_1", Delay: 1 * hour, TestDelay: 1 * minute},
			{Number: 2, Template: "onboarding_phase1_email_2", Delay: 24 * hour, TestDelay: 2 * minute},
			{Number: 3, Template: "onboarding_phase1_email_3", Delay: 72 * hour, TestDelay: 3 * minute},
		},
	},
	{
		Name: PreCallPrep, Path: "/webhook/calcom-booking",
		SequenceType: "Pre-Call Reminder", Campaign: CampaignChristmas,
		Anchor: BeforeMeeting, MaxLateness: 1 * hour,
		Steps: []Step{
			{Number: 1, Template: "precall_reminder_1", Delay: 72 * hour, TestDelay: 6 * minute},
			{Number: 2, Template: "precall_reminder_2", Delay: 24 * hour, TestDelay: 3 * minute},
			{Number: 3, Template: "precall_reminder_3", Delay: 2 * hour, TestDelay: 1 * minute},
		},
	},
	{
		Name: BusinessXSignup, Path: "/webhook/signup",
		Campaign: CampaignBusinessX, Anchor: FromIntake,
	},
	{
		Name: BusinessXAssess, Path: "/webhook/assessment",
		SequenceType: "BusinessX 5-Email", Campaign: CampaignBusinessX,
		Anchor: FromIntake, Nurture: true, MaxLateness: 24 * hour,
		Steps: []Step{
			{Number: 1, Template: "email_1", Delay: 0, TestDelay: 0},
			{Number: 2, Template: "email_2b_urgent", BySegment: map[string]string{
				"CRITICAL": "email_2a_critical", "URGENT": "email_2b_urgent", "OPTIMIZE": "email_2c_optimize",
			}, Delay: 24 * hour, TestDelay: 1 * minute},
			{Number: 3, Template: "email_3", Delay: 72 * hour, TestDelay: 3 * minute},
			{Number: 4, Template: "email_4", Delay: 120 * hour, TestDelay: 6 * minute},
			{Number: 5, Template: "email_5b_urgent", BySegment: map[string]string{
				"CRITICAL": "email_5a_critical", "URGENT": "email_5b_urgent", "OPTIMIZE": "email_5c_optimize",
			}, Delay: 168 * hour, TestDelay: 10 * minute},
		},
	},
}

var byName = func() map[string]*Flow {
	m := make(map[string]*Flow, len(all))
	for _, f := range all {
		m[f.Name] = f
	}
	return m
}()

// All returns every flow, in a stable order.
func All() []*Flow { return append([]*Flow(nil), all...) }

// ByName returns the flow with the given legacy name.
func ByName(name string) (*Flow, bool) {
	f, ok := byName[name]
	return f, ok
}

// TemplateNames returns every template name any flow can use, sorted.
func TemplateNames() []string {
	seen := map[string]bool{}
	for _, f := range all {
		for _, s := range f.Steps {
			seen[s.Template] = true
			for _, t := range s.BySegment {
				seen[t] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Planned is one email of a plan: what to send and when.
type Planned struct {
	Number   int
	Template string
	DueAt    time.Time
}

// Plan computes the emails of a flow. anchor is the intake time for
// FromIntake flows and the meeting start for BeforeMeeting flows; now is the
// current time. Reminders whose time has already passed are dropped, as the
// legacy pre-call flow did (legacy §2.7 and errata 10).
func (f *Flow) Plan(anchor, now time.Time, testing bool, segment string) []Planned {
	var out []Planned
	for _, s := range f.Steps {
		d := s.Delay
		if testing {
			d = s.TestDelay
		}
		due := anchor.Add(d)
		if f.Anchor == BeforeMeeting {
			due = anchor.Add(-d)
			if !keepReminder(anchor.Sub(now), d, f.maxDelay(testing)) {
				continue
			}
		}
		out = append(out, Planned{Number: s.Number, Template: s.TemplateFor(segment), DueAt: due.UTC()})
	}
	return out
}

// keepReminder applies the legacy rule: when the meeting is at least the
// largest offset away every reminder is kept; otherwise only offsets strictly
// smaller than the time remaining survive.
func keepReminder(remaining, offset, largest time.Duration) bool {
	if remaining >= largest {
		return true
	}
	return offset < remaining
}

func (f *Flow) maxDelay(testing bool) time.Duration {
	var m time.Duration
	for _, s := range f.Steps {
		d := s.Delay
		if testing {
			d = s.TestDelay
		}
		m = max(m, d)
	}
	return m
}

// Segment classifies an assessment by the legacy rule (legacy §3.1).
func Segment(red, orange int) string {
	switch {
	case red >= 2:
		return "CRITICAL"
	case red == 1 || orange >= 2:
		return "URGENT"
	default:
		return "OPTIMIZE"
	}
}

// ReadinessZone maps a segment to the label templates show.
func ReadinessZone(segment string) string {
	switch segment {
	case "CRITICAL":
		return "Crisis Zone"
	case "URGENT":
		return "Warning Zone"
	default:
		return "Growth Zone"
	}
}

// StepID is the stable id of a run's email, also used as the Resend
// Idempotency-Key, so a re-send after a crash is recognised by Resend.
func StepID(runID string, number int) string {
	return fmt.Sprintf("%s-e%d", runID, number)
}
