package webhook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// marshalErr returns the JSON body a handler would send for err.
func marshalErr(tb testing.TB, err error) string {
	tb.Helper()
	b, mErr := json.Marshal(err)
	if mErr != nil {
		tb.Fatalf("marshal %v: %v", err, mErr)
	}
	return string(b)
}

const christmasBase = `"email":"a@example.com","first_name":"Ann","assessment_score":50`

func TestDecodeChristmasSignup_Coercions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string // appended to christmasBase
		want  int    // red_systems when valid
		err   string // wanted JSON detail entry when invalid
	}{
		{name: "int", extra: `"red_systems":2`, want: 2},
		{name: "integral float", extra: `"red_systems":2.0`, want: 2},
		{name: "exponent float", extra: `"red_systems":2e0`, want: 2},
		{name: "numeric string", extra: `"red_systems":"2"`, want: 2},
		{name: "padded string", extra: `"red_systems":" 2 "`, want: 2},
		{name: "plus sign string", extra: `"red_systems":"+2"`, want: 2},
		{name: "leading zeros string", extra: `"red_systems":"002"`, want: 2},
		{name: "decimal zeros string", extra: `"red_systems":"2.00"`, want: 2},
		{name: "true", extra: `"red_systems":true`, want: 1},
		{name: "false", extra: `"red_systems":false`, want: 0},
		{name: "null gives default? no: int_type", extra: `"red_systems":null`,
			err: `{"type":"int_type","loc":["body","red_systems"],"msg":"Input should be a valid integer","input":null}`},
		{name: "fraction", extra: `"red_systems":2.5`,
			err: `{"type":"int_from_float","loc":["body","red_systems"],"msg":"Input should be a valid integer, got a number with a fractional part","input":2.5}`},
		{name: "fraction string", extra: `"red_systems":"2.5"`,
			err: `{"type":"int_parsing","loc":["body","red_systems"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"2.5"}`},
		{name: "word", extra: `"red_systems":"abc"`,
			err: `{"type":"int_parsing","loc":["body","red_systems"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}`},
		{name: "empty string", extra: `"red_systems":""`,
			err: `{"type":"int_parsing","loc":["body","red_systems"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":""}`},
		{name: "list", extra: `"red_systems":[1]`,
			err: `{"type":"int_type","loc":["body","red_systems"],"msg":"Input should be a valid integer","input":[1]}`},
		{name: "NaN", extra: `"red_systems":NaN`,
			err: `{"type":"finite_number","loc":["body","red_systems"],"msg":"Input should be a finite number","input":null}`},
		{name: "string bound keeps raw input", extra: `"red_systems":"9"`,
			err: `{"type":"less_than_equal","loc":["body","red_systems"],"msg":"Input should be less than or equal to 8","input":"9","ctx":{"le":8}}`},
		{name: "huge int still reports bound", extra: `"red_systems":123456789012345678901234567890`,
			err: `{"type":"less_than_equal","loc":["body","red_systems"],"msg":"Input should be less than or equal to 8","input":123456789012345678901234567890,"ctx":{"le":8}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeChristmasSignup([]byte("{" + christmasBase + "," + tt.extra + "}"))
			if tt.err != "" {
				if want := `{"detail":[` + tt.err + `]}`; err == nil || marshalErr(t, err) != want {
					t.Fatalf("error = %v\n got %s\nwant %s", err, marshalErrOrNil(t, err), want)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeChristmasSignup: %s", marshalErr(t, err))
			}
			if got.RedSystems != tt.want {
				t.Fatalf("RedSystems = %d, want %d", got.RedSystems, tt.want)
			}
		})
	}
}

func marshalErrOrNil(tb testing.TB, err error) string {
	if err == nil {
		return "<nil>"
	}
	return marshalErr(tb, err)
}

func TestDecodeOnboarding_BoolAndFloatCoercions(t *testing.T) {
	t.Parallel()
	const base = `"email":"a@example.com","first_name":"A","business_name":"B","payment_date":"d"`
	tests := []struct {
		name    string
		confirm string
		amount  string
		wantOK  bool
		want    bool
		wantAmt float64
		errType string
		errLoc  string
	}{
		{name: "true/int", confirm: `true`, amount: `2997`, wantOK: true, want: true, wantAmt: 2997},
		{name: "false/float", confirm: `false`, amount: `2997.5`, wantOK: true, want: false, wantAmt: 2997.5},
		{name: "1/string amount", confirm: `1`, amount: `"2997.00"`, wantOK: true, want: true, wantAmt: 2997},
		{name: "0", confirm: `0`, amount: `0`, wantOK: true, want: false},
		{name: "1.0", confirm: `1.0`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "yes", confirm: `"yes"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "YES", confirm: `"YES"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "no", confirm: `"no"`, amount: `1`, wantOK: true, want: false, wantAmt: 1},
		{name: "on", confirm: `"on"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "off", confirm: `"off"`, amount: `1`, wantOK: true, want: false, wantAmt: 1},
		{name: "t", confirm: `"t"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "F", confirm: `"F"`, amount: `1`, wantOK: true, want: false, wantAmt: 1},
		{name: "y", confirm: `"y"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "n", confirm: `"n"`, amount: `1`, wantOK: true, want: false, wantAmt: 1},
		{name: "string 1", confirm: `"1"`, amount: `1`, wantOK: true, want: true, wantAmt: 1},
		{name: "string 0", confirm: `"0"`, amount: `1`, wantOK: true, want: false, wantAmt: 1},
		{name: "amount true", confirm: `true`, amount: `true`, wantOK: true, want: true, wantAmt: 1},
		{name: "amount padded", confirm: `true`, amount: `" 12.5 "`, wantOK: true, want: true, wantAmt: 12.5},
		{name: "maybe", confirm: `"maybe"`, amount: `1`, errType: "bool_parsing", errLoc: "body.payment_confirmed"},
		{name: "padded true", confirm: `" true"`, amount: `1`, errType: "bool_parsing", errLoc: "body.payment_confirmed"},
		{name: "2", confirm: `2`, amount: `1`, errType: "bool_parsing", errLoc: "body.payment_confirmed"},
		{name: "0.5", confirm: `0.5`, amount: `1`, errType: "bool_type", errLoc: "body.payment_confirmed"},
		{name: "null", confirm: `null`, amount: `1`, errType: "bool_type", errLoc: "body.payment_confirmed"},
		{name: "amount word", confirm: `true`, amount: `"lots"`, errType: "float_parsing", errLoc: "body.payment_amount"},
		{name: "amount list", confirm: `true`, amount: `[]`, errType: "float_type", errLoc: "body.payment_amount"},
		{name: "amount infinity", confirm: `true`, amount: `Infinity`, errType: "finite_number", errLoc: "body.payment_amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{` + base + `,"payment_confirmed":` + tt.confirm + `,"payment_amount":` + tt.amount + `}`
			got, err := DecodeOnboarding([]byte(body))
			if !tt.wantOK {
				want := []string{tt.errType + "@" + tt.errLoc}
				if l := locsOf(t, err); !reflect.DeepEqual(l, want) {
					t.Fatalf("locs = %v, want %v", l, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeOnboarding: %s", marshalErr(t, err))
			}
			if got.PaymentConfirmed != tt.want || got.PaymentAmount != tt.wantAmt {
				t.Fatalf("got confirmed=%v amount=%v, want %v %v", got.PaymentConfirmed, got.PaymentAmount, tt.want, tt.wantAmt)
			}
		})
	}
}

func TestDecode_StringRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		locs []string
	}{
		{name: "number for string", body: `{"email":"a@example.com","name":5,"first_name":"x"}`,
			locs: []string{"string_type@body.name"}},
		{name: "bool for string", body: `{"email":"a@example.com","name":true,"first_name":"x"}`,
			locs: []string{"string_type@body.name"}},
		{name: "null for required string", body: `{"email":"a@example.com","name":null,"first_name":"x"}`,
			locs: []string{"string_type@body.name"}},
		{name: "null for defaulted string", body: `{"email":"a@example.com","name":"n","first_name":"x","signup_source":null}`,
			locs: []string{"string_type@body.signup_source"}},
		{name: "number for email", body: `{"email":5,"name":"n","first_name":"x"}`,
			locs: []string{"string_type@body.email"}},
		{name: "every field reported", body: `{"name":1}`,
			locs: []string{"missing@body.email", "string_type@body.name", "missing@body.first_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeSignup([]byte(tt.body))
			if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
				t.Fatalf("locs = %v, want %v", l, tt.locs)
			}
		})
	}
}

func TestDecodeSignup_DefaultsAndEmptyStrings(t *testing.T) {
	t.Parallel()
	got, err := DecodeSignup([]byte(`{"email":" Bob@EXAMPLE.com ","name":"","first_name":"","unknown":[1,2]}`))
	if err != nil {
		t.Fatalf("DecodeSignup: %v", err)
	}
	want := Signup{Email: "Bob@example.com", BusinessName: "your business", SignupSource: "web_form"}
	if *got != want {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
	p := got.Params()
	if p["business_name"] != "your business" || p["signup_source"] != "web_form" || p["email"] != "Bob@example.com" {
		t.Fatalf("Params() = %v", p)
	}
}

func TestDecodePostCall_ListErrors(t *testing.T) {
	t.Parallel()
	const base = `"email":"a@example.com","first_name":"A","business_name":"B","call_date":"d"`
	tests := []struct {
		name       string
		objections string
		want       []string
		locs       []string
	}{
		{name: "null", objections: `null`, want: nil},
		{name: "empty", objections: `[]`, want: []string{}},
		{name: "strings", objections: `["a","b"]`, want: []string{"a", "b"}},
		{name: "string not list", objections: `"Price"`, locs: []string{"list_type@body.objections"}},
		{name: "object not list", objections: `{"a":1}`, locs: []string{"list_type@body.objections"}},
		{name: "bad items", objections: `["a",1,"c",null]`,
			locs: []string{"string_type@body.objections.1", "string_type@body.objections.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodePostCall([]byte(`{` + base + `,"objections":` + tt.objections + `}`))
			if tt.locs != nil {
				if l := locsOf(t, err); !reflect.DeepEqual(l, tt.locs) {
					t.Fatalf("locs = %v, want %v", l, tt.locs)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodePostCall: %v", err)
			}
			if !reflect.DeepEqual(got.Objections, tt.want) {
				t.Fatalf("Objections = %#v, want %#v", got.Objections, tt.want)
			}
			if p := got.Params()["objections"]; (tt.want == nil) != (p == nil) {
				t.Fatalf("Params()[objections] = %#v", p)
			}
		})
	}
}

func TestDecode_Bounds(t *testing.T) {
	t.Parallel()
	type decodeFn func([]byte) error
	christmas := func(b []byte) error { _, err := DecodeChristmasSignup(b); return err }
	assessment := func(b []byte) error { _, err := DecodeAssessment(b); return err }
	const cBase = `"email":"a@example.com","first_name":"A"`
	const aBase = `"email":"a@example.com"`
	tests := []struct {
		name   string
		decode decodeFn
		body   string
		field  string
		ge, le int
		// others are extra required fields set to a valid value.
		others string
	}{
		{"christmas assessment_score", christmas, cBase, "assessment_score", 0, 100, ""},
		{"christmas red", christmas, cBase, "red_systems", 0, 8, `,"assessment_score":1`},
		{"christmas orange", christmas, cBase, "orange_systems", 0, 8, `,"assessment_score":1`},
		{"christmas yellow", christmas, cBase, "yellow_systems", 0, 8, `,"assessment_score":1`},
		{"christmas green", christmas, cBase, "green_systems", 0, 8, `,"assessment_score":1`},
		{"christmas gps", christmas, cBase, "gps_score", 0, 100, `,"assessment_score":1`},
		{"christmas money", christmas, cBase, "money_score", 0, 100, `,"assessment_score":1`},
		{"assessment red", assessment, aBase, "red_systems", 0, 8, `,"orange_systems":0`},
		{"assessment orange", assessment, aBase, "orange_systems", 0, 8, `,"red_systems":0`},
		{"assessment yellow", assessment, aBase, "yellow_systems", 0, 8, `,"red_systems":0,"orange_systems":0`},
		{"assessment green", assessment, aBase, "green_systems", 0, 8, `,"red_systems":0,"orange_systems":0`},
		{"assessment score", assessment, aBase, "assessment_score", 0, 100, `,"red_systems":0,"orange_systems":0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := func(v int) []byte {
				return []byte(`{` + tt.body + tt.others + `,"` + tt.field + `":` + itoa(v) + `}`)
			}
			for _, ok := range []int{tt.ge, tt.le} {
				if err := tt.decode(body(ok)); err != nil {
					t.Errorf("%s=%d: %v", tt.field, ok, err)
				}
			}
			low := `{"detail":[{"type":"greater_than_equal","loc":["body","` + tt.field +
				`"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}}]}`
			if got := marshalErrOrNil(t, tt.decode(body(tt.ge-1))); got != low {
				t.Errorf("below:\n got %s\nwant %s", got, low)
			}
			high := `{"detail":[{"type":"less_than_equal","loc":["body","` + tt.field +
				`"],"msg":"Input should be less than or equal to ` + itoa(tt.le) + `","input":` + itoa(tt.le+1) +
				`,"ctx":{"le":` + itoa(tt.le) + `}}]}`
			if got := marshalErrOrNil(t, tt.decode(body(tt.le+1))); got != high {
				t.Errorf("above:\n got %s\nwant %s", got, high)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestDecodeChristmasSignup_UnboundedAndNulls(t *testing.T) {
	t.Parallel()
	got, err := DecodeChristmasSignup([]byte(`{` + christmasBase +
		`,"revenue_leak_total":-5000,"business_name":"","gps_score":null,"weakest_system_1":null}`))
	if err != nil {
		t.Fatalf("DecodeChristmasSignup: %v", err)
	}
	if got.RevenueLeakTotal == nil || *got.RevenueLeakTotal != -5000 {
		t.Fatalf("RevenueLeakTotal = %v", got.RevenueLeakTotal)
	}
	p := got.Params()
	if p["business_name"] != "your business" || p["gps_score"] != nil || p["weakest_system_1"] != nil ||
		p["segment"] != "OPTIMIZE" || p["red_systems"] != 0 {
		t.Fatalf("Params() = %v", p)
	}

	_, err = DecodeChristmasSignup([]byte(`{` + christmasBase + `,"revenue_leak_total":99999999999999999999999}`))
	if l := locsOf(t, err); !reflect.DeepEqual(l, []string{"int_parsing_size@body.revenue_leak_total"}) {
		t.Fatalf("locs = %v", l)
	}
}

func TestDecodeAssessment_Params(t *testing.T) {
	t.Parallel()
	got, err := DecodeAssessment([]byte(`{"email":"a@example.com","red_systems":"2","orange_systems":0,"assessment_date":"2025-01-01"}`))
	if err != nil {
		t.Fatalf("DecodeAssessment: %v", err)
	}
	want := map[string]any{
		"email": "a@example.com", "red_systems": 2, "orange_systems": 0, "yellow_systems": 0,
		"green_systems": 0, "assessment_score": nil, "assessment_date": "2025-01-01", "segment": "CRITICAL",
	}
	if p := got.Params(); !reflect.DeepEqual(p, want) {
		t.Fatalf("Params() = %v, want %v", p, want)
	}
}

func TestDecodeNoShow_Params(t *testing.T) {
	t.Parallel()
	got, err := DecodeNoShow([]byte(`{"email":"a@example.com","first_name":"A","business_name":"B",
		"calendly_event_uri":"u","scheduled_time":"s","reschedule_url":"r"}`))
	if err != nil {
		t.Fatalf("DecodeNoShow: %v", err)
	}
	want := map[string]any{
		"email": "a@example.com", "first_name": "A", "business_name": "B", "calendly_event_uri": "u",
		"scheduled_time": "s", "event_type": DefaultEventType, "reschedule_url": "r",
	}
	if p := got.Params(); !reflect.DeepEqual(p, want) {
		t.Fatalf("Params() = %v, want %v", p, want)
	}
}

func TestDecode_BodyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "empty", body: ``,
			want: `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{name: "null", body: `null`,
			want: `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{name: "list", body: `[1, 2.0]`,
			want: `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[1,2.0]}]}`},
		{name: "string", body: `"x"`,
			want: `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"x"}]}`},
		{name: "whitespace", body: "  ",
			want: jsonInvalid(2, "Expecting value")},
		{name: "trailing comma", body: `{"a":1,}`,
			want: jsonInvalid(7, "Expecting property name enclosed in double quotes")},
		{name: "single quotes", body: `{'a':1}`,
			want: jsonInvalid(1, "Expecting property name enclosed in double quotes")},
		{name: "missing colon", body: `{"a" 1}`,
			want: jsonInvalid(5, "Expecting ':' delimiter")},
		{name: "missing comma", body: `{"a":1 "b":2}`,
			want: jsonInvalid(7, "Expecting ',' delimiter")},
		{name: "unterminated", body: `{"a":"xyz`,
			want: jsonInvalid(5, "Unterminated string starting at")},
		{name: "control char", body: "{\"a\":\"x\ny\"}",
			want: jsonInvalid(7, "Invalid control character at")},
		{name: "bad escape", body: `{"a":"\q"}`,
			want: jsonInvalid(6, `Invalid \\escape`)},
		{name: "bad unicode escape", body: `{"a":"\u12x4"}`,
			want: jsonInvalid(6, `Invalid \\uXXXX escape`)},
		{name: "extra data", body: `{} {}`,
			want: jsonInvalid(3, "Extra data")},
		{name: "truncated", body: `{"a":`,
			want: jsonInvalid(5, "Expecting value")},
		{name: "position counts characters", body: `{"é":"ü",]`,
			want: jsonInvalid(9, "Expecting property name enclosed in double quotes")},
		{name: "bare word", body: `{"a":nul}`,
			want: jsonInvalid(5, "Expecting value")},
		{name: "invalid utf-8", body: "{\"a\":\"\xff\"}",
			want: `{"detail":"There was an error parsing the body"}`},
		{name: "too deep", body: strings.Repeat("[", 2000),
			want: `{"detail":"There was an error parsing the body"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeSignup([]byte(tt.body))
			if got := marshalErrOrNil(t, err); got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func jsonInvalid(pos int, msg string) string {
	return `{"detail":[{"type":"json_invalid","loc":["body",` + itoa(pos) +
		`],"msg":"JSON decode error","input":{},"ctx":{"error":"` + msg + `"}}]}`
}

func TestDecode_MissingEchoesBodyInOrder(t *testing.T) {
	t.Parallel()
	_, err := DecodeSignup([]byte(`{"zeta":1.50,"email":"a@example.com","alpha":null,"zeta":1e20,"name":"<b>"}`))
	want := `{"detail":[{"type":"missing","loc":["body","first_name"],"msg":"Field required",` +
		`"input":{"zeta":1e+20,"email":"a@example.com","alpha":null,"name":"\u003cb\u003e"}}]}`
	if got := marshalErrOrNil(t, err); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Error(), "body.first_name: Field required") {
		t.Fatalf("Error() = %v", err)
	}
}

func TestPyFloatRepr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{2, "2.0"}, {2.5, "2.5"}, {-0.5, "-0.5"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
		{1e15, "1000000000000000.0"}, {0.0001, "0.0001"}, {0.00001, "1e-05"}, {123.456, "123.456"},
		{2997, "2997.0"}, {0, "0.0"}, {1.5e-300, "1.5e-300"}, {-1e22, "-1e+22"},
	}
	for _, tt := range tests {
		if got := pyFloatRepr(tt.in); got != tt.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
