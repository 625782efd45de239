package webhook

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The legacy server parsed bodies with Python's json module before pydantic
// saw them, so this file reads JSON the same way: the same accepted syntax
// (NaN and Infinity included), the same error messages and character
// positions for json_invalid, int and float kept apart, object keys in order.

// maxDepth stands in for Python's recursion limit; deeper bodies made the
// legacy server answer 400.
const maxDepth = 900

// maxIntDigits is Python's limit on converting a decimal string to an int.
const maxIntDigits = 4300

// number is a JSON number as Python would have read it.
type number struct {
	lit     string // the literal, or NaN / Infinity / -Infinity
	isFloat bool
}

// float returns the number as Python's float() would.
func (n number) float() float64 {
	switch n.lit {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(n.lit, 64)
	if err != nil {
		// Only range errors remain; ParseFloat returns ±Inf or 0 then.
		return f
	}
	return f
}

// bigInt returns the value of an integer literal.
func (n number) bigInt() *big.Int {
	v, _ := new(big.Int).SetString(n.lit, 10)
	return v
}

// MarshalJSON writes the number as Python's json.dumps would: ints in full,
// floats in repr form (2.0, 1e+16). Non-finite floats, which strict JSON
// cannot carry, become null.
func (n number) MarshalJSON() ([]byte, error) {
	if !n.isFloat {
		return []byte(n.bigInt().String()), nil
	}
	f := n.float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(pyFloatRepr(f)), nil
}

// pyFloatRepr formats f like Python's repr(float).
func pyFloatRepr(f float64) string {
	sci := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.2345e+06
	mant, expStr, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expStr)
	neg := strings.HasPrefix(mant, "-")
	digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
	sign := ""
	if neg {
		sign = "-"
	}
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return sign + m + "e" + es + pad2(exp)
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	intLen := exp + 1
	if len(digits) <= intLen {
		return sign + digits + strings.Repeat("0", intLen-len(digits)) + ".0"
	}
	return sign + digits[:intLen] + "." + digits[intLen:]
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// object is a JSON object with its keys in first-seen order; a repeated key
// keeps its first position and its last value, as a Python dict does.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// MarshalJSON writes the object with its keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshalNoEscape(k)
		if err != nil {
			return nil, err
		}
		vb, err := marshalNoEscape(o.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// syntaxError is Python's JSONDecodeError: a message and a character index.
type syntaxError struct {
	msg string
	pos int // byte offset; converted to characters when reported
}

// fatalError is a body the legacy server could not decode at all (it
// answered 400, not 422).
type fatalError struct{}

type parser struct {
	s     []byte
	depth int
}

// parseJSON reads a request body. It returns the value, or a
// *ValidationError (json_invalid) or *BadRequest.
func parseJSON(body []byte) (any, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) || (len(body) >= 2 && (body[0] == 0 || body[1] == 0)) {
		// Python decoded UTF-16/32 bodies too; those are not supported here.
		return nil, errBodyParse()
	}
	p := &parser{s: body}
	v, err := p.document()
	switch e := err.(type) {
	case nil:
		return v, nil
	case *syntaxError:
		pos := utf8.RuneCount(body[:min(e.pos, len(body))])
		return nil, &ValidationError{Detail: []FieldError{{
			Type: "json_invalid", Loc: bodyLoc(pos), Msg: msgJSONInvalid,
			Input: map[string]any{}, Ctx: map[string]any{"error": e.msg},
		}}}
	default:
		return nil, errBodyParse()
	}
}

func (e *syntaxError) Error() string { return e.msg }
func (e *fatalError) Error() string  { return "unparseable body" }

func (p *parser) document() (any, error) {
	i := p.ws(0)
	v, end, err := p.value(i)
	if err != nil {
		return nil, err
	}
	end = p.ws(end)
	if end != len(p.s) {
		return nil, &syntaxError{"Extra data", end}
	}
	return v, nil
}

func (p *parser) ws(i int) int {
	for i < len(p.s) {
		switch p.s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (p *parser) hasAt(i int, lit string) bool {
	return i+len(lit) <= len(p.s) && string(p.s[i:i+len(lit)]) == lit
}

// value reads one JSON value at i and returns it with the index after it.
func (p *parser) value(i int) (any, int, error) {
	if i >= len(p.s) {
		return nil, 0, &syntaxError{"Expecting value", i}
	}
	switch c := p.s[i]; {
	case c == '"':
		return p.str(i + 1)
	case c == '{':
		return p.nested(i, p.object)
	case c == '[':
		return p.nested(i, p.array)
	case c == 'n' && p.hasAt(i, "null"):
		return nil, i + 4, nil
	case c == 't' && p.hasAt(i, "true"):
		return true, i + 4, nil
	case c == 'f' && p.hasAt(i, "false"):
		return false, i + 5, nil
	case c == 'N' && p.hasAt(i, "NaN"):
		return number{lit: "NaN", isFloat: true}, i + 3, nil
	case c == 'I' && p.hasAt(i, "Infinity"):
		return number{lit: "Infinity", isFloat: true}, i + 8, nil
	case c == '-' && p.hasAt(i, "-Infinity"):
		return number{lit: "-Infinity", isFloat: true}, i + 9, nil
	}
	return p.number(i)
}

func (p *parser) nested(i int, f func(int) (any, int, error)) (any, int, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, 0, &fatalError{}
	}
	return f(i + 1)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number(start int) (any, int, error) {
	s, i := p.s, start
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	case i < len(s) && s[i] == '0':
		i++
	default:
		return nil, 0, &syntaxError{"Expecting value", start}
	}
	isFloat := false
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		isFloat = true
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		k := j
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k > j {
			isFloat, i = true, k
		}
	}
	lit := string(s[start:i])
	if !isFloat && len(strings.TrimPrefix(lit, "-")) > maxIntDigits {
		return nil, 0, &fatalError{}
	}
	return number{lit: lit, isFloat: isFloat}, i, nil
}

// str reads a string whose opening quote is at i-1.
func (p *parser) str(i int) (any, int, error) {
	begin := i - 1
	var b strings.Builder
	for {
		if i >= len(p.s) {
			return nil, 0, &syntaxError{"Unterminated string starting at", begin}
		}
		c := p.s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c < 0x20:
			return nil, 0, &syntaxError{"Invalid control character at", i}
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(p.s) {
			return nil, 0, &syntaxError{"Unterminated string starting at", begin}
		}
		next, err := p.escape(i, &b)
		if err != nil {
			return nil, 0, err
		}
		i = next
	}
}

var simpleEscapes = map[byte]byte{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// escape decodes the escape whose backslash is at i and returns the index
// after it.
func (p *parser) escape(i int, b *strings.Builder) (int, error) {
	c := p.s[i+1]
	if c != 'u' {
		r, ok := simpleEscapes[c]
		if !ok {
			return 0, &syntaxError{"Invalid \\escape", i}
		}
		b.WriteByte(r)
		return i + 2, nil
	}
	r, ok := p.hex4(i + 2)
	if !ok {
		return 0, &syntaxError{"Invalid \\uXXXX escape", i}
	}
	next := i + 6
	if utf16.IsSurrogate(r) && r < 0xdc00 && p.hasAt(next, "\\u") {
		r2, ok := p.hex4(next + 2)
		if !ok {
			return 0, &syntaxError{"Invalid \\uXXXX escape", next}
		}
		if r2 >= 0xdc00 && r2 <= 0xdfff {
			b.WriteRune(utf16.DecodeRune(r, r2))
			return next + 6, nil
		}
	}
	// A lone surrogate cannot live in a Go string; Python kept it.
	b.WriteRune(r)
	return next, nil
}

// hex4 reads four hex digits at i. Python also required one more character
// after them (the string cannot end there).
func (p *parser) hex4(i int) (rune, bool) {
	if i+4 >= len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.s[i:i+4]), 16, 32)
	if err != nil || strings.ContainsAny(string(p.s[i:i+4]), "+-") {
		return 0, false
	}
	return rune(v), true
}

func (p *parser) object(i int) (any, int, error) {
	o := newObject()
	i = p.ws(i)
	if i < len(p.s) && p.s[i] == '}' {
		return o, i + 1, nil
	}
	for {
		if i >= len(p.s) || p.s[i] != '"' {
			return nil, 0, &syntaxError{"Expecting property name enclosed in double quotes", i}
		}
		k, next, err := p.str(i + 1)
		if err != nil {
			return nil, 0, err
		}
		i = p.ws(next)
		if i >= len(p.s) || p.s[i] != ':' {
			return nil, 0, &syntaxError{"Expecting ':' delimiter", i}
		}
		v, next, err := p.value(p.ws(i + 1))
		if err != nil {
			return nil, 0, err
		}
		o.set(k.(string), v)
		i = p.ws(next)
		if i < len(p.s) && p.s[i] == '}' {
			return o, i + 1, nil
		}
		if i >= len(p.s) || p.s[i] != ',' {
			return nil, 0, &syntaxError{"Expecting ',' delimiter", i}
		}
		i = p.ws(i + 1)
	}
}

func (p *parser) array(i int) (any, int, error) {
	list := []any{}
	i = p.ws(i)
	if i < len(p.s) && p.s[i] == ']' {
		return list, i + 1, nil
	}
	for {
		v, next, err := p.value(i)
		if err != nil {
			return nil, 0, err
		}
		list = append(list, v)
		i = p.ws(next)
		if i < len(p.s) && p.s[i] == ']' {
			return list, i + 1, nil
		}
		if i >= len(p.s) || p.s[i] != ',' {
			return nil, 0, &syntaxError{"Expecting ',' delimiter", i}
		}
		i = p.ws(i + 1)
	}
}

// parseBodyObject reads a body that must be a JSON object, answering like
// FastAPI for an empty body, null, or any other JSON value.
func parseBodyObject(body []byte) (*object, error) {
	if len(body) == 0 {
		return nil, &ValidationError{Detail: []FieldError{missingAt(bodyLoc(), nil)}}
	}
	v, err := parseJSON(body)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case *object:
		return t, nil
	case nil:
		return nil, &ValidationError{Detail: []FieldError{missingAt(bodyLoc(), nil)}}
	default:
		return nil, &ValidationError{Detail: []FieldError{{
			Type: "model_attributes_type", Loc: bodyLoc(), Msg: msgModelAttributes, Input: v,
		}}}
	}
}
