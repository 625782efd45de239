package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// clockFrom parses PERFECT_FAKE_CLOCK ("epoch=<RFC3339>,speed=<n>"). The
// clock reads epoch + speed×(real time since epoch's real anchor), where
// the anchor is the epoch itself: a restarted process continues the same
// timeline, so tests can kill and restart the binary.
func clockFrom(spec string) (func() time.Time, float64, error) {
	if spec == "" {
		return time.Now, 1, nil
	}
	var epoch, anchor time.Time
	speed := 1.0
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, 0, fmt.Errorf("want key=value, got %q", part)
		}
		var err error
		switch k {
		case "epoch":
			epoch, err = time.Parse(time.RFC3339Nano, v)
		case "anchor":
			anchor, err = time.Parse(time.RFC3339Nano, v)
		case "speed":
			speed, err = strconv.ParseFloat(v, 64)
			if err == nil && speed <= 0 {
				err = fmt.Errorf("speed must be > 0")
			}
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", k, err)
		}
	}
	if epoch.IsZero() || anchor.IsZero() {
		return nil, 0, fmt.Errorf("epoch and anchor are required")
	}
	return func() time.Time {
		return epoch.Add(time.Duration(float64(time.Since(anchor)) * speed))
	}, speed, nil
}
