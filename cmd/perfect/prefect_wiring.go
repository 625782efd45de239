package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/internal/prefect"
	"perfect/internal/prefectapi"
	"perfect/store"
)

// prefectParts is the Prefect side of serve: perfect's own Prefect API
// (always mounted under /api) and, when PREFECT_API_URL is set, the client
// and the backend that hands routed flows to an existing Prefect server.
type prefectParts struct {
	settings prefect.Settings
	routes   prefect.Routes
	client   *prefect.Client
	backend  *prefect.Backend
	api      *prefectapi.API
	lc       *httpapi.Lifecycle
	// critical sends the Discord alert of a CRITICAL assessment started
	// through /api, as the webhook does.
	critical func(ctx context.Context, email string, red int)
}

// newPrefect reads the Prefect settings. When PREFECT_API_URL is set, the
// legacy Secret blocks fill environment values that are missing, before
// the rest of the configuration is read.
func newPrefect(ctx context.Context, environ []string, log *slog.Logger) (*prefectParts, []string, error) {
	s, err := prefect.SettingsFromEnv(environ)
	if err != nil {
		return nil, nil, err
	}
	routes, err := s.Routes()
	if err != nil {
		return nil, nil, err
	}
	ids, err := prefectapi.ParseDeploymentIDs(s.DeploymentIDs)
	if err != nil {
		return nil, nil, err
	}
	p := &prefectParts{settings: s, routes: routes}
	p.api = prefectapi.New(prefectapi.Config{Logger: log, DeploymentIDs: ids, AuthString: s.ServerAuthString,
		OnStarted: func(ctx context.Context, req engine.StartRequest, res engine.Result) {
			if p.lc != nil {
				p.lc.Started(ctx, req, res)
			}
			if req.Flow == flows.BusinessXAssess && req.Segment == "CRITICAL" && !res.Duplicate && p.critical != nil {
				red, _ := strconv.Atoi(fmt.Sprint(req.Params["red_systems"]))
				p.critical(ctx, req.Email, red)
			}
		},
		CancelRun: func(ctx context.Context, runID, by, reason string) error {
			if p.backend == nil {
				return fmt.Errorf("run %s was handed to prefect, but PREFECT_API_URL is not set", runID)
			}
			return p.backend.CancelRun(ctx, runID, by, reason)
		}})
	if s.APIURL == "" {
		return p, environ, nil
	}
	p.client, err = s.Client(&prefect.ClientConfig{Logger: log, MaxRetries: 1})
	if err != nil {
		return nil, nil, err
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	environ, filled, err := prefect.FillEnv(fctx, p.client, environ)
	if err != nil {
		log.Warn("prefect secret blocks not read; using the environment", "err", err)
	}
	if len(filled) > 0 {
		log.Info("settings read from prefect secret blocks", "variables", strings.Join(filled, ","))
	}
	return p, environ, nil
}

// mount adds perfect's Prefect-compatible API to the server.
func (p *prefectParts) mount(s *httpapi.Server) {
	for _, r := range p.api.Routes() {
		s.Extra = append(s.Extra, httpapi.Route{Pattern: r.Pattern, Handler: r.Handler})
	}
}

// describe is the /health summary.
func (p *prefectParts) describe() string {
	if p.settings.APIURL == "" {
		return "off"
	}
	if !p.routes.Any() {
		return "connected, no flow routed"
	}
	return p.routes.String()
}

// open builds the backend once the engine exists and makes the API ready.
func (p *prefectParts) open(eng *engine.Engine, tracker engine.Tracker, wake func(),
	lc *httpapi.Lifecycle, log *slog.Logger) func(flow string) engine.Trigger {
	p.lc = lc
	triggers := func(string) engine.Trigger { return eng }
	if p.client != nil {
		p.backend = prefect.NewBackend(prefect.BackendConfig{Engine: eng, Client: p.client, Routes: p.routes,
			Tracker: tracker, OnQueued: wake, Logger: log})
		triggers = p.backend.Triggers(eng)
		lc.CancelRemote = p.cancelContact
	}
	p.api.SetBackend(eng, triggers)
	return triggers
}

// appliers registers the backend's outbox applier.
func (p *prefectParts) appliers(m map[string]engine.Applier) {
	if p.backend != nil {
		m[prefect.KindPrefix] = p.backend.Apply
	}
}

// cancelContact reaches runs handed to Prefect, which have no local steps.
func (p *prefectParts) cancelContact(ctx context.Context, email string, flow func(string) bool, by, reason string) {
	match := func(r store.Run) bool { return flow(r.Flow) }
	if _, err := p.backend.CancelContact(ctx, email, match, by, reason); err != nil {
		slog.Default().ErrorContext(ctx, "cancel prefect runs", "err", err)
	}
}
