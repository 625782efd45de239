package notiontest

import (
	"encoding/json"
	"strings"
	"time"
)

// match tests one page against a compiled filter.
type match func(p *page) bool

// maxFilterDepth is how deep compound filters may nest.
const maxFilterDepth = 2

// compileFilter checks a query filter against the database's schema the
// way Notion does, and returns the predicate it describes. Supported:
// property filters on text-like, number, select, status, checkbox, date and
// multi_select properties, and "and"/"or" compounds.
func compileFilter(db *database, raw json.RawMessage, depth int) (match, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, validationErr("body failed validation: body.filter should be an object.")
	}
	for _, op := range []string{"and", "or"} {
		if list, ok := obj[op]; ok {
			return compileCompound(db, op, list, depth)
		}
	}
	if _, ok := obj["timestamp"]; ok {
		return nil, validationErr("notiontest: timestamp filters are not supported")
	}

	var name string
	if err := json.Unmarshal(obj["property"], &name); err != nil || name == "" {
		return nil, validationErr("body failed validation. Fix one: body.filter.or should be defined, instead was `undefined`. body.filter.and should be defined, instead was `undefined`. body.filter.property should be defined, instead was `undefined`.")
	}
	typ, ok := db.schema[name]
	if !ok {
		return nil, validationErr("Could not find property with name or id: %s", name)
	}
	cond, ok := obj[typ]
	if !ok {
		return nil, validationErr("body failed validation: body.filter.%s should be defined for property %q of type %s.", typ, name, typ)
	}
	for k := range obj {
		if k != "property" && k != "type" && k != typ {
			return nil, validationErr("body failed validation: body.filter.%s is not allowed for property %q of type %s.", k, name, typ)
		}
	}
	return compileCondition(name, typ, cond)
}

func compileCompound(db *database, op string, raw json.RawMessage, depth int) (match, error) {
	if depth >= maxFilterDepth {
		return nil, validationErr("body failed validation: body.filter.%s nesting depth exceeds %d.", op, maxFilterDepth)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, validationErr("body failed validation: body.filter.%s should be an array.", op)
	}
	parts := make([]match, 0, len(list))
	for _, item := range list {
		m, err := compileFilter(db, item, depth+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, m)
	}
	if op == "and" {
		return func(p *page) bool {
			for _, m := range parts {
				if !m(p) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(p *page) bool {
		for _, m := range parts {
			if m(p) {
				return true
			}
		}
		return false
	}, nil
}

// compileCondition reads the single condition of a property filter.
func compileCondition(name, typ string, raw json.RawMessage) (match, error) {
	var cond map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cond); err != nil || len(cond) != 1 {
		return nil, validationErr("body failed validation: body.filter.%s should have exactly one condition.", typ)
	}
	var key string
	var arg json.RawMessage
	for k, v := range cond {
		key, arg = k, v
	}

	switch typ {
	case "title", "rich_text", "email", "url", "phone_number":
		return textCondition(name, typ, key, arg)
	case "select", "status":
		return optionCondition(name, typ, key, arg)
	case "number":
		return numberCondition(name, key, arg)
	case "checkbox":
		return checkboxCondition(name, key, arg)
	case "date":
		return dateCondition(name, key, arg)
	case "multi_select":
		return multiCondition(name, key, arg)
	}
	return nil, validationErr("notiontest: filters on %s properties are not supported", typ)
}

func badCondition(typ, key string) error {
	return validationErr("body failed validation: body.filter.%s.%s is not a valid condition.", typ, key)
}

func textCondition(name, typ, key string, arg json.RawMessage) (match, error) {
	if m, ok, err := emptiness(name, typ, key, arg); ok {
		return m, err
	}
	var want string
	if err := json.Unmarshal(arg, &want); err != nil {
		return nil, validationErr("body failed validation: body.filter.%s.%s should be a string.", typ, key)
	}
	var test func(got string) bool
	switch key {
	case "equals":
		test = func(got string) bool { return got == want }
	case "does_not_equal":
		test = func(got string) bool { return got != want }
	case "contains":
		test = func(got string) bool { return strings.Contains(got, want) }
	case "does_not_contain":
		test = func(got string) bool { return !strings.Contains(got, want) }
	case "starts_with":
		test = func(got string) bool { return strings.HasPrefix(got, want) }
	case "ends_with":
		test = func(got string) bool { return strings.HasSuffix(got, want) }
	default:
		return nil, badCondition(typ, key)
	}
	return func(p *page) bool { return test(plain(typ, p.props[name])) }, nil
}

// emptiness handles is_empty and is_not_empty for any type.
func emptiness(name, typ, key string, arg json.RawMessage) (match, bool, error) {
	if key != "is_empty" && key != "is_not_empty" {
		return nil, false, nil
	}
	var flag bool
	if err := json.Unmarshal(arg, &flag); err != nil || !flag {
		return nil, true, validationErr("body failed validation: body.filter.%s.%s should be `true`.", typ, key)
	}
	want := key == "is_empty"
	return func(p *page) bool { return valueEmpty(typ, p.props[name]) == want }, true, nil
}

func valueEmpty(typ string, v any) bool {
	switch typ {
	case "title", "rich_text":
		return plain(typ, v) == ""
	case "multi_select":
		return len(asSlice(v)) == 0
	case "checkbox":
		return v != true
	}
	return v == nil
}

func optionCondition(name, typ, key string, arg json.RawMessage) (match, error) {
	if m, ok, err := emptiness(name, typ, key, arg); ok {
		return m, err
	}
	var want string
	if err := json.Unmarshal(arg, &want); err != nil {
		return nil, validationErr("body failed validation: body.filter.%s.%s should be a string.", typ, key)
	}
	switch key {
	case "equals":
		return func(p *page) bool { return p.props[name] != nil && plain(typ, p.props[name]) == want }, nil
	case "does_not_equal":
		return func(p *page) bool { return plain(typ, p.props[name]) != want }, nil
	}
	return nil, badCondition(typ, key)
}

func numberCondition(name, key string, arg json.RawMessage) (match, error) {
	if m, ok, err := emptiness(name, "number", key, arg); ok {
		return m, err
	}
	var want float64
	if err := json.Unmarshal(arg, &want); err != nil {
		return nil, validationErr("body failed validation: body.filter.number.%s should be a number.", key)
	}
	var test func(got float64) bool
	switch key {
	case "equals":
		test = func(got float64) bool { return got == want }
	case "does_not_equal":
		test = func(got float64) bool { return got != want }
	case "greater_than":
		test = func(got float64) bool { return got > want }
	case "less_than":
		test = func(got float64) bool { return got < want }
	case "greater_than_or_equal_to":
		test = func(got float64) bool { return got >= want }
	case "less_than_or_equal_to":
		test = func(got float64) bool { return got <= want }
	default:
		return nil, badCondition("number", key)
	}
	return func(p *page) bool {
		got, ok := p.props[name].(float64)
		return ok && test(got)
	}, nil
}

func checkboxCondition(name, key string, arg json.RawMessage) (match, error) {
	var want bool
	if err := json.Unmarshal(arg, &want); err != nil {
		return nil, validationErr("body failed validation: body.filter.checkbox.%s should be a boolean.", key)
	}
	switch key {
	case "equals":
		return func(p *page) bool { return (p.props[name] == true) == want }, nil
	case "does_not_equal":
		return func(p *page) bool { return (p.props[name] == true) != want }, nil
	}
	return nil, badCondition("checkbox", key)
}

func dateCondition(name, key string, arg json.RawMessage) (match, error) {
	if m, ok, err := emptiness(name, "date", key, arg); ok {
		return m, err
	}
	var s string
	if err := json.Unmarshal(arg, &s); err != nil {
		return nil, validationErr("body failed validation: body.filter.date.%s should be a date string.", key)
	}
	want, ok := parseDate(s)
	if !ok {
		return nil, validationErr("body failed validation: body.filter.date.%s should be a valid ISO 8601 date string, instead was `%q`.", key, s)
	}
	var test func(got time.Time) bool
	switch key {
	case "equals":
		test = func(got time.Time) bool { return got.Equal(want) }
	case "before":
		test = func(got time.Time) bool { return got.Before(want) }
	case "after":
		test = func(got time.Time) bool { return got.After(want) }
	case "on_or_before":
		test = func(got time.Time) bool { return !got.After(want) }
	case "on_or_after":
		test = func(got time.Time) bool { return !got.Before(want) }
	default:
		return nil, badCondition("date", key)
	}
	return func(p *page) bool {
		got, ok := parseDate(plain("date", p.props[name]))
		return ok && test(got)
	}, nil
}

func multiCondition(name, key string, arg json.RawMessage) (match, error) {
	if m, ok, err := emptiness(name, "multi_select", key, arg); ok {
		return m, err
	}
	var want string
	if err := json.Unmarshal(arg, &want); err != nil {
		return nil, validationErr("body failed validation: body.filter.multi_select.%s should be a string.", key)
	}
	has := func(p *page) bool {
		for _, o := range asSlice(p.props[name]) {
			if m, ok := o.(map[string]any); ok && m["name"] == want {
				return true
			}
		}
		return false
	}
	switch key {
	case "contains":
		return has, nil
	case "does_not_contain":
		return func(p *page) bool { return !has(p) }, nil
	}
	return nil, badCondition("multi_select", key)
}
