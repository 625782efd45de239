package admin

import (
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"now", 0, "just now"},
		{"seconds ahead", 40 * time.Second, "just now"},
		{"minutes ahead", 5*time.Minute + 10*time.Second, "in 5 min"},
		{"minutes ago", -5 * time.Minute, "5 min ago"},
		{"hours ahead", 3*time.Hour + 20*time.Minute, "in 3 h"},
		{"hours ago", -47 * time.Hour, "47 h ago"},
		{"days ahead", 5*24*time.Hour + time.Hour, "in 5 d"},
		{"days ago", -72 * time.Hour, "3 d ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relative(testNow.Add(tt.d), testNow); got != tt.want {
				t.Errorf("relative(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestParseLocal(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tests := []struct {
		name  string
		in    string
		loc   *time.Location
		want  time.Time
		isErr bool
	}{
		{"utc", "2025-12-24T18:00", time.UTC, time.Date(2025, 12, 24, 18, 0, 0, 0, time.UTC), false},
		{"winter in New York", "2025-12-24T18:00", ny, time.Date(2025, 12, 24, 23, 0, 0, 0, time.UTC), false},
		{"summer in New York", "2026-07-01T08:15", ny, time.Date(2026, 7, 1, 12, 15, 0, 0, time.UTC), false},
		{"with seconds", "2025-12-24T18:00:30", time.UTC, time.Date(2025, 12, 24, 18, 0, 30, 0, time.UTC), false},
		{"empty", "", time.UTC, time.Time{}, true},
		{"rfc3339 is not a local time", "2025-12-24T18:00:00Z", time.UTC, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLocal(tt.in, tt.loc)
			if (err != nil) != tt.isErr {
				t.Fatalf("parseLocal(%q) error = %v, want error %v", tt.in, err, tt.isErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseLocal(%q) = %s, want %s", tt.in, got.UTC(), tt.want)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	if loc, err := LoadLocation(""); err != nil || loc != time.UTC {
		t.Errorf("LoadLocation(\"\") = %v, %v; want UTC", loc, err)
	}
	if _, err := LoadLocation("Mars/Olympus_Mons"); err == nil {
		t.Error("an unknown zone loaded")
	}
}
