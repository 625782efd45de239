package webhook

import "perfect/flows"

// Defaults of the legacy models (legacy §1.4–1.10).
const (
	DefaultBusinessName     = "your business"
	DefaultSignupSource     = "web_form"
	DefaultEventType        = "Discovery Call - $2997 Diagnostic"
	DefaultCallOutcome      = "Maybe"
	DefaultFollowUpPriority = "Medium"
	DefaultPackageType      = "Phase 1 - Traditional Service Diagnostic"
)

// Signup is the body of POST /webhook/signup (BusinessX).
type Signup struct {
	Email, Name, FirstName, BusinessName, SignupSource string
}

// DecodeSignup validates a BusinessX signup body.
func DecodeSignup(body []byte) (*Signup, error) {
	var s Signup
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &s.Email},
		{name: "name", kind: kindStr, required: true, dst: &s.Name},
		{name: "first_name", kind: kindStr, required: true, dst: &s.FirstName},
		{name: "business_name", kind: kindStr, def: DefaultBusinessName, dst: &s.BusinessName},
		{name: "signup_source", kind: kindStr, def: DefaultSignupSource, dst: &s.SignupSource},
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// Params returns the signup-handler flow parameters.
func (s *Signup) Params() map[string]any {
	return map[string]any{
		"email":         s.Email,
		"name":          s.Name,
		"first_name":    s.FirstName,
		"business_name": s.BusinessName,
		"signup_source": s.SignupSource,
	}
}

// Assessment is the body of POST /webhook/assessment (BusinessX).
type Assessment struct {
	Email                                                  string
	RedSystems, OrangeSystems, YellowSystems, GreenSystems int
	AssessmentScore                                        *int
	AssessmentDate                                         *string
}

// DecodeAssessment validates a BusinessX assessment body.
func DecodeAssessment(body []byte) (*Assessment, error) {
	var a Assessment
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &a.Email},
		{name: "red_systems", kind: kindInt, required: true, bounds: between(0, 8), dst: &a.RedSystems},
		{name: "orange_systems", kind: kindInt, required: true, bounds: between(0, 8), dst: &a.OrangeSystems},
		{name: "yellow_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &a.YellowSystems},
		{name: "green_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &a.GreenSystems},
		{name: "assessment_score", kind: kindInt, nullable: true, bounds: between(0, 100), dst: &a.AssessmentScore},
		{name: "assessment_date", kind: kindStr, nullable: true, dst: &a.AssessmentDate},
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Segment is the BusinessX segment of the assessment (legacy §3.1).
func (a *Assessment) Segment() string { return flows.Segment(a.RedSystems, a.OrangeSystems) }

// Params returns the assessment-handler flow parameters plus the segment
// the handler computed.
func (a *Assessment) Params() map[string]any {
	return map[string]any{
		"email":            a.Email,
		"red_systems":      a.RedSystems,
		"orange_systems":   a.OrangeSystems,
		"yellow_systems":   a.YellowSystems,
		"green_systems":    a.GreenSystems,
		"assessment_score": intOrNil(a.AssessmentScore),
		"assessment_date":  strOrNil(a.AssessmentDate),
		"segment":          a.Segment(),
	}
}

// ChristmasSignup is the body of POST /webhook/christmas-signup.
type ChristmasSignup struct {
	Email, FirstName                                       string
	BusinessName                                           *string
	AssessmentScore                                        int
	RedSystems, OrangeSystems, YellowSystems, GreenSystems int
	GPSScore, MoneyScore                                   *int
	WeakestSystem1, WeakestSystem2                         *string
	RevenueLeakTotal                                       *int
}

// DecodeChristmasSignup validates a Christmas signup body.
func DecodeChristmasSignup(body []byte) (*ChristmasSignup, error) {
	var c ChristmasSignup
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &c.Email},
		{name: "first_name", kind: kindStr, required: true, dst: &c.FirstName},
		{name: "business_name", kind: kindStr, nullable: true, dst: &c.BusinessName},
		{name: "assessment_score", kind: kindInt, required: true, bounds: between(0, 100), dst: &c.AssessmentScore},
		{name: "red_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &c.RedSystems},
		{name: "orange_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &c.OrangeSystems},
		{name: "yellow_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &c.YellowSystems},
		{name: "green_systems", kind: kindInt, def: 0, bounds: between(0, 8), dst: &c.GreenSystems},
		{name: "gps_score", kind: kindInt, nullable: true, bounds: between(0, 100), dst: &c.GPSScore},
		{name: "money_score", kind: kindInt, nullable: true, bounds: between(0, 100), dst: &c.MoneyScore},
		{name: "weakest_system_1", kind: kindStr, nullable: true, dst: &c.WeakestSystem1},
		{name: "weakest_system_2", kind: kindStr, nullable: true, dst: &c.WeakestSystem2},
		{name: "revenue_leak_total", kind: kindInt, nullable: true, dst: &c.RevenueLeakTotal},
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Segment is the Christmas segment of the signup (legacy §3.1).
func (c *ChristmasSignup) Segment() string { return flows.Segment(c.RedSystems, c.OrangeSystems) }

// Params returns the christmas-signup-handler parameters with the
// business name defaulted, strongest_system (never sent by the webhook) as
// nil, and the segment. Note that segment is not a parameter of the legacy
// Prefect deployment christmas-signup-handler; a Prefect caller must drop it.
func (c *ChristmasSignup) Params() map[string]any {
	business := DefaultBusinessName
	if c.BusinessName != nil && *c.BusinessName != "" {
		business = *c.BusinessName
	}
	return map[string]any{
		"email":              c.Email,
		"first_name":         c.FirstName,
		"business_name":      business,
		"assessment_score":   c.AssessmentScore,
		"red_systems":        c.RedSystems,
		"orange_systems":     c.OrangeSystems,
		"yellow_systems":     c.YellowSystems,
		"green_systems":      c.GreenSystems,
		"gps_score":          intOrNil(c.GPSScore),
		"money_score":        intOrNil(c.MoneyScore),
		"weakest_system_1":   strOrNil(c.WeakestSystem1),
		"weakest_system_2":   strOrNil(c.WeakestSystem2),
		"strongest_system":   nil,
		"revenue_leak_total": intOrNil(c.RevenueLeakTotal),
		"segment":            c.Segment(),
	}
}

// NoShow is the flattened body of POST /webhook/calendly-noshow.
type NoShow struct {
	Email, FirstName, BusinessName, CalendlyEventURI, ScheduledTime, EventType string
	RescheduleURL                                                              *string
}

// DecodeNoShow validates the legacy flattened no-show body. Calendly's own
// envelope is read by DecodeCalendly.
func DecodeNoShow(body []byte) (*NoShow, error) {
	var n NoShow
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &n.Email},
		{name: "first_name", kind: kindStr, required: true, dst: &n.FirstName},
		{name: "business_name", kind: kindStr, required: true, dst: &n.BusinessName},
		{name: "calendly_event_uri", kind: kindStr, required: true, dst: &n.CalendlyEventURI},
		{name: "scheduled_time", kind: kindStr, required: true, dst: &n.ScheduledTime},
		{name: "event_type", kind: kindStr, def: DefaultEventType, dst: &n.EventType},
		{name: "reschedule_url", kind: kindStr, nullable: true, dst: &n.RescheduleURL},
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Params returns the christmas-noshow-recovery-handler parameters.
func (n *NoShow) Params() map[string]any {
	return map[string]any{
		"email":              n.Email,
		"first_name":         n.FirstName,
		"business_name":      n.BusinessName,
		"calendly_event_uri": n.CalendlyEventURI,
		"scheduled_time":     n.ScheduledTime,
		"event_type":         n.EventType,
		"reschedule_url":     strOrNil(n.RescheduleURL),
	}
}

// PostCall is the body of POST /webhook/postcall-maybe.
type PostCall struct {
	Email, FirstName, BusinessName, CallDate, CallOutcome string
	CallNotes                                             *string
	Objections                                            []string // nil when absent or null
	FollowUpPriority                                      string
}

// DecodePostCall validates a post-call "maybe" body.
func DecodePostCall(body []byte) (*PostCall, error) {
	var p PostCall
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &p.Email},
		{name: "first_name", kind: kindStr, required: true, dst: &p.FirstName},
		{name: "business_name", kind: kindStr, required: true, dst: &p.BusinessName},
		{name: "call_date", kind: kindStr, required: true, dst: &p.CallDate},
		{name: "call_outcome", kind: kindStr, def: DefaultCallOutcome, dst: &p.CallOutcome},
		{name: "call_notes", kind: kindStr, nullable: true, dst: &p.CallNotes},
		{name: "objections", kind: kindStrList, nullable: true, dst: &p.Objections},
		{name: "follow_up_priority", kind: kindStr, def: DefaultFollowUpPriority, dst: &p.FollowUpPriority},
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Params returns the christmas-postcall-maybe-handler parameters.
func (p *PostCall) Params() map[string]any {
	return map[string]any{
		"email":              p.Email,
		"first_name":         p.FirstName,
		"business_name":      p.BusinessName,
		"call_date":          p.CallDate,
		"call_outcome":       p.CallOutcome,
		"call_notes":         strOrNil(p.CallNotes),
		"objections":         listOrNil(p.Objections),
		"follow_up_priority": p.FollowUpPriority,
	}
}

// Onboarding is the body of POST /webhook/onboarding-start. Decoding
// accepts payment_confirmed=false as the legacy model did; the handler
// refuses it (decisions §4).
type Onboarding struct {
	Email, FirstName, BusinessName string
	PaymentConfirmed               bool
	PaymentAmount                  float64
	PaymentDate                    string
	DocusignCompleted              bool
	SalonAddress                   *string
	ObservationDates               []string // nil when absent or null
	StartDate                      *string
	PackageType                    string
}

// DecodeOnboarding validates an onboarding-start body.
func DecodeOnboarding(body []byte) (*Onboarding, error) {
	var o Onboarding
	err := decodeFields(body, []field{
		{name: "email", kind: kindEmail, required: true, dst: &o.Email},
		{name: "first_name", kind: kindStr, required: true, dst: &o.FirstName},
		{name: "business_name", kind: kindStr, required: true, dst: &o.BusinessName},
		{name: "payment_confirmed", kind: kindBool, required: true, dst: &o.PaymentConfirmed},
		{name: "payment_amount", kind: kindFloat, required: true, dst: &o.PaymentAmount},
		{name: "payment_date", kind: kindStr, required: true, dst: &o.PaymentDate},
		{name: "docusign_completed", kind: kindBool, def: true, dst: &o.DocusignCompleted},
		{name: "salon_address", kind: kindStr, nullable: true, dst: &o.SalonAddress},
		{name: "observation_dates", kind: kindStrList, nullable: true, dst: &o.ObservationDates},
		{name: "start_date", kind: kindStr, nullable: true, dst: &o.StartDate},
		{name: "package_type", kind: kindStr, def: DefaultPackageType, dst: &o.PackageType},
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// Params returns the christmas-onboarding-handler parameters.
func (o *Onboarding) Params() map[string]any {
	return map[string]any{
		"email":              o.Email,
		"first_name":         o.FirstName,
		"business_name":      o.BusinessName,
		"payment_confirmed":  o.PaymentConfirmed,
		"payment_amount":     o.PaymentAmount,
		"payment_date":       o.PaymentDate,
		"docusign_completed": o.DocusignCompleted,
		"salon_address":      strOrNil(o.SalonAddress),
		"observation_dates":  listOrNil(o.ObservationDates),
		"start_date":         strOrNil(o.StartDate),
		"package_type":       o.PackageType,
	}
}

// intOrNil and friends turn absent optional values into an untyped nil, so
// they marshal as null and compare equal to nil.
func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func listOrNil(l []string) any {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	copy(out, l)
	return out
}
