package webhook

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		want   string
		reason string // wanted refusal reason
	}{
		{name: "plain", in: "jane@example.com", want: "jane@example.com"},
		{name: "example.com accepted", in: "e2e@e2e-test.example.com", want: "e2e@e2e-test.example.com"},
		{name: "trimmed", in: "  jane@example.com\t\n", want: "jane@example.com"},
		{name: "domain lower-cased, local kept", in: "Jane.Doe@EXAMPLE.Com", want: "Jane.Doe@example.com"},
		{name: "display name", in: "Jane Doe <Jane@Example.com>", want: "Jane@example.com"},
		{name: "quoted display name", in: `"Doe, Jane" <jane@example.com>`, want: "jane@example.com"},
		{name: "bare angle brackets", in: "<jane@example.com>", want: "jane@example.com"},
		{name: "role mailbox lower-cased", in: "INFO@Example.com", want: "info@example.com"},
		{name: "postmaster lower-cased", in: "PostMaster@example.com", want: "postmaster@example.com"},
		{name: "non-role kept", in: "Infos@example.com", want: "Infos@example.com"},
		{name: "plus and symbols", in: "a+b!#$%&'*/=?^_`{|}~-@example.com", want: "a+b!#$%&'*/=?^_`{|}~-@example.com"},
		{name: "unicode local NFC", in: "jose\u0301@example.com", want: "jos\u00e9@example.com"},
		{name: "unicode domain", in: "j@M\u00fcnchen.DE", want: "j@m\u00fcnchen.de"},
		{name: "punycode domain decoded", in: "j@xn--mnchen-3ya.de", want: "j@m\u00fcnchen.de"},
		{name: "64 char local", in: strings.Repeat("a", 64) + "@example.com", want: strings.Repeat("a", 64) + "@example.com"},

		{name: "no at-sign", in: "not-an-email", reason: "An email address must have an @-sign."},
		{name: "empty", in: "", reason: "An email address must have an @-sign."},
		{name: "nothing before", in: "@example.com", reason: "There must be something before the @-sign."},
		{name: "nothing after", in: "jane@", reason: "There must be something after the @-sign."},
		{name: "two at-signs", in: "a@b@example.com",
			reason: "The part after the @-sign contains invalid characters: '@'."},
		{name: "space in local", in: "jane doe@example.com",
			reason: "The email address contains invalid characters before the @-sign: SPACE."},
		{name: "leading dot", in: ".jane@example.com", reason: "An email address cannot start with a period."},
		{name: "trailing dot", in: "jane.@example.com",
			reason: "An email address cannot have a period immediately before the @-sign."},
		{name: "double dot", in: "ja..ne@example.com", reason: "An email address cannot have two periods in a row."},
		{name: "no period in domain", in: "jane@localhost.", reason: "An email address cannot end with a period."},
		{name: "dotless domain", in: "jane@example", reason: "The part after the @-sign is not valid. It should have a period."},
		{name: "numeric tld", in: "jane@example.123",
			reason: "The part after the @-sign is not valid. It is not within a valid top-level domain."},
		{name: "hyphen start", in: "jane@-example.com",
			reason: "An email address cannot have a hyphen immediately after the @-sign."},
		{name: "period hyphen", in: "jane@example-.com",
			reason: "An email address cannot have a period and a hyphen next to each other."},
		{name: "underscore domain", in: "jane@exa_mple.com",
			reason: "The part after the @-sign contains invalid characters: '_'."},
		{name: "reserved ldh", in: "jane@ab--cd.com",
			reason: "An email address cannot have two letters followed by two dashes immediately after the @-sign or after a period, except Punycode."},
		{name: ".test", in: "jane@shop.test",
			reason: "The part after the @-sign is a special-use or reserved name that cannot be used with email."},
		{name: ".local", in: "jane@printer.local",
			reason: "The part after the @-sign is a special-use or reserved name that cannot be used with email."},
		{name: ".localhost", in: "jane@my.localhost",
			reason: "The part after the @-sign is a special-use or reserved name that cannot be used with email."},
		{name: ".invalid", in: "jane@x.invalid",
			reason: "The part after the @-sign is a special-use or reserved name that cannot be used with email."},
		{name: ".onion", in: "jane@abc.onion",
			reason: "The part after the @-sign is a special-use or reserved name that cannot be used with email."},
		{name: "65 char local", in: strings.Repeat("a", 65) + "@example.com",
			reason: "The email address is too long before the @-sign (1 character too many)."},
		{name: "long address", in: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 62) + "." +
			strings.Repeat("c", 62) + "." + strings.Repeat("d", 62) + ".com",
			reason: "The email address is too long (3 characters too many)."},
		{name: "long label", in: "a@" + strings.Repeat("b", 64) + ".com",
			reason: "After the @-sign, periods cannot be separated by so many characters (1 character too many)."},
		{name: "quoted local", in: `"jane doe"@example.com`,
			reason: "Quoting the part before the @-sign is not allowed here."},
		{name: "ip literal", in: "jane@[127.0.0.1]",
			reason: "A bracketed IP address after the @-sign is not allowed here."},
		{name: "unclosed display name", in: "Jane <jane@example.com",
			reason: "An open angle bracket at the start of the email address has to be followed by a close angle bracket at the end."},
		{name: "display name with period", in: "Jane. <jane@example.com>",
			reason: "The display name contains invalid characters when not quoted: '.'."},
		{name: "control character", in: "ja\u0007ne@example.com",
			reason: "The email address contains invalid characters before the @-sign: U+0007."},
		{name: "zero width space", in: "ja\u200bne@example.com",
			reason: "The email address contains unsafe characters: ZERO WIDTH SPACE."},
		{name: "too long input", in: strings.Repeat("a", 2049),
			reason: "Length must not exceed 2048 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tt.in)
			if tt.reason != "" {
				var ee *EmailError
				if !errors.As(err, &ee) {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want refusal %q", tt.in, got, err, tt.reason)
				}
				if ee.Reason != tt.reason {
					t.Fatalf("reason = %q, want %q", ee.Reason, tt.reason)
				}
				if !strings.HasPrefix(err.Error(), "value is not a valid email address: ") {
					t.Fatalf("Error() = %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeEmail(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	a, _ := NormalizeEmail("Jane.Doe@Example.com")
	b, _ := NormalizeEmail(" jane.doe@EXAMPLE.COM ")
	if a == b {
		t.Fatalf("normalized forms should keep the local part's case: %q %q", a, b)
	}
	if Key(a) != Key(b) || Key(a) != "jane.doe@example.com" {
		t.Fatalf("Key(%q)=%q Key(%q)=%q", a, Key(a), b, Key(b))
	}
}

func TestDecode_EmailError(t *testing.T) {
	t.Parallel()
	_, err := DecodeNoShow([]byte(`{"email":"a@b.local","first_name":"A","business_name":"B",` +
		`"calendly_event_uri":"u","scheduled_time":"s"}`))
	const reason = "The part after the @-sign is a special-use or reserved name that cannot be used with email."
	want := `{"detail":[{"type":"value_error","loc":["body","email"],"msg":"value is not a valid email address: ` +
		reason + `","input":"a@b.local","ctx":{"reason":"` + reason + `"}}]}`
	if got := marshalErrOrNil(t, err); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}
