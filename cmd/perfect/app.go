package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"perfect/flows"
	"perfect/internal/admin"
	"perfect/internal/config"
	"perfect/internal/delivery"
	"perfect/internal/discord"
	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/internal/metrics"
	"perfect/internal/resend"
	"perfect/internal/templates"
	"perfect/internal/tracking"
	"perfect/internal/unsubscribe"
	"perfect/store"
)

// verifyLimit is the largest data file fully checked at start (256 MiB).
const verifyLimit = 256 << 20

// app is the wired service: everything serve starts and stops.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	now    func() time.Time
	speed  float64
	server *httpapi.Server

	db      *store.DB
	engine  *engine.Engine
	outbox  *engine.Outbox
	cron    gocron.Scheduler
	sources templates.Source
	tplKind string
	sender  engine.Sender
	metrics *metrics.Metrics
	admin   *admin.Handler
	// prefect is perfect's Prefect API and, with PREFECT_API_URL, the
	// backend for flows routed to Prefect.
	prefect *prefectParts
	// notion is the Notion integration; nil when NOTION_TOKEN is not set.
	notion *notionParts
}

func newApp(cfg *config.Config, log *slog.Logger, now func() time.Time, speed float64) (*app, error) {
	a := &app{cfg: cfg, log: log, now: now, speed: speed, metrics: metrics.New()}
	np, err := newNotion(cfg, log.With("component", "notion"), a.clock)
	if err != nil {
		return nil, err
	}
	a.notion = np
	src, kind, err := templateSourceFor(cfg, np)
	if err != nil {
		return nil, err
	}
	a.sources, a.tplKind = src, kind
	if cfg.ResendAPIKey != "" {
		c, err := resend.New(resend.Config{
			APIKey: cfg.ResendAPIKey, BaseURL: cfg.ResendBaseURL,
			RatePerSecond: cfg.ResendRate, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("configuration: RESEND_API_KEY/RESEND_BASE_URL: %w", err)
		}
		a.sender = delivery.Sender{Client: c}
	}
	a.server = httpapi.New(log, httpapi.Info{
		TestingRaw: cfg.TestingRaw, NotionConfigured: cfg.NotionEnabled(),
		ResendConfigured: cfg.ResendAPIKey != "", DiscordConfigured: cfg.DiscordURL != "",
		Templates: kind, DataFile: cfg.DataFile(), Prefect: "off",
	}, cfg.AdminToken, a.clock)
	loc, err := admin.LoadLocation(cfg.AdminTimezone)
	if err != nil {
		return nil, fmt.Errorf("configuration: ADMIN_TIMEZONE: %w", err)
	}
	a.admin, err = admin.New(admin.Config{Token: cfg.AdminToken, Location: loc,
		Logger: log.With("component", "admin"),
		Info: admin.ModeInfo{Templates: kind, NotionConfigured: cfg.NotionEnabled(),
			DataFile: cfg.DataFile(), Version: version}})
	if err != nil {
		return nil, fmt.Errorf("admin page: %w", err)
	}
	a.server.Extra = append(a.server.Extra, a.admin.Routes()...)
	a.logModes()
	return a, nil
}

func (a *app) clock() time.Time { return a.now().UTC() }

func (a *app) logModes() {
	if a.sender == nil {
		a.log.Warn("RESEND_API_KEY not set: outbox mode, emails are rendered and recorded, not sent")
	}
	if a.notion == nil {
		a.log.Warn("NOTION_TOKEN not set: local templates and local tracking only", "templates", a.tplKind)
	} else {
		a.notion.logMode(a.log)
	}
	if a.cfg.TestingUnclear() {
		a.log.Warn("TESTING_MODE is neither true nor false: production timings are used", "value", a.cfg.TestingRaw)
	}
	if a.cfg.Testing() {
		a.log.Warn("TESTING_MODE=true: sequences use minute-scale delays")
	}
	if a.cfg.AdminToken == "" {
		a.log.Warn("ADMIN_TOKEN not set: admin routes answer only on loopback")
	}
}

func templateSource(cfg *config.Config) (templates.Source, string, error) {
	if cfg.TemplatesDir == "" {
		return templates.Embedded(), "embedded", nil
	}
	dir, err := templates.Dir(cfg.TemplatesDir)
	if err != nil {
		return nil, "", fmt.Errorf("configuration: TEMPLATES_DIR: %w", err)
	}
	return templates.Layered(dir, templates.Embedded()), "dir", nil
}

// open opens the data file, waiting up to BOLT_OPEN_TIMEOUT for its lock,
// and makes the server ready.
func (a *app) open(ctx context.Context) error {
	// The full consistency check reads the whole file: worth it at start
	// for a file of ordinary size, too slow and memory-hungry for a huge
	// one, whose header is still checked (run perfect store check offline).
	verify := true
	if fi, err := os.Stat(a.cfg.DataFile()); err == nil && fi.Size() > verifyLimit {
		verify = false
		a.log.Info("data file too large for a full check at start; header checked only",
			"bytes", fi.Size(), "hint", "perfect store check")
	}
	db, err := store.Open(a.cfg.DataFile(), store.Options{Timeout: a.cfg.BoltTimeout,
		MaxSize: a.cfg.BoltMaxSize, Verify: verify})
	if err != nil {
		return err
	}
	a.db = db
	appliers := a.appliers()
	a.outbox = engine.NewOutbox(engine.Outbox{
		DB: db, Log: a.log.With("component", "outbox"), Now: a.clock, Speed: a.speed,
		Appliers: appliers,
	})
	secret := []byte(a.cfg.UnsubscribeSecret)
	if len(secret) == 0 {
		if secret, err = db.Secret("unsubscribe", 32); err != nil {
			return fmt.Errorf("unsubscribe secret: %w", err)
		}
	}
	signer := &unsubscribe.Signer{Secret: secret, BaseURL: a.cfg.BaseURL(), TTL: a.cfg.UnsubscribeTTL}
	windows, _ := a.cfg.Windows()   // validated by config.Load
	lateness, _ := a.cfg.Lateness() // validated by config.Load
	renderer := &engine.Renderer{
		Templates: a.sources, Campaign: campaign(a.cfg),
		From: a.cfg.EmailFrom, ReplyTo: a.cfg.EmailReplyTo,
		Unsubscribe: func(email string) (string, map[string]string) {
			return signer.Link(email, a.clock())
		},
	}
	var tracker engine.Tracker
	var notionTracker *tracking.Notion
	if a.notion != nil {
		notionTracker = a.notion.tracker(func() string { return a.engine.NewID() }, a.log.With("component", "tracking"))
		tracker = notionTracker
	}
	a.engine = engine.New(engine.Config{
		DB: db, Now: a.clock, Speed: a.speed, Logger: a.log.With("component", "engine"),
		Testing: a.cfg.Testing(), Campaign: campaign(a.cfg),
		Sender: a.sender, Classify: delivery.Classify,
		Renderer:   renderer,
		Suppressed: db.IsSuppressed, Windows: windows, DefaultLocation: a.cfg.Location(),
		Lateness: lateness, BatchMin: a.cfg.BatchMin,
		Tracker:   tracker,
		OnTracked: a.outbox.Wake,
		Metrics:   a.metrics,
		Workers:   a.cfg.Workers, MaxAttempts: a.cfg.MaxAttempts, ShutdownWait: a.cfg.ShutdownWait,
	})
	if a.cfg.DiscordURL != "" {
		a.server.OnCritical = a.discordAlert
	}
	a.server.ResendWebhookSecret = a.cfg.ResendWebhookSecret
	lifecycle := &httpapi.Lifecycle{
		DB: db, Engine: a.engine, Log: a.log.With("component", "lifecycle"),
		BookingCancelsNurture:     a.cfg.Lifecycle.BookingCancelsNurture,
		CancelCancelsReminders:    a.cfg.Lifecycle.CancelCancelsReminders,
		RescheduleReplans:         a.cfg.Lifecycle.RescheduleReplans,
		OnboardingCancelsPostCall: a.cfg.Lifecycle.OnboardingCancelsPostCall,
		UnmarkCancelsNoShow:       a.cfg.Lifecycle.UnmarkCancelsNoShow,
	}
	var triggers func(string) engine.Trigger
	if a.prefect != nil {
		// The outbox drainer starts in run, after this: the map is not
		// read concurrently yet.
		triggers = a.prefect.open(a.engine, tracker, a.outbox.Wake, lifecycle, a.log.With("component", "prefect"))
		a.prefect.critical = a.server.OnCritical
		a.prefect.appliers(appliers)
	}
	a.server.SetBackend(&httpapi.Backend{
		Engine: a.engine, Unsubscribe: signer, Suppress: a.suppressor(notionTracker),
		Lifecycle: lifecycle, Triggers: triggers,
	})
	a.metrics.SetStore(db, a.clock)
	a.admin.SetEngine(a.engine, renderer)
	a.log.Info("data file open", "path", db.Path())
	return nil
}

func (a *app) appliers() map[string]engine.Applier {
	m := map[string]engine.Applier{}
	if a.notion != nil {
		m[tracking.KindPrefix] = tracking.Applier(a.notion.client)
	}
	if a.cfg.DiscordURL != "" {
		dc := &discord.Client{URL: a.cfg.DiscordURL, HTTP: &http.Client{Timeout: 5 * time.Second}}
		m[discord.Kind] = dc.Apply
	}
	return m
}

// discordAlert queues the CRITICAL alert; the outbox sends it at once and
// retries it if Discord is down, independent of the sequence.
func (a *app) discordAlert(ctx context.Context, email string, red int) {
	it := discord.Item(a.engine.NewID(), discord.Alert{Email: email, Red: red, At: a.clock()})
	if err := a.db.AddOutbox(it); err != nil {
		a.log.ErrorContext(ctx, "queue discord alert", "err", err)
		return
	}
	a.outbox.Wake()
}

// run runs the scheduler, the outbox and housekeeping until ctx ends.
func (a *app) run(ctx context.Context) error {
	cron, err := housekeeping(a.log.With("component", "housekeeping"), a.db, a.engine, a.outbox.Wake, a.cfg.Retention)
	if err != nil {
		return err
	}
	a.cron = cron
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.outbox.Run(ctx)
	}()
	if a.notion != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.notion.warm(ctx, a.log.With("component", "notion"))
		}()
	}
	err = a.engine.Run(ctx)
	wg.Wait()
	return err
}

func (a *app) close() {
	if a.cron != nil {
		_ = a.cron.Shutdown()
	}
	if a.db != nil {
		if err := a.db.Close(); err != nil {
			a.log.Error("close data file", "err", err)
		}
	}
}

func campaign(cfg *config.Config) flows.Campaign {
	c := flows.DefaultCampaign()
	cc := cfg.Campaign
	if cc.Deadline != "" {
		if t, err := time.Parse(time.RFC3339, cc.Deadline); err == nil {
			c.Deadline = t.UTC()
		} else if t, err := time.Parse(time.DateOnly, cc.Deadline); err == nil {
			c.Deadline = t.UTC()
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.DeadlineLabel, cc.DeadlineLabel)
	set(&c.BookingLink, cc.BookingLink)
	set(&c.ResultsLink, cc.ResultsLink)
	set(&c.SpotsRemaining, cc.SpotsRemaining)
	set(&c.BookingsCount, cc.BookingsCount)
	return c
}
