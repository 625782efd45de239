package httpapi

import (
	"context"
	"log/slog"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/webhook"
	"perfect/store"
)

// Lifecycle stops emails that an event makes pointless (decisions §4).
// Each rule can be switched off.
type Lifecycle struct {
	DB     *store.DB
	Engine *engine.Engine
	Log    *slog.Logger
	// BookingCancelsNurture: a Cal.com booking cancels remaining nurture emails.
	BookingCancelsNurture bool
	// CancelCancelsReminders: a cancelled booking cancels its reminders.
	CancelCancelsReminders bool
	// RescheduleReplans: a rescheduled booking moves its reminders.
	RescheduleReplans bool
	// OnboardingCancelsPostCall: an onboarding start cancels post-call follow-ups.
	OnboardingCancelsPostCall bool
	// UnmarkCancelsNoShow: an un-marked no-show cancels the recovery emails.
	UnmarkCancelsNoShow bool
	// CancelRemote, when set, also cancels matching runs handed to another
	// backend (Prefect), which have no local steps.
	CancelRemote func(ctx context.Context, email string, flow func(string) bool, by, reason string)
}

const lifecycleActor = "lifecycle"

// Started applies the rules a newly started run triggers.
func (l *Lifecycle) Started(ctx context.Context, req engine.StartRequest, res engine.Result) {
	switch {
	case req.Flow == flows.PreCallPrep && l.BookingCancelsNurture:
		l.cancel(ctx, req.Email, "booked a call", func(flow string) bool {
			f, ok := flows.ByName(flow)
			return ok && f.Nurture
		})
	case req.Flow == flows.Onboarding && l.OnboardingCancelsPostCall:
		l.cancel(ctx, req.Email, "onboarding started", func(flow string) bool {
			return flow == flows.PostCallMaybe
		})
	}
}

// CalcomEvent handles booking changes; it reports whether it acted.
func (l *Lifecycle) CalcomEvent(ctx context.Context, b *webhook.CalcomBooking) bool {
	switch b.Event {
	case "BOOKING_CANCELLED":
		if !l.CancelCancelsReminders || b.Email == "" {
			return false
		}
		l.cancelBooking(ctx, b.Email, b.UID, "booking cancelled")
		return true
	case "BOOKING_RESCHEDULED":
		if !l.RescheduleReplans || b.Email == "" || b.StartTime.IsZero() {
			return false
		}
		l.cancelBooking(ctx, b.Email, b.RescheduleUID, "booking rescheduled")
		key := b.UID
		if key == "" {
			key = b.StartTime.UTC().Format("2006-01-02T15:04:05Z")
		}
		_, err := l.Engine.Start(ctx, engine.StartRequest{
			Flow: flows.PreCallPrep, Email: b.Email, Params: b.Params(), Meeting: b.StartTime,
			DedupeKey: dedupe(flows.PreCallPrep, b.Email, key), Source: "/webhook/calcom-booking",
		})
		if err != nil {
			l.Log.ErrorContext(ctx, "re-plan reminders", "err", err)
		}
		return true
	}
	return false
}

// NoShowUnmarked cancels the recovery emails of a contact.
func (l *Lifecycle) NoShowUnmarked(ctx context.Context, email string) int {
	if !l.UnmarkCancelsNoShow {
		return 0
	}
	return l.cancel(ctx, email, "no-show un-marked", func(flow string) bool {
		return flow == flows.NoShowRecovery
	})
}

// cancelBooking cancels the reminder run of one booking uid, or every
// reminder of the contact when the uid is unknown.
func (l *Lifecycle) cancelBooking(ctx context.Context, email, uid, reason string) {
	runs, err := l.DB.RunsByEmail(email)
	if err != nil {
		l.Log.ErrorContext(ctx, "read runs", "err", err)
		return
	}
	want := dedupe(flows.PreCallPrep, email, uid)
	for _, r := range runs {
		if r.Flow != flows.PreCallPrep || r.CancelledAt != nil || (uid != "" && r.DedupeKey != want) {
			continue
		}
		steps, err := l.DB.CancelRun(r.ID, lifecycleActor, reason, l.Engine.Now())
		if err != nil {
			l.Log.ErrorContext(ctx, "cancel reminders", "run_id", r.ID, "err", err)
			continue
		}
		l.Log.InfoContext(ctx, "reminders cancelled", "run_id", r.ID, "steps", len(steps), "reason", reason)
	}
}

func (l *Lifecycle) cancel(ctx context.Context, email, reason string, flow func(string) bool) int {
	if l.CancelRemote != nil {
		l.CancelRemote(ctx, email, flow, lifecycleActor, reason)
	}
	match := func(s store.Step) bool { return flow(s.Flow) }
	steps, err := l.DB.CancelMatching(email, match, lifecycleActor, reason, l.Engine.Now())
	if err != nil {
		l.Log.ErrorContext(ctx, "lifecycle cancel", "reason", reason, "err", err)
		return 0
	}
	if len(steps) > 0 {
		l.Log.InfoContext(ctx, "steps cancelled by lifecycle", "email", engine.MaskEmail(email),
			"steps", len(steps), "reason", reason)
	}
	return len(steps)
}
