package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"perfect/internal/config"
	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/store"
)

// ServeCmd runs the service.
type ServeCmd struct{}

// Run starts listening at once (health answers 503 while the data file is
// being opened, for example while an old container still holds its lock),
// then opens the store, starts the scheduler and serves until a signal.
func (ServeCmd) Run(e *env) error {
	// Prefect's Secret blocks may fill settings the environment lacks, so
	// they are read before the rest of the configuration.
	boot := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "prefect")
	pp, environ, err := newPrefect(e.ctx, e.environ, boot)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	log := newLogger(cfg, e.stderr)
	now, speed, err := clockFrom(cfg.FakeClock)
	if err != nil {
		return exitError{code: 2, msg: "configuration: PERFECT_FAKE_CLOCK: " + err.Error()}
	}

	app, err := newApp(cfg, log, now, speed)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	configureServer(app.server, cfg, log)
	app.server.Metrics = app.metrics
	app.prefect = pp
	pp.mount(app.server)
	app.server.SetPrefectMode(pp.describe())
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("listen on port %d: %v", cfg.Port, err)}
	}
	srv := &http.Server{
		Handler:           app.server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "version", version)

	if err := app.open(e.ctx); err != nil {
		_ = srv.Close()
		return exitError{code: 1, msg: err.Error()}
	}
	defer app.close()

	runErr := make(chan error, 1)
	go func() { runErr <- app.run(e.ctx) }()

	select {
	case <-e.ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		log.Error("http server stopped", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("scheduler stopped", "err", err)
	}
	log.Info("stopped")
	return nil
}

// configureServer applies the request-hygiene and webhook-security
// settings, and says at start-up which checks are off.
func configureServer(s *httpapi.Server, cfg *config.Config, log *slog.Logger) {
	s.Secrets = httpapi.Secrets{CalcomSecret: cfg.CalcomSecret, CalendlyKey: cfg.CalendlyKey,
		WebhookToken: cfg.WebhookToken}
	s.TrustProxy = cfg.TrustProxy
	s.CORSOrigins = cfg.CORSList()
	s.WebhookRate, s.WebhookBurst = cfg.WebhookRate, cfg.WebhookBurst
	s.MaxBody = cfg.MaxBodyBytes
	for name, v := range map[string]string{"CALCOM_WEBHOOK_SECRET": cfg.CalcomSecret,
		"CALENDLY_WEBHOOK_SIGNING_KEY": cfg.CalendlyKey, "WEBHOOK_TOKEN": cfg.WebhookToken,
		"RESEND_WEBHOOK_SECRET": cfg.ResendWebhookSecret} {
		if v == "" {
			log.Warn("webhook check off: " + name + " not set")
		}
	}
}

// purge deletes finished steps older than the retention, in chunks so no
// transaction holds the writer for long.
func purge(log *slog.Logger, db *store.DB, now time.Time, retention time.Duration) {
	if retention <= 0 {
		return
	}
	total := 0
	for {
		n, err := db.PurgeFinished(now.Add(-retention), 1000)
		total += n
		if err != nil {
			log.Error("retention", "err", err)
			return
		}
		if n < 1000 {
			break
		}
	}
	if total > 0 {
		log.Info("finished steps purged", "steps", total, "older_than", retention.String())
	}
}

func newLogger(cfg *config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// housekeeping schedules the recurring jobs on gocron: they are not the
// store of planned steps, only periodic care around it.
func housekeeping(log *slog.Logger, db *store.DB, eng *engine.Engine, nudgeOutbox func(), retention time.Duration) (gocron.Scheduler, error) {
	s, err := gocron.NewScheduler(gocron.WithLocation(time.UTC))
	if err != nil {
		return nil, err
	}
	jobs := []struct {
		every time.Duration
		name  string
		fn    func()
	}{
		{5 * time.Minute, "queue-summary", func() {
			st, err := db.Stats(eng.Now())
			if err != nil {
				log.Error("queue summary", "err", err)
				return
			}
			log.Info("queue summary", "planned", st.ByStatus[store.StatusPlanned],
				"due_now", st.DueNow, "failed", st.ByStatus[store.StatusFailed],
				"outbox_pending", st.OutboxPending, "outbox_parked", st.OutboxParked)
		}},
		// The scheduler is woken by every plan; this guards against a
		// wake-up lost to a bug, at the cost of one index read a minute.
		{time.Minute, "scheduler-nudge", eng.Wake},
		{time.Minute, "outbox-nudge", nudgeOutbox},
		{6 * time.Hour, "retention", func() { purge(log, db, eng.Now(), retention) }},
	}
	for _, j := range jobs {
		if j.fn == nil {
			continue
		}
		if _, err := s.NewJob(gocron.DurationJob(j.every), gocron.NewTask(j.fn),
			gocron.WithName(j.name), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", j.name, err)
		}
	}
	s.Start()
	return s, nil
}
