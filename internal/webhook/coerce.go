package webhook

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The functions here are pydantic v2's lax-mode conversions of a value that
// Python's json module produced. Each returns the converted value or the
// issue pydantic would have reported.

func asString(v any) (string, *issue) {
	s, ok := v.(string)
	if !ok {
		return "", newIssue("string_type", msgStringType, v)
	}
	return s, nil
}

// asInt converts to an integer. Values outside int64 are still returned
// (as *big.Int) so that bounds report like pydantic; the caller refuses them
// where no bound applies.
func asInt(v any) (*big.Int, *issue) {
	switch t := v.(type) {
	case bool:
		if t {
			return big.NewInt(1), nil
		}
		return big.NewInt(0), nil
	case number:
		if !t.isFloat {
			return t.bigInt(), nil
		}
		return floatAsInt(t.float(), v)
	case string:
		return strAsInt(t, v)
	}
	return nil, newIssue("int_type", msgIntType, v)
}

func floatAsInt(f float64, input any) (*big.Int, *issue) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, newIssue("finite_number", msgFiniteNumber, input)
	case f != math.Trunc(f):
		return nil, newIssue("int_from_float", msgIntFromFloat, input)
	case f <= math.MinInt64 || f >= math.MaxInt64:
		return nil, newIssue("int_parsing_size", msgIntParsingSize, input)
	}
	return big.NewInt(int64(f)), nil
}

var jsonInt = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// strAsInt follows pydantic-core: a plain JSON integer first, then a cleaned
// form (surrounding whitespace, a leading +, leading zeros, a .0 fraction,
// single underscores between digits).
func strAsInt(s string, input any) (*big.Int, *issue) {
	if len(s) > maxIntDigits {
		return nil, newIssue("int_parsing_size", msgIntParsingSize, input)
	}
	if jsonInt.MatchString(s) {
		n, _ := new(big.Int).SetString(s, 10)
		return n, nil
	}
	if cleaned, ok := cleanIntString(s); ok && jsonInt.MatchString(cleaned) {
		n, _ := new(big.Int).SetString(cleaned, 10)
		return n, nil
	}
	return nil, newIssue("int_parsing", msgIntParsing, input)
}

func cleanIntString(s string) (string, bool) {
	before := len(s)
	s = strings.TrimFunc(s, unicode.IsSpace)
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		if strings.HasPrefix(rest, "-") {
			return "", false
		}
		s = rest
	}
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return "", false
		}
		neg, s = true, rest
	}
	s, ok := stripLeadingZeros(s)
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac := s[i+1:]
		if frac != "" && strings.Trim(frac, "0") == "" {
			s = s[:i]
		}
	}
	sign := ""
	if neg {
		sign = "-"
	}
	if stripped, ok := stripUnderscores(s); ok {
		return sign + stripped, true
	}
	if len(s) == before {
		return "", false
	}
	return sign + s, true
}

// stripLeadingZeros keeps one zero for "000" and for "00.0".
func stripLeadingZeros(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if c := s[0]; c != '0' {
		if (c >= '1' && c <= '9') || c == '-' {
			return s, true
		}
		return "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '0' || c == '_':
		case (c >= '1' && c <= '9') || c == '-':
			return s[i:], true
		case c == '.':
			return s[i-1:], true
		default:
			return "", false
		}
	}
	return s[len(s)-1:], true
}

func stripUnderscores(s string) (string, bool) {
	if !strings.Contains(s, "_") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") ||
		strings.Contains(s, "__") {
		return "", false
	}
	return strings.ReplaceAll(s, "_", ""), true
}

// asFloat converts to a float. pydantic also accepted NaN and infinities;
// they are refused here (finite_number) because nothing downstream can
// store or send them.
func asFloat(v any) (float64, *issue) {
	var f float64
	switch t := v.(type) {
	case bool:
		if t {
			f = 1
		}
	case number:
		f = t.float()
	case string:
		parsed, ok := strAsFloat(t)
		if !ok {
			return 0, newIssue("float_parsing", msgFloatParsing, v)
		}
		f = parsed
	default:
		return 0, newIssue("float_type", msgFloatType, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, newIssue("finite_number", msgFiniteNumber, v)
	}
	return f, nil
}

// rustFloat is the syntax Rust's f64 parser accepts, which pydantic-core
// uses for strings.
var rustFloat = regexp.MustCompile(
	`^[+-]?(?:(?i:inf|infinity|nan)|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$`)

func strAsFloat(s string) (float64, bool) {
	try := func(x string) (float64, bool) {
		if !rustFloat.MatchString(x) {
			return 0, false
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil && !isRangeErr(err) {
			return 0, false
		}
		return f, true
	}
	if f, ok := try(strings.TrimFunc(s, unicode.IsSpace)); ok {
		return f, true
	}
	if stripped, ok := stripUnderscores(s); ok {
		return try(stripped)
	}
	return 0, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func asBool(v any) (bool, *issue) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		return strAsBool(t, v)
	case number:
		return numberAsBool(t, v)
	}
	return false, newIssue("bool_type", msgBoolType, v)
}

func strAsBool(s string, input any) (bool, *issue) {
	if s == "0" {
		return false, nil
	}
	if s == "1" {
		return true, nil
	}
	switch asciiLower(s) {
	case "f", "n", "no", "off", "false":
		return false, nil
	case "t", "y", "on", "yes", "true":
		return true, nil
	}
	return false, newIssue("bool_parsing", msgBoolParsing, input)
}

// asciiLower lower-cases ASCII letters only, as Rust's eq_ignore_ascii_case.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func numberAsBool(n number, input any) (bool, *issue) {
	var i *big.Int
	if n.isFloat {
		var is *issue
		if i, is = floatAsInt(n.float(), input); is != nil {
			return false, newIssue("bool_type", msgBoolType, input)
		}
	} else {
		i = n.bigInt()
	}
	switch {
	case i.Sign() == 0:
		return false, nil
	case i.IsInt64() && i.Int64() == 1:
		return true, nil
	}
	return false, newIssue("bool_parsing", msgBoolParsing, input)
}

// asStringList converts to a list of strings, reporting every bad item.
func asStringList(v any) ([]string, []*issue) {
	list, ok := v.([]any)
	if !ok {
		return nil, []*issue{newIssue("list_type", msgListType, v)}
	}
	out := make([]string, 0, len(list))
	var issues []*issue
	for i, item := range list {
		s, is := asString(item)
		if is != nil {
			is.sub = []any{i}
			issues = append(issues, is)
			continue
		}
		out = append(out, s)
	}
	return out, issues
}
