package httpapi

import (
	"net/http"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/webhook"
)

// handleCalendly takes Calendly's own deliveries: a no-show starts the
// recovery sequence, an un-marked no-show cancels it, a booking plans the
// pre-call reminders, a cancellation cancels them. Other events answer 200
// so Calendly does not disable the subscription.
func (s *Server) handleCalendly(w http.ResponseWriter, r *http.Request, b *Backend, body []byte) {
	ev, err := webhook.DecodeCalendly(body)
	if err != nil {
		decodeError(w, err)
		return
	}
	ns := ev.NoShow
	if ns == nil {
		s.log.InfoContext(r.Context(), "calendly event ignored", "event", ev.Event)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "event": ev.Event})
		return
	}
	switch ev.Event {
	case webhook.CalendlyNoShowCreated:
		s.accept(w, r, b, engine.StartRequest{
			Flow: flows.NoShowRecovery, Email: ns.Email, Params: ns.Params(),
			DedupeKey: dedupe(flows.NoShowRecovery, ns.Email), Source: r.URL.Path,
		}, map[string]any{
			"status": "accepted", "message": "No-show recovery sequence will begin shortly",
			"email": ns.Email, "campaign": flows.CampaignTraditional, "event": ev.Event,
		})
	case webhook.CalendlyNoShowDeleted:
		n := 0
		if b.Lifecycle != nil {
			n = b.Lifecycle.NoShowUnmarked(r.Context(), ns.Email)
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "processed", "event": ev.Event, "cancelled": n})
	case "invitee.created":
		start, err := time.Parse(time.RFC3339Nano, ns.ScheduledTime)
		if err != nil {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "event": ev.Event,
				"message": "no usable scheduled_event.start_time in the delivery"})
			return
		}
		params := map[string]any{"email": ns.Email, "name": ns.FirstName, "first_name": ns.FirstName,
			"meeting_time": ns.ScheduledTime, "booking_uid": ev.InviteeURI}
		if ns.RescheduleURL != nil {
			params["reschedule_url"] = *ns.RescheduleURL
		}
		s.accept(w, r, b, engine.StartRequest{
			Flow: flows.PreCallPrep, Email: ns.Email, Params: params, Meeting: start,
			DedupeKey: dedupe(flows.PreCallPrep, ns.Email, ev.InviteeURI), Source: r.URL.Path,
		}, map[string]any{
			"status": "accepted", "message": "Booking received and pre-call sequence will begin shortly",
			"email": ns.Email, "meeting_time": ns.ScheduledTime, "event": ev.Event,
		})
	case "invitee.canceled":
		// A reschedule arrives as a cancel (rescheduled: true) followed by
		// a new invitee.created; both ways the old reminders go.
		if b.Lifecycle != nil && b.Lifecycle.CancelCancelsReminders {
			b.Lifecycle.cancelBooking(r.Context(), ns.Email, ev.InviteeURI, "booking cancelled in Calendly")
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "processed", "event": ev.Event,
			"rescheduled": ev.Rescheduled})
	default:
		s.log.InfoContext(r.Context(), "calendly event ignored", "event", ev.Event)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "event": ev.Event})
	}
}
