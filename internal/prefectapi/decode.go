package prefectapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"perfect/internal/webhook"
)

// inputOf is the "input" of an error about a whole body: the decoded
// value when the body is JSON, else the text, so the answer always encodes.
func inputOf(body []byte) any {
	var v any
	if json.Unmarshal(body, &v) == nil {
		return v
	}
	return string(body)
}

// decodeStrict decodes a JSON object into v, refusing fields v does not
// declare, as Prefect's action models do. loc prefixes the location of
// every problem (after "body").
func decodeStrict(body []byte, v any, loc ...any) []webhook.FieldError {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return []webhook.FieldError{fieldError("model_attributes_type",
			"Input should be a valid dictionary or object to extract fields from", inputOf(body), loc...)}
	}
	known := jsonFields(v)
	var errs []webhook.FieldError
	for _, k := range sortedKeys(raw) {
		if !known[k] {
			errs = append(errs, fieldError("extra_forbidden", "Extra inputs are not permitted",
				raw[k], append(append([]any{}, loc...), k)...))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return []webhook.FieldError{fieldError(te.Type.Kind().String()+"_type",
				fmt.Sprintf("Input should be a valid %s", kindName(te.Type)), nil,
				append(append([]any{}, loc...), splitField(te.Field)...)...)}
		}
		return []webhook.FieldError{fieldError("value_error", err.Error(), nil, loc...)}
	}
	return nil
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func splitField(f string) []any {
	if f == "" {
		return nil
	}
	var out []any
	for p := range strings.SplitSeq(f, ".") {
		out = append(out, p)
	}
	return out
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "dictionary"
	case reflect.Slice:
		return "list"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	}
	return t.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
