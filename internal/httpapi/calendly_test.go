package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"perfect/store"
)

func calendlyFixture(t *testing.T, name string) string {
	// Move the sample's meeting after the test clock.
	return strings.ReplaceAll(provider(t, name), "2026-06-10T06:30:00.000000Z", "2026-12-08T06:30:00.000000Z")
}

func TestCalendly_NativeEvents(t *testing.T) {
	f := newServer(t, false, "")
	email := "john.doe@example.com"

	code, got := f.do(t, http.MethodPost, "/webhook/calendly", calendlyFixture(t, "calendly-invitee.created-1.json"))
	if code != 200 || got["status"] != "accepted" || got["steps_planned"] != float64(3) {
		t.Fatalf("invitee.created: %d %v", code, got)
	}
	// The no-show arrives on the legacy path, in Calendly's own shape.
	code, got = f.do(t, http.MethodPost, "/webhook/calendly-noshow", calendlyFixture(t, "calendly-invitee_no_show-1.json"))
	if code != 200 || got["status"] != "accepted" || got["steps_planned"] != float64(3) {
		t.Fatalf("invitee_no_show.created: %d %v", code, got)
	}
	steps := mustList(t, f.db, store.Filter{Email: email, Flow: "christmas-noshow-recovery-handler"})
	run, err := f.db.GetRun(steps[0].RunID)
	if err != nil || !strings.Contains(string(run.Params), `"calendly_event_uri":"https://api.calendly.com/scheduled_events/`) {
		t.Fatalf("no-show params %s %v", run.Params, err)
	}

	deleted := strings.Replace(calendlyFixture(t, "calendly-invitee_no_show-1.json"),
		`"invitee_no_show.created"`, `"invitee_no_show.deleted"`, 1)
	code, got = f.do(t, http.MethodPost, "/webhook/calendly", deleted)
	if code != 200 || got["cancelled"] != float64(3) {
		t.Fatalf("invitee_no_show.deleted: %d %v", code, got)
	}

	canceled := strings.Replace(calendlyFixture(t, "calendly-invitee.created-1.json"),
		`"event": "invitee.created"`, `"event": "invitee.canceled"`, 1)
	code, got = f.do(t, http.MethodPost, "/webhook/calendly", canceled)
	if code != 200 || got["status"] != "processed" {
		t.Fatalf("invitee.canceled: %d %v", code, got)
	}
	for _, s := range mustList(t, f.db, store.Filter{Email: email}) {
		if s.Status != store.StatusCancelled {
			t.Errorf("%s %s is %s, want cancelled", s.Flow, s.ID, s.Status)
		}
	}

	code, got = f.do(t, http.MethodPost, "/webhook/calendly", `{"event":"routing_form_submission.created","payload":{}}`)
	if code != 200 || got["status"] != "ignored" {
		t.Fatalf("other event: %d %v", code, got)
	}
	code, _ = f.do(t, http.MethodPost, "/webhook/calendly", `{"event":"invitee.created","payload":{"email":"nope"}}`)
	if code != 422 {
		t.Fatalf("bad email: %d, want 422", code)
	}
}

func TestCalcom_RescheduleMovesReminders(t *testing.T) {
	f := newServer(t, false, "")
	created := strings.ReplaceAll(provider(t, "calcom-BOOKING_CREATED-1.json"), "2024-01-01T10:", "2026-12-09T10:")
	// The samples are unrelated bookings: make the reschedule point at this one.
	created = strings.Replace(created, `"unique-booking-id"`, `"previous-booking-unique-id"`, 1)
	code, got := f.do(t, http.MethodPost, "/webhook/calcom-booking", created)
	if code != 200 || got["steps_planned"] != float64(3) {
		t.Fatalf("created: %d %v", code, got)
	}
	body := provider(t, "calcom-BOOKING_RESCHEDULED-1.json")
	code, got = f.do(t, http.MethodPost, "/webhook/calcom-booking", strings.ReplaceAll(body, "2024-01-", "2026-12-"))
	if code != 200 || got["status"] != "processed" {
		t.Fatalf("rescheduled: %d %v", code, got)
	}
	byStatus := statuses(t, f.db, "guest@example.com")
	if byStatus[store.StatusCancelled] != 3 || byStatus[store.StatusPlanned] == 0 {
		t.Fatalf("after reschedule: %v", byStatus)
	}
}
