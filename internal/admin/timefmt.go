package admin

import (
	"fmt"
	"time"
)

// stamp is a time as the page shows it: in ADMIN_TIMEZONE, with the UTC
// instant in the title and a relative hint.
type stamp struct {
	Set   bool
	Local string
	UTC   string
	Rel   string
	Past  bool
}

const (
	localLayout = "Mon 2 Jan 2006, 15:04 MST"
	// inputLayout is the value format of <input type="datetime-local">.
	inputLayout = "2006-01-02T15:04"
)

func newStamp(t time.Time, now time.Time, loc *time.Location) stamp {
	if t.IsZero() {
		return stamp{}
	}
	return stamp{
		Set:   true,
		Local: t.In(loc).Format(localLayout),
		UTC:   t.UTC().Format(time.RFC3339),
		Rel:   relative(t, now),
		Past:  !t.After(now),
	}
}

// relative says how far t is from now in the largest unit that fits:
// "in 3 h", "5 min ago", "in 2 d", "just now".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var n string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		n = fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		n = fmt.Sprintf("%d d", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + n
	}
	return n + " ago"
}

// parseLocal reads a datetime-local value as a wall time in loc.
func parseLocal(v string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{inputLayout, inputLayout + ":05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time (YYYY-MM-DDTHH:MM)", v)
}
