package flows_test

import (
	"testing"
	"time"

	"perfect/flows"
)

func TestWindow_Next(t *testing.T) {
	toronto, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	day := flows.Window{Start: 8 * time.Hour, End: 20 * time.Hour}
	night := flows.Window{Start: 22 * time.Hour, End: 6 * time.Hour}
	tests := []struct {
		name string
		w    flows.Window
		in   string
		want string
	}{
		{"3 am waits for 8 am", day, "2026-11-10T03:00:00-05:00", "2026-11-10T08:00:00-05:00"},
		{"inside stays", day, "2026-11-10T12:30:00-05:00", "2026-11-10T12:30:00-05:00"},
		{"evening waits for tomorrow", day, "2026-11-10T21:00:00-05:00", "2026-11-11T08:00:00-05:00"},
		// 2026-11-01: clocks go back at 02:00 EDT (-04:00) to 01:00 EST (-05:00).
		{"across fall-back", day, "2026-11-01T03:00:00-05:00", "2026-11-01T08:00:00-05:00"},
		{"evening before fall-back", day, "2026-10-31T23:00:00-04:00", "2026-11-01T08:00:00-05:00"},
		// 2026-03-08: clocks go forward at 02:00 EST to 03:00 EDT.
		{"across spring-forward", day, "2026-03-08T03:30:00-04:00", "2026-03-08T08:00:00-04:00"},
		{"overnight window inside", night, "2026-11-10T23:00:00-05:00", "2026-11-10T23:00:00-05:00"},
		{"overnight window waits", night, "2026-11-10T12:00:00-05:00", "2026-11-10T22:00:00-05:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := time.Parse(time.RFC3339, tt.in)
			want, _ := time.Parse(time.RFC3339, tt.want)
			if got := tt.w.Next(in, toronto); !got.Equal(want) {
				t.Fatalf("Next(%s) = %s, want %s", tt.in, got.In(toronto), want)
			}
		})
	}
}

func TestParseWindow(t *testing.T) {
	if w, err := flows.ParseWindow("08:00-20:30"); err != nil || w.End != 20*time.Hour+30*time.Minute {
		t.Fatalf("%+v %v", w, err)
	}
	for _, bad := range []string{"", "8-20", "08:00", "08:00-08:00", "25:00-26:00"} {
		if _, err := flows.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}
