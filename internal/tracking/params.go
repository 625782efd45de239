package tracking

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"perfect/internal/engine"
)

// params reads a run's stored parameters, decoded with json.Number.
type params map[string]any

func readParams(raw json.RawMessage) (params, error) {
	p, err := engine.DecodeParams(raw)
	if err != nil {
		return params{}, fmt.Errorf("decode run params: %w", err)
	}
	return p, nil
}

// has reports whether key holds a value other than null.
func (p params) has(key string) bool {
	v, ok := p[key]
	return ok && v != nil
}

// text returns a string value trimmed, a number in decimal, or "".
func (p params) text(key string) string {
	switch v := p[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}

// number returns a numeric value (a number or a numeric string), or 0.
func (p params) number(key string) float64 {
	var f float64
	var err error
	switch v := p[key].(type) {
	case json.Number:
		f, err = v.Float64()
	case float64:
		f = v
	case int:
		f = float64(v)
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// integer returns number rounded to the nearest whole number.
func (p params) integer(key string) int {
	return int(math.Round(p.number(key)))
}

// list returns the non-empty strings of a list value.
func (p params) list(key string) []string {
	var out []string
	switch v := p[key].(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	case []string:
		for _, s := range v {
			if strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}
