package webhook

import (
	"fmt"
	"math/big"
)

// kind is the pydantic type of a field.
type kind int

const (
	kindStr     kind = iota // str
	kindEmail               // EmailStr
	kindInt                 // int
	kindFloat               // float
	kindBool                // bool
	kindStrList             // List[str]
)

// field is one row of a request schema: its JSON name, type, whether it is
// required or nullable, its default when absent, its bounds, and where the
// decoded value goes (*string, **string, *int, **int, *float64, *bool or
// *[]string). Rows are listed in the legacy model's order, which is the order
// pydantic reported errors in.
type field struct {
	name     string
	kind     kind
	required bool
	nullable bool
	def      any // used when the field is absent and not required
	bounds   *bounds
	dst      any
}

// bounds are inclusive limits of an int field (pydantic's ge and le).
type bounds struct{ ge, le int64 }

func between(ge, le int64) *bounds { return &bounds{ge: ge, le: le} }

// decodeFields validates a body against a schema and fills the
// destinations. It returns a *ValidationError listing every failing field,
// or a *BadRequest for an unreadable body.
func decodeFields(body []byte, fields []field) error {
	obj, err := parseBodyObject(body)
	if err != nil {
		return err
	}
	var detail []FieldError
	for _, f := range fields {
		detail = append(detail, f.decode(obj)...)
	}
	if len(detail) > 0 {
		return &ValidationError{Detail: detail}
	}
	return nil
}

func (f field) decode(obj *object) []FieldError {
	loc := bodyLoc(f.name)
	raw, ok := obj.get(f.name)
	switch {
	case !ok && f.required:
		return []FieldError{missingAt(loc, obj)}
	case !ok:
		f.assign(f.def)
		return nil
	case raw == nil && f.nullable:
		f.assign(nil)
		return nil
	}
	v, issues := f.convert(raw)
	if len(issues) > 0 {
		out := make([]FieldError, len(issues))
		for i, is := range issues {
			out[i] = is.at(loc)
		}
		return out
	}
	f.assign(v)
	return nil
}

// convert applies the field's type and bounds to a present, non-null value.
func (f field) convert(raw any) (any, []*issue) {
	var (
		v  any
		is *issue
	)
	switch f.kind {
	case kindStr:
		v, is = asString(raw)
	case kindEmail:
		v, is = asEmail(raw)
	case kindInt:
		v, is = f.asBoundedInt(raw)
	case kindFloat:
		v, is = asFloat(raw)
	case kindBool:
		v, is = asBool(raw)
	case kindStrList:
		return asStringList(raw)
	default:
		panic(fmt.Sprintf("webhook: unknown kind %d", f.kind))
	}
	if is != nil {
		return nil, []*issue{is}
	}
	return v, nil
}

func asEmail(raw any) (string, *issue) {
	s, is := asString(raw)
	if is != nil {
		return "", is
	}
	norm, err := NormalizeEmail(s)
	if err != nil {
		reason := err.(*EmailError).Reason
		return "", &issue{
			typ: "value_error", msg: err.Error(), input: raw,
			ctx: map[string]any{"reason": reason},
		}
	}
	return norm, nil
}

func (f field) asBoundedInt(raw any) (int, *issue) {
	n, is := asInt(raw)
	if is != nil {
		return 0, is
	}
	if b := f.bounds; b != nil {
		if n.Cmp(big.NewInt(b.le)) > 0 {
			return 0, &issue{typ: "less_than_equal", input: raw,
				msg: fmt.Sprintf("Input should be less than or equal to %d", b.le),
				ctx: map[string]any{"le": b.le}}
		}
		if n.Cmp(big.NewInt(b.ge)) < 0 {
			return 0, &issue{typ: "greater_than_equal", input: raw,
				msg: fmt.Sprintf("Input should be greater than or equal to %d", b.ge),
				ctx: map[string]any{"ge": b.ge}}
		}
	}
	if !n.IsInt64() {
		// Python ints are unbounded; ours are not.
		return 0, newIssue("int_parsing_size", msgIntParsingSize, raw)
	}
	return int(n.Int64()), nil
}

// assign stores a converted value (or a default, or nil for null).
func (f field) assign(v any) {
	switch d := f.dst.(type) {
	case *string:
		*d, _ = v.(string)
	case **string:
		if s, ok := v.(string); ok {
			*d = &s
		} else {
			*d = nil
		}
	case *int:
		*d, _ = v.(int)
	case **int:
		if n, ok := v.(int); ok {
			*d = &n
		} else {
			*d = nil
		}
	case *float64:
		*d, _ = v.(float64)
	case *bool:
		*d, _ = v.(bool)
	case *[]string:
		*d, _ = v.([]string)
	default:
		panic(fmt.Sprintf("webhook: field %s has unsupported destination %T", f.name, f.dst))
	}
}
