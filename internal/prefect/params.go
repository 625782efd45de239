package prefect

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"perfect/flows"
)

// param is one parameter of a legacy flow function.
type param struct {
	name string
	// nullable parameters default to None in the flow and accept null.
	nullable bool
	// integer parameters are sent as JSON integers.
	integer bool
}

// sendEmailParams is the closed parameter set of christmas-send-email
// (legacy §2.3 and §11.2). Any other key fails the run before it starts.
// Only the eleven optional keys accept null; first_name, business_name and
// segment are plain strings with defaults and are omitted when unknown
// (errata 1).
var sendEmailParams = []param{
	{name: "email"},
	{name: "email_number", integer: true},
	{name: "first_name"},
	{name: "business_name"},
	{name: "segment"},
	{name: "assessment_score", nullable: true, integer: true},
	{name: "red_systems", nullable: true, integer: true},
	{name: "orange_systems", nullable: true, integer: true},
	{name: "yellow_systems", nullable: true, integer: true},
	{name: "green_systems", nullable: true, integer: true},
	{name: "gps_score", nullable: true, integer: true},
	{name: "money_score", nullable: true, integer: true},
	{name: "weakest_system_1", nullable: true},
	{name: "weakest_system_2", nullable: true},
	{name: "strongest_system", nullable: true},
	{name: "revenue_leak_total", nullable: true, integer: true},
}

// handlerParams are the parameters of the legacy handler flows (legacy
// §2.2, §2.4–2.6), in their signature order.
var handlerParams = map[string][]param{
	flows.ChristmasSignup: {
		{name: "email"}, {name: "first_name"}, {name: "business_name"},
		{name: "assessment_score", integer: true},
		{name: "red_systems", integer: true}, {name: "orange_systems", integer: true},
		{name: "yellow_systems", integer: true}, {name: "green_systems", integer: true},
		{name: "gps_score", nullable: true, integer: true},
		{name: "money_score", nullable: true, integer: true},
		{name: "weakest_system_1", nullable: true}, {name: "weakest_system_2", nullable: true},
		{name: "strongest_system", nullable: true},
		{name: "revenue_leak_total", nullable: true, integer: true},
	},
	flows.NoShowRecovery: {
		{name: "email"}, {name: "first_name"}, {name: "business_name"},
		{name: "calendly_event_uri"}, {name: "scheduled_time"}, {name: "event_type"},
		{name: "reschedule_url", nullable: true},
	},
	flows.PostCallMaybe: {
		{name: "email"}, {name: "first_name"}, {name: "business_name"}, {name: "call_date"},
		{name: "call_outcome"}, {name: "call_notes", nullable: true},
		{name: "objections", nullable: true}, {name: "follow_up_priority"},
	},
	flows.Onboarding: {
		{name: "email"}, {name: "first_name"}, {name: "business_name"},
		{name: "payment_confirmed"}, {name: "payment_amount"}, {name: "payment_date"},
		{name: "docusign_completed"}, {name: "salon_address", nullable: true},
		{name: "observation_dates", nullable: true}, {name: "start_date", nullable: true},
		{name: "package_type"},
	},
}

// SendEmailParameters builds the parameters of one christmas-send-email
// flow run from a run's parameters: exactly the legacy closed set, never
// another key. The eleven optional keys are always present (null when
// unknown, as the legacy handlers sent them); first_name, business_name
// and segment are left out when unknown or empty, so the flow applies its
// own defaults instead of refusing a null.
func SendEmailParameters(runParams map[string]any, emailNumber int, segment string) map[string]any {
	src := make(map[string]any, len(runParams)+2)
	for k, v := range runParams {
		src[k] = v
	}
	src["email_number"] = emailNumber
	if segment != "" {
		src["segment"] = segment
	}
	out := make(map[string]any, len(sendEmailParams))
	for _, p := range sendEmailParams {
		v, ok := normalize(src[p.name], p)
		switch {
		case ok:
			out[p.name] = v
		case p.nullable:
			out[p.name] = nil
		}
	}
	return out
}

// HandlerParameters builds the parameters of a legacy handler flow run
// from a run's parameters: only the handler's own parameters; a key with
// no usable value is left out so the flow's default applies, except that
// a nullable parameter keeps an explicit null.
func HandlerParameters(flow string, runParams map[string]any) map[string]any {
	out := map[string]any{}
	for _, p := range handlerParams[flow] {
		raw, present := runParams[p.name]
		if v, ok := normalize(raw, p); ok {
			out[p.name] = v
		} else if present && raw == nil && p.nullable {
			out[p.name] = nil
		}
	}
	return out
}

// ParamSpec describes one parameter of a legacy flow.
type ParamSpec struct {
	Name string
	// Nullable parameters accept null; the others must be left out
	// rather than sent as null.
	Nullable bool
	// Integer parameters take JSON integers; the others strings, except
	// where a handler documents another type.
	Integer bool
}

// SendEmailSignature describes the closed parameter set of
// christmas-send-email, in signature order. email and email_number are
// required.
func SendEmailSignature() []ParamSpec {
	out := make([]ParamSpec, len(sendEmailParams))
	for i, p := range sendEmailParams {
		out[i] = ParamSpec{Name: p.name, Nullable: p.nullable, Integer: p.integer}
	}
	return out
}

// SendEmailParameterNames lists the closed parameter set of
// christmas-send-email, in signature order.
func SendEmailParameterNames() []string {
	names := make([]string, len(sendEmailParams))
	for i, p := range sendEmailParams {
		names[i] = p.name
	}
	return names
}

// HandlerParameterNames lists the parameters of a legacy handler flow;
// nil for a flow that has no legacy deployment.
func HandlerParameterNames(flow string) []string {
	var names []string
	for _, p := range handlerParams[flow] {
		names = append(names, p.name)
	}
	return names
}

// normalize returns a value fit for the parameter, or false when there is
// none: nil, an empty string for a plain string parameter, or a value an
// integer parameter cannot hold.
func normalize(v any, p param) (any, bool) {
	if v == nil {
		return nil, false
	}
	if p.integer {
		return integer(v)
	}
	if s, ok := v.(string); ok && s == "" && !p.nullable {
		return nil, false
	}
	return v, true
}

// integer turns the number shapes a run's parameters can hold (int,
// float64, json.Number, numeric strings) into a JSON integer.
func integer(v any) (any, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return n, true
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return nil, false
		}
		if math.Abs(n) < 1<<53 {
			return int64(n), true
		}
		return json.Number(strconv.FormatFloat(n, 'f', 0, 64)), true
	case json.Number:
		return integerText(string(n))
	case string:
		return integerText(strings.TrimSpace(n))
	}
	return nil, false
}

func integerText(s string) (any, bool) {
	if s == "" {
		return nil, false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	if digits(strings.TrimPrefix(s, "-")) {
		// Too large for int64: keep the exact text (revenue_leak_total is
		// unbounded in the legacy model).
		return json.Number(s), true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return integer(f)
	}
	return nil, false
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
