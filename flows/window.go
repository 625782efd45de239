package flows

import (
	"fmt"
	"strings"
	"time"
)

// Window is a daily send window in a contact's local time, such as
// 08:00-20:00. A step due outside it waits for the next opening.
type Window struct {
	// Start and End are offsets from local midnight; End before Start
	// means the window runs past midnight.
	Start, End time.Duration
}

// ParseWindow reads "HH:MM-HH:MM".
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM", s)
	}
	start, err1 := clock(a)
	end, err2 := clock(b)
	if err1 != nil || err2 != nil || start == end {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM with different times", s)
	}
	return Window{Start: start, End: end}, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Next returns t when it falls inside the window in loc, otherwise the
// next moment the window opens. Days are built with time.Date in loc, so
// "08:00" stays 08:00 local across daylight-saving changes.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	local := t.In(loc)
	y, m, d := local.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
	at := func(day int, off time.Duration) time.Time {
		h, mi := int(off/time.Hour), int(off%time.Hour/time.Minute)
		return time.Date(y, m, d+day, h, mi, 0, 0, loc)
	}
	tod := local.Sub(midnight)
	if w.Start < w.End {
		switch {
		case tod < w.Start:
			return at(0, w.Start).UTC()
		case tod >= w.End:
			return at(1, w.Start).UTC()
		}
		return t
	}
	if tod >= w.End && tod < w.Start {
		return at(0, w.Start).UTC()
	}
	return t
}
