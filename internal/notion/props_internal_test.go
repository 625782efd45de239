package notion

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func TestSplitText(t *testing.T) {
	t.Parallel()
	emoji := "😀" // two UTF-16 units
	tests := []struct {
		name     string
		in       string
		maxSegs  int
		maxBytes int
		wantLens []int // UTF-16 units per segment
		wantCut  bool
	}{
		{name: "empty", in: "", maxSegs: 100, maxBytes: 1 << 20, wantLens: nil},
		{name: "short", in: "hello", maxSegs: 100, maxBytes: 1 << 20, wantLens: []int{5}},
		{name: "exactly 2000", in: strings.Repeat("a", 2000), maxSegs: 100, maxBytes: 1 << 20, wantLens: []int{2000}},
		{name: "2001", in: strings.Repeat("a", 2001), maxSegs: 100, maxBytes: 1 << 20, wantLens: []int{2000, 1}},
		{name: "surrogate pair not split", in: strings.Repeat("a", 1999) + emoji, maxSegs: 100, maxBytes: 1 << 20, wantLens: []int{1999, 2}},
		{name: "segment limit", in: strings.Repeat("a", 6001), maxSegs: 3, maxBytes: 1 << 20, wantLens: []int{2000, 2000, 2000}, wantCut: true},
		{name: "byte limit", in: strings.Repeat("a", 3000), maxSegs: 100, maxBytes: 2500, wantLens: []int{2000, 498}, wantCut: true},
		{name: "escaped characters count six bytes", in: strings.Repeat("<", 100), maxSegs: 100, maxBytes: 60, wantLens: []int{10}, wantCut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			segs := splitText(tt.in, tt.maxSegs, tt.maxBytes)
			if segs == nil {
				t.Fatal("segments are nil, want [] at least")
			}
			var lens []int
			var joined strings.Builder
			for _, s := range segs {
				lens = append(lens, len(utf16.Encode([]rune(s.Text.Content))))
				joined.WriteString(s.Text.Content)
			}
			if !equalInts(lens, tt.wantLens) {
				t.Errorf("segment lengths = %v, want %v", lens, tt.wantLens)
			}
			cut := strings.HasSuffix(joined.String(), "…")
			if cut != tt.wantCut {
				t.Errorf("cut = %v, want %v", cut, tt.wantCut)
			}
			if !tt.wantCut && joined.String() != tt.in {
				t.Error("joined segments differ from the input")
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{name: "first", attempt: 1, want: 5 * time.Second},
		{name: "doubles", attempt: 3, want: 20 * time.Second},
		{name: "capped", attempt: 12, want: 30 * time.Minute},
		{name: "huge attempt", attempt: 1000, want: 30 * time.Minute},
		{name: "jitter adds up to 20%", attempt: 2, jitter: 0.5, want: 11 * time.Second},
		{name: "retry-after wins", attempt: 1, retryAfter: 45 * time.Second, want: 45 * time.Second},
		{name: "backoff longer than retry-after", attempt: 5, retryAfter: time.Second, want: 80 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Backoff(tt.attempt, tt.retryAfter, tt.jitter); got != tt.want {
				t.Errorf("Backoff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNormalizeDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "date", in: "2025-11-28", want: "2025-11-28", ok: true},
		{name: "datetime with offset", in: "2025-11-28T10:00:00-05:00", want: "2025-11-28T15:00:00Z", ok: true},
		{name: "naive datetime is UTC", in: "2025-11-28T10:00:00", want: "2025-11-28T10:00:00Z", ok: true},
		{name: "free text", in: "next Tuesday", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := normalizeDate(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("normalizeDate(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"jane@example.com": "j***@example.com",
		"élise@example.fr": "é***@example.fr",
		"nope":             "***",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
