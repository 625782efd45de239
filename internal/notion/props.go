package notion

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jomei/notionapi"
)

// Notion's limits on rich text: characters per text object (counted as
// JavaScript does, in UTF-16 code units) and objects per array. The whole
// request must also stay under 500 KB, so one value is cut at 120 KB of
// JSON, which leaves room for a few long values on one page.
const (
	maxSegmentLen = 2000
	maxSegments   = 100
	maxValueBytes = 120 << 10
)

// segments splits s into rich-text objects of at most 2000 UTF-16 units,
// never inside a character, at most 100 of them and 120 KB in all. Text
// beyond that is dropped and the cut marked with an ellipsis. The result is
// never nil, so an empty value is written as [] (Notion refuses null).
func segments(s string) []notionapi.RichText {
	return splitText(s, maxSegments, maxValueBytes)
}

func splitText(s string, maxSegs, maxBytes int) []notionapi.RichText {
	out := []notionapi.RichText{}
	var b strings.Builder
	units, size := 0, 0
	for _, r := range s {
		w := max(1, utf16.RuneLen(r))
		size += jsonLen(r)
		if size > maxBytes-len("…") {
			out = append(out, textSegment(b.String()))
			return truncateLast(out)
		}
		if units+w > maxSegmentLen {
			out = append(out, textSegment(b.String()))
			if len(out) == maxSegs {
				return truncateLast(out)
			}
			b.Reset()
			units = 0
		}
		b.WriteRune(r)
		units += w
	}
	if b.Len() > 0 {
		out = append(out, textSegment(b.String()))
	}
	return out
}

// jsonLen is the size of r once encoding/json has written it.
func jsonLen(r rune) int {
	switch {
	case r == '"' || r == '\\':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
		return 6
	case r == utf8.RuneError:
		return 3
	}
	return utf8.RuneLen(r)
}

func textSegment(s string) notionapi.RichText {
	return notionapi.RichText{Text: &notionapi.Text{Content: s}}
}

// truncateLast replaces the end of the last segment with an ellipsis, to
// show the value was cut at Notion's limit.
func truncateLast(segs []notionapi.RichText) []notionapi.RichText {
	last := segs[len(segs)-1].Text
	r := []rune(last.Content)
	if len(r) == 0 {
		last.Content = "…"
		return segs
	}
	for len(utf16.Encode(r)) > maxSegmentLen-1 {
		r = r[:len(r)-1]
	}
	last.Content = string(r) + "…"
	return segs
}

func richTextProp(s string) notionapi.RichTextProperty {
	return notionapi.RichTextProperty{RichText: segments(s)}
}

func titleProp(s string) notionapi.TitleProperty {
	return notionapi.TitleProperty{Title: segments(s)}
}

func emailProp(s string) notionapi.EmailProperty { return notionapi.EmailProperty{Email: s} }

func numberProp(f float64) notionapi.NumberProperty { return notionapi.NumberProperty{Number: f} }

func selectProp(name string) notionapi.SelectProperty {
	return notionapi.SelectProperty{Select: notionapi.Option{Name: name}}
}

func checkboxProp(b bool) notionapi.CheckboxProperty {
	return notionapi.CheckboxProperty{Checkbox: b}
}

// dateValue is a date property written with a literal start. notionapi.Date
// always writes a datetime; legacy writes some dates as YYYY-MM-DD.
type dateValue struct{ start string }

// GetID satisfies notionapi.Property.
func (dateValue) GetID() string { return "" }

// GetType satisfies notionapi.Property.
func (dateValue) GetType() notionapi.PropertyType { return notionapi.PropertyTypeDate }

// MarshalJSON writes {"date":{"start":...}}.
func (d dateValue) MarshalJSON() ([]byte, error) {
	type date struct {
		Start string `json:"start"`
	}
	return json.Marshal(struct {
		Date date `json:"date"`
	}{date{d.start}})
}

// timeProp writes t as an RFC 3339 UTC datetime.
func timeProp(t time.Time) dateValue {
	return dateValue{start: t.UTC().Format(time.RFC3339)}
}

// dayProp writes a calendar date.
func dayProp(day string) dateValue { return dateValue{start: day} }

// normalizeDate turns a date given by a webhook into a Notion date start:
// YYYY-MM-DD stays as it is, a datetime becomes RFC 3339 UTC. ok is false
// for anything else, which the caller then leaves unwritten.
func normalizeDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339), true
		}
	}
	return "", false
}

// plainText joins every segment of a title or rich-text property.
func plainText(p notionapi.Property) string {
	var segs []notionapi.RichText
	switch v := p.(type) {
	case *notionapi.RichTextProperty:
		segs = v.RichText
	case *notionapi.TitleProperty:
		segs = v.Title
	case *notionapi.EmailProperty:
		return v.Email
	default:
		return ""
	}
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.PlainText != "":
			b.WriteString(s.PlainText)
		case s.Text != nil:
			b.WriteString(s.Text.Content)
		}
	}
	return b.String()
}

// optionName returns the chosen name of a select or status property, and
// whether the property is one of those types.
func optionName(p notionapi.Property) (string, bool) {
	switch v := p.(type) {
	case *notionapi.SelectProperty:
		return v.Select.Name, true
	case *notionapi.StatusProperty:
		return v.Status.Name, true
	}
	return "", false
}

// dateStart returns the start of a date property, if it has one.
func dateStart(p notionapi.Property) (time.Time, bool) {
	v, ok := p.(*notionapi.DateProperty)
	if !ok || v.Date == nil || v.Date.Start == nil {
		return time.Time{}, false
	}
	return time.Time(*v.Date.Start), true
}

// isEmpty reports whether the page's property has no value. A property the
// page does not carry counts as empty.
func isEmpty(page *notionapi.Page, name string) bool {
	p, ok := page.Properties[name]
	if !ok || p == nil {
		return true
	}
	switch v := p.(type) {
	case *notionapi.DateProperty:
		return v.Date == nil || v.Date.Start == nil
	case *notionapi.SelectProperty, *notionapi.StatusProperty:
		name, _ := optionName(p)
		return name == ""
	case *notionapi.RichTextProperty, *notionapi.TitleProperty, *notionapi.EmailProperty:
		return plainText(p) == ""
	case *notionapi.NumberProperty:
		// notionapi reads null as 0, so 0 counts as empty.
		return v.Number == 0
	}
	return false
}

// sameSecond reports whether a date property holds t, to the second (Notion
// may write the instant back with milliseconds or another offset).
func sameSecond(p notionapi.Property, t time.Time) bool {
	got, ok := dateStart(p)
	return ok && got.Truncate(time.Second).Equal(t.Truncate(time.Second))
}

// fillEmpty copies into dst the properties of src that are empty on page.
func fillEmpty(dst notionapi.Properties, page *notionapi.Page, src notionapi.Properties) {
	for name, p := range src {
		if isEmpty(page, name) {
			dst[name] = p
		}
	}
}
