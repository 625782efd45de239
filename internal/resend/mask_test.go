package resend

import "testing"

func TestMaskAddress(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "Plain", in: "jane@example.com", want: "j***@example.com"},
		{name: "Named", in: "Jane Doe <Jane@example.com>", want: "j***@example.com"},
		{name: "NotAnAddress", in: "nobody", want: "***"},
		{name: "Empty", in: "", want: "***"},
		{name: "NoLocalPart", in: "@example.com", want: "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskAddress(tt.in); got != tt.want {
				t.Errorf("maskAddress(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskAddresses(t *testing.T) {
	in := "You can only send testing emails to your own email address (owner@example.com)."
	want := "You can only send testing emails to your own email address (o***@example.com)."
	if got := maskAddresses(in); got != want {
		t.Errorf("maskAddresses = %q, want %q", got, want)
	}
}

func TestClient_TokenPerCall(t *testing.T) {
	c, err := New(Config{APIKey: "re_x", BaseURL: "http://127.0.0.1:1/", RatePerSecond: 1.0 / 3600, Burst: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := c.limiter.Tokens()

	// Calls refused before the limiter (bad batch size) take no token;
	// calls that reach the network take exactly one, even when it fails.
	c.SendBatch(t.Context(), nil, "")
	c.Send(t.Context(), Email{To: "a@example.com", IdempotencyKey: "k"})
	c.SendBatch(t.Context(), []Email{{}, {}, {}}, "b")

	if spent := before - c.limiter.Tokens(); spent < 1.99 || spent > 2.01 {
		t.Errorf("spent %.3f tokens, want 2", spent)
	}
}
