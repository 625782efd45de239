package flows

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Campaign holds the campaign constants the legacy code hard-coded; they
// come from configuration. An empty field falls back to DefaultCampaign's.
type Campaign struct {
	// Deadline is the deadline instant (UTC); days_to_deadline counts whole
	// days to it, never below 0.
	Deadline time.Time
	// DeadlineLabel is shown as {{deadline_date}}, e.g. "December 5, 2025".
	DeadlineLabel string
	// BookingLink is {{calendly_link}} and the default reschedule URL.
	BookingLink string
	// ResultsLink is {{pdf_download_link}}.
	ResultsLink string
	// SpotsRemaining is {{spots_remaining}}.
	SpotsRemaining string
	// BookingsCount is {{bookings_count}}.
	BookingsCount string
	// Tips holds the personalized tip per system code: GPS CREW ENGINE FUEL
	// CABIN COCKPIT RADAR AUTOPILOT. A missing code uses the default text.
	Tips map[string]string
	// HolidayTip is {{personalized_tip_3}}.
	HolidayTip string
}

// tipOrder is the legacy match order of system codes (legacy §4.4).
var tipOrder = []string{"GPS", "CREW", "ENGINE", "FUEL", "CABIN", "COCKPIT", "RADAR", "AUTOPILOT"}

// DefaultCampaign returns neutral defaults: the legacy deadline and counts,
// example.com links and plain tip texts with no marketing copy.
func DefaultCampaign() Campaign {
	return Campaign{
		Deadline:       time.Date(2025, time.December, 5, 0, 0, 0, 0, time.UTC),
		DeadlineLabel:  "December 5, 2025",
		BookingLink:    "https://example.com/book",
		ResultsLink:    "https://example.com/assessment",
		SpotsRemaining: "12",
		BookingsCount:  "18",
		Tips: map[string]string{
			"GPS":       "Write down every step a client takes, from first contact to payment, on one page.",
			"CREW":      "Pick three daily tasks that someone else could do from a written checklist.",
			"ENGINE":    "Rank your services by the margin they earn, not by the revenue they bring.",
			"FUEL":      "Note where each of your last ten new clients first heard of you.",
			"CABIN":     "Ask five recent clients, in a short message, what they would change.",
			"COCKPIT":   "Check that you know the margin of each service you sell.",
			"RADAR":     "Keep a simple sheet of bookings per day for one week.",
			"AUTOPILOT": "Choose one repetitive manual task and look for a way to automate it.",
		},
		HolidayTip: "Set aside two hours this week to plan your capacity for the busy season.",
	}
}

// withDefaults fills every empty field from DefaultCampaign.
func (c Campaign) withDefaults() Campaign {
	d := DefaultCampaign()
	if c.Deadline.IsZero() {
		c.Deadline = d.Deadline
	}
	c.DeadlineLabel = orDefault(c.DeadlineLabel, d.DeadlineLabel)
	c.BookingLink = orDefault(c.BookingLink, d.BookingLink)
	c.ResultsLink = orDefault(c.ResultsLink, d.ResultsLink)
	c.SpotsRemaining = orDefault(c.SpotsRemaining, d.SpotsRemaining)
	c.BookingsCount = orDefault(c.BookingsCount, d.BookingsCount)
	c.HolidayTip = orDefault(c.HolidayTip, d.HolidayTip)
	tips := make(map[string]string, len(d.Tips))
	for k, v := range d.Tips {
		tips[k] = orDefault(c.Tips[k], v)
	}
	c.Tips = tips
	return c
}

// Variables returns the template variables of one email of a flow.
//
// Every flow gets the legacy 28-key Christmas set (legacy §4.4) with its
// documented defaults, plus gps_score, money_score and email, plus the
// variables of the flow's own sequence. Any other string or number in params
// is exposed under its own key, so new webhook fields reach templates; the
// documented keys win over such pass-through values.
//
// params are the run parameters decoded with json.Decoder.UseNumber, so a
// value may be json.Number, float64, int, string, bool, []any or nil.
//
// The personalized tips keep the legacy matching: the upper-cased weakest
// system must contain a system code (GPS, CREW, …, first match in that order).
// Free-text names such as "Money" match nothing and get the fallback tip
// (GPS for tip 1, CREW for tip 2).
func Variables(flow string, params map[string]any, c Campaign, now time.Time) map[string]string {
	c = c.withDefaults()
	p := paramReader(params)
	v := christmasSet(p, c, now)
	switch flow {
	case NoShowRecovery:
		addNoShow(v, p, c)
	case PostCallMaybe:
		addPostCall(v, p)
	case Onboarding:
		addOnboarding(v, p)
	case PreCallPrep:
		addPreCall(v, p)
	case BusinessXAssess:
		if city := p.text("city"); city != "" {
			v["city"] = city
		}
	}
	for k := range params {
		if _, ok := v[k]; ok {
			continue
		}
		if s, ok := scalar(params[k]); ok {
			v[k] = s
		}
	}
	return v
}

// christmasSet builds the legacy variable set every flow carries.
func christmasSet(p paramReader, c Campaign, now time.Time) map[string]string {
	first := p.text("first_name")
	if first == "" {
		// The pre-call flow only knows the attendee's full name.
		first, _, _ = strings.Cut(p.text("name"), " ")
	}
	segment := segmentOf(p)
	weak1, weak2 := p.text("weakest_system_1"), p.text("weakest_system_2")
	strongest := orDefault(p.text("strongest_system"), "CABIN")
	leak, leakK := revenueLeak(p["revenue_leak_total"])
	score := p.score("assessment_score")

	v := map[string]string{
		"email":              p.text("email"),
		"first_name":         orDefault(first, "there"),
		"business_name":      orDefault(p.text("business_name"), "your business"),
		"overall_score":      score,
		"assessment_score":   score,
		"gps_score":          p.score("gps_score"),
		"money_score":        p.score("money_score"),
		"segment":            segment,
		"readiness_zone":     ReadinessZone(segment),
		"weakest_system_1":   orDefault(weak1, "GPS"),
		"WeakestSystem1":     orDefault(weak1, "GPS"),
		"weakest_system":     orDefault(weak1, "GPS"),
		"weakest_system_2":   orDefault(weak2, "FUEL"),
		"WeakestSystem2":     orDefault(weak2, "FUEL"),
		"strongest_system":   strongest,
		"StrongestSystem":    strongest,
		"revenue_leak_total": leak,
		"TotalRevenueLeak_K": leakK,
		"days_to_deadline":   strconv.Itoa(daysTo(c.Deadline, now)),
		"deadline_date":      c.DeadlineLabel,
		"personalized_tip_1": c.Tips[tipCode(weak1, "GPS")],
		"personalized_tip_2": c.Tips[tipCode(weak2, "CREW")],
		"personalized_tip_3": c.HolidayTip,
		"calendly_link":      c.BookingLink,
		"pdf_download_link":  c.ResultsLink,
		"spots_remaining":    c.SpotsRemaining,
		"bookings_count":     c.BookingsCount,
	}
	for _, k := range []string{"red_systems", "orange_systems", "yellow_systems", "green_systems"} {
		v[k] = orDefault(p.number(k), "0")
	}
	return v
}

func addNoShow(v map[string]string, p paramReader, c Campaign) {
	v["calendly_event_uri"] = p.text("calendly_event_uri")
	v["scheduled_time"] = p.text("scheduled_time")
	v["event_type"] = orDefault(p.text("event_type"), "Discovery Call - $2997 Diagnostic")
	v["reschedule_url"] = orDefault(p.text("reschedule_url"), c.BookingLink)
}

func addPostCall(v map[string]string, p paramReader) {
	v["call_date"] = p.text("call_date")
	v["call_outcome"] = orDefault(p.text("call_outcome"), "Maybe")
	v["call_notes"] = p.text("call_notes")
	v["objections"] = p.list("objections")
	v["follow_up_priority"] = orDefault(p.text("follow_up_priority"), "Medium")
}

// toBeConfirmed stands in for onboarding details not known yet, so a
// sentence such as "we start on {{start_date}}" still reads.
const toBeConfirmed = "to be confirmed"

func addOnboarding(v map[string]string, p paramReader) {
	v["payment_amount"] = money(p["payment_amount"])
	v["payment_date"] = p.text("payment_date")
	v["salon_address"] = orDefault(p.text("salon_address"), toBeConfirmed)
	v["observation_dates"] = orDefault(p.list("observation_dates"), toBeConfirmed)
	v["start_date"] = orDefault(p.text("start_date"), toBeConfirmed)
	v["package_type"] = orDefault(p.text("package_type"), "Phase 1 - Traditional Service Diagnostic")
	v["docusign_completed"] = strconv.FormatBool(p.flag("docusign_completed", true))
}

func addPreCall(v map[string]string, p paramReader) {
	meeting := p.text("meeting_time")
	v["name"] = p.text("name")
	v["meeting_time"] = meeting
	v["meeting_date"] = meetingDate(meeting)
	v["booking_uid"] = p.text("booking_uid")
	if u := p.text("reschedule_url"); u != "" {
		v["reschedule_url"] = u
	}
}

// segmentOf uses the given segment, else classifies the red and orange
// counts when either is present, else OPTIMIZE.
func segmentOf(p paramReader) string {
	if s := strings.ToUpper(p.text("segment")); s != "" {
		return s
	}
	red, okRed := toInt(p["red_systems"])
	orange, okOrange := toInt(p["orange_systems"])
	if !okRed && !okOrange {
		return "OPTIMIZE"
	}
	return Segment(int(red), int(orange))
}

// tipCode returns the first system code, in legacy order, contained in the
// upper-cased name, or fallback when none is.
func tipCode(name, fallback string) string {
	upper := strings.ToUpper(name)
	if upper == "" {
		return fallback
	}
	for _, code := range tipOrder {
		if strings.Contains(upper, code) {
			return code
		}
	}
	return fallback
}

// revenueLeak formats revenue_leak_total and its thousands, rounded half to
// even as Python's round() does (14500 → 14, 15500 → 16).
func revenueLeak(v any) (total, thousands string) {
	f, ok := toFloat(v)
	if !ok || f == 0 {
		return "0", "0"
	}
	k := math.RoundToEven(f / 1000)
	return formatNumber(math.Trunc(f)), formatNumber(k)
}

// daysTo counts whole days from now to the deadline, never below 0.
func daysTo(deadline, now time.Time) int {
	d := deadline.Sub(now)
	if d <= 0 {
		return 0
	}
	return int(d / (24 * time.Hour))
}

// meetingDate is the calendar date of an RFC 3339 meeting time in the
// meeting's own offset, or "" when the value is not a time.
func meetingDate(s string) string {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.DateOnly)
	}
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return t.Format(time.DateOnly)
		}
	}
	return ""
}

// money formats an amount with two decimals ("2997.00"); a value that is
// not a number is shown as given.
func money(v any) string {
	if f, ok := toFloat(v); ok {
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	if s, ok := scalar(v); ok {
		return s
	}
	return "0.00"
}

// paramReader reads run parameters of any JSON-decoded type.
type paramReader map[string]any

// text returns a trimmed string or number parameter, "" when absent.
func (p paramReader) text(key string) string {
	s, _ := scalar(p[key])
	return strings.TrimSpace(s)
}

// number returns a numeric parameter as text, "" when absent.
func (p paramReader) number(key string) string {
	if f, ok := toFloat(p[key]); ok {
		return formatNumber(f)
	}
	return p.text(key)
}

// score returns a score as text, "N/A" when absent.
func (p paramReader) score(key string) string {
	return orDefault(p.number(key), "N/A")
}

// list joins a list parameter with ", "; a single string is kept as is.
func (p paramReader) list(key string) string {
	switch l := p[key].(type) {
	case []string:
		return joinNonEmpty(l)
	case []any:
		items := make([]string, 0, len(l))
		for _, it := range l {
			s, _ := scalar(it)
			items = append(items, strings.TrimSpace(s))
		}
		return joinNonEmpty(items)
	}
	return p.text(key)
}

// flag reads a boolean parameter, def when absent or not a boolean.
func (p paramReader) flag(key string, def bool) bool {
	switch b := p[key].(type) {
	case bool:
		return b
	case string:
		if v, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
			return v
		}
	}
	return def
}

func joinNonEmpty(items []string) string {
	out := items[:0:0]
	for _, s := range items {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// scalar renders a string or number as text. Booleans, lists, objects and
// nil are not scalars here.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return formatNumber(x), true
	case float32:
		return formatNumber(float64(x)), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	}
	return "", false
}

// toFloat reads a number, or a string holding one.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case bool:
		// Lax integer parsing, as the legacy validation accepted it.
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// toInt reads a whole number, truncating a fraction.
func toInt(v any) (int64, bool) {
	f, ok := toFloat(v)
	if !ok {
		return 0, false
	}
	return int64(f), true
}

// formatNumber writes whole numbers without a fraction ("72", not "72.0").
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
