package httpapi

import (
	"net/http"
	"time"
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	env := map[string]any{
		"testing_mode":       s.info.TestingRaw,
		"notion_configured":  s.info.NotionConfigured,
		"resend_configured":  s.info.ResendConfigured,
		"discord_configured": s.info.DiscordConfigured,
	}
	integrations := map[string]string{
		"resend":    mode(s.info.ResendConfigured, "live", "outbox"),
		"notion":    mode(s.info.NotionConfigured, "live", "local"),
		"templates": s.info.Templates,
		"prefect":   s.info.Prefect,
	}
	b := s.backend.Load()
	if b == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "starting", "timestamp": s.timestamp(), "environment": env,
			"integrations": integrations,
			"engine":       map[string]any{"store_open": false, "data_file": s.info.DataFile},
		})
		return
	}
	now := b.Engine.Now()
	st, err := b.Engine.DB().Stats(now)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unhealthy", "timestamp": s.timestamp(), "environment": env, "error": err.Error(),
		})
		return
	}
	eng := map[string]any{
		"store_open":     true,
		"data_file":      s.info.DataFile,
		"steps_due":      st.DueNow,
		"steps":          st.ByStatus,
		"failed":         st.ByStatus["failed"],
		"outbox_pending": st.OutboxPending,
		"outbox_parked":  st.OutboxParked,
		"suppressed":     st.Suppressed,
		"clock":          now.Format(time.RFC3339),
	}
	// A webhook that could not be stored (full disk, size cap) shows here
	// until one is stored again; the service stays up so senders get 503s
	// and retry.
	if f := s.lastWriteErr.Load(); f != nil {
		eng["writable"] = false
		eng["last_write_error"] = f
	} else {
		eng["writable"] = true
	}
	if st.NextDue != nil {
		eng["next_due"] = st.NextDue.Format(time.RFC3339)
		if st.NextDue.Before(now) {
			eng["oldest_overdue"] = st.NextDue.Format(time.RFC3339)
			eng["oldest_overdue_seconds"] = int(now.Sub(*st.NextDue).Seconds())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "healthy", "timestamp": s.timestamp(), "environment": env,
		"integrations": integrations, "engine": eng,
	})
}

func mode(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}
