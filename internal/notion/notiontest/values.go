package notiontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// apiError is an answer in Notion's error shape.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validationErr(format string, args ...any) *apiError {
	return &apiError{status: 400, code: "validation_error", message: fmt.Sprintf(format, args...)}
}

// Limits enforced like Notion's.
const (
	maxTextLen    = 2000
	maxArrayLen   = 100
	maxEmailLen   = 200
	maxURLLen     = 2000
	outDateLayout = "2006-01-02T15:04:05.000-07:00"
)

// readOnly types are computed by Notion and cannot be written.
var readOnly = map[string]bool{"created_time": true, "last_edited_time": true}

// decodeValue validates the API input of property name (schema type typ)
// and returns the value as it is stored and echoed.
func decodeValue(name, typ string, raw json.RawMessage) (any, error) {
	if readOnly[typ] {
		return nil, validationErr("%s is a read-only property and cannot be updated.", name)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, validationErr("body failed validation: body.properties.%s should be an object.", name)
	}
	v, ok := obj[typ]
	if !ok {
		return nil, validationErr("%s is expected to be %s.", name, typ)
	}

	switch typ {
	case "title", "rich_text":
		return decodeRichText(name, typ, v)
	case "email", "url", "phone_number":
		return decodeString(name, typ, v)
	case "number":
		return decodeNumber(name, v)
	case "select", "status":
		return decodeOption(name, typ, v)
	case "multi_select":
		return decodeOptions(name, v)
	case "date":
		return decodeDate(name, v)
	case "checkbox":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, validationErr("body failed validation: body.properties.%s.checkbox should be a boolean, instead was `%s`.", name, v)
		}
		return b, nil
	}
	return nil, validationErr("notiontest: property type %q of %s is not supported", typ, name)
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func decodeRichText(name, typ string, v json.RawMessage) (any, error) {
	var items []struct {
		Type string `json:"type"`
		Text *struct {
			Content *string `json:"content"`
			Link    any     `json:"link"`
		} `json:"text"`
	}
	if isNull(v) || json.Unmarshal(v, &items) != nil {
		return nil, validationErr("body failed validation: body.properties.%s.%s should be an array, instead was `%s`.", name, typ, v)
	}
	if len(items) > maxArrayLen {
		return nil, validationErr("body failed validation: body.properties.%s.%s.length should be ≤ `%d`, instead was `%d`.", name, typ, maxArrayLen, len(items))
	}
	out := make([]any, 0, len(items))
	for i, it := range items {
		if it.Text == nil || it.Text.Content == nil {
			return nil, validationErr("body failed validation: body.properties.%s.%s[%d].text should be defined, instead was `undefined`.", name, typ, i)
		}
		content := *it.Text.Content
		if n := len(utf16.Encode([]rune(content))); n > maxTextLen {
			return nil, validationErr("body failed validation: body.properties.%s.%s[%d].text.content.length should be ≤ `%d`, instead was `%d`.", name, typ, i, maxTextLen, n)
		}
		out = append(out, richTextObject(content))
	}
	return out, nil
}

func richTextObject(content string) map[string]any {
	return map[string]any{
		"type": "text",
		"text": map[string]any{"content": content, "link": nil},
		"annotations": map[string]any{
			"bold": false, "italic": false, "strikethrough": false,
			"underline": false, "code": false, "color": "default",
		},
		"plain_text": content,
		"href":       nil,
	}
}

func decodeString(name, typ string, v json.RawMessage) (any, error) {
	if isNull(v) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, validationErr("body failed validation: body.properties.%s.%s should be a string or `null`, instead was `%s`.", name, typ, v)
	}
	limit := maxEmailLen
	if typ == "url" {
		limit = maxURLLen
	}
	if n := len(utf16.Encode([]rune(s))); n > limit {
		return nil, validationErr("body failed validation: body.properties.%s.%s.length should be ≤ `%d`, instead was `%d`.", name, typ, limit, n)
	}
	if s == "" {
		return nil, nil
	}
	return s, nil
}

func decodeNumber(name string, v json.RawMessage) (any, error) {
	if isNull(v) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return nil, validationErr("body failed validation: body.properties.%s.number should be a number or `null`, instead was `%s`.", name, v)
	}
	return f, nil
}

func decodeOption(name, typ string, v json.RawMessage) (any, error) {
	if isNull(v) {
		return nil, nil
	}
	var opt struct {
		Name *string `json:"name"`
		ID   string  `json:"id"`
	}
	if err := json.Unmarshal(v, &opt); err != nil || opt.Name == nil {
		return nil, validationErr("body failed validation: body.properties.%s.%s.name should be defined, instead was `undefined`.", name, typ)
	}
	return optionObject(name, *opt.Name)
}

func optionObject(prop, name string) (map[string]any, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return nil, validationErr("body failed validation: body.properties.%s.select.name should be a non-empty string.", prop)
	case strings.Contains(name, ","):
		return nil, validationErr("Invalid select option, commas not allowed: %s", name)
	case len(name) > 100:
		return nil, validationErr("body failed validation: body.properties.%s.select.name.length should be ≤ `100`.", prop)
	}
	return map[string]any{"id": shortID(prop + "/" + name), "name": name, "color": "default"}, nil
}

func decodeOptions(name string, v json.RawMessage) (any, error) {
	var opts []struct {
		Name string `json:"name"`
	}
	if isNull(v) || json.Unmarshal(v, &opts) != nil {
		return nil, validationErr("body failed validation: body.properties.%s.multi_select should be an array.", name)
	}
	if len(opts) > maxArrayLen {
		return nil, validationErr("body failed validation: body.properties.%s.multi_select.length should be ≤ `%d`.", name, maxArrayLen)
	}
	out := make([]any, 0, len(opts))
	for _, o := range opts {
		obj, err := optionObject(name, o.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func decodeDate(name string, v json.RawMessage) (any, error) {
	if isNull(v) {
		return nil, nil
	}
	var d struct {
		Start    *string `json:"start"`
		End      *string `json:"end"`
		TimeZone *string `json:"time_zone"`
	}
	if err := json.Unmarshal(v, &d); err != nil || d.Start == nil {
		return nil, validationErr("body failed validation: body.properties.%s.date.start should be defined, instead was `undefined`.", name)
	}
	start, ok := normalizeDate(*d.Start)
	if !ok {
		return nil, validationErr("body failed validation: body.properties.%s.date.start should be a valid ISO 8601 date string, instead was `%q`.", name, *d.Start)
	}
	out := map[string]any{"start": start, "end": nil, "time_zone": nil}
	if d.End != nil {
		end, ok := normalizeDate(*d.End)
		if !ok {
			return nil, validationErr("body failed validation: body.properties.%s.date.end should be a valid ISO 8601 date string, instead was `%q`.", name, *d.End)
		}
		out["end"] = end
	}
	if d.TimeZone != nil {
		out["time_zone"] = *d.TimeZone
	}
	return out, nil
}

// normalizeDate accepts what Notion accepts (a date, or a datetime with or
// without an offset) and writes datetimes back the way Notion does, with
// milliseconds and a numeric offset.
func normalizeDate(s string) (string, bool) {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(outDateLayout), true
		}
	}
	return "", false
}

// parseDate reads a stored or filter date; a date alone is midnight UTC.
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// emptyValue is the value of a property no one has written.
func emptyValue(typ string) any {
	switch typ {
	case "title", "rich_text", "multi_select":
		return []any{}
	case "checkbox":
		return false
	}
	return nil
}

// plain joins the text of a title or rich-text value, or returns the
// string of an email, URL or phone value, or the name of an option.
func plain(typ string, v any) string {
	switch typ {
	case "title", "rich_text":
		var b strings.Builder
		for _, seg := range asSlice(v) {
			if m, ok := seg.(map[string]any); ok {
				s, _ := m["plain_text"].(string)
				b.WriteString(s)
			}
		}
		return b.String()
	case "email", "url", "phone_number":
		s, _ := v.(string)
		return s
	case "select", "status":
		if m, ok := v.(map[string]any); ok {
			s, _ := m["name"].(string)
			return s
		}
	case "date":
		if m, ok := v.(map[string]any); ok {
			s, _ := m["start"].(string)
			return s
		}
	}
	return ""
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// shortID derives a stable property or option id from a name, as Notion
// uses short opaque ids.
func shortID(name string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return fmt.Sprintf("%08x", h)[:4]
}
