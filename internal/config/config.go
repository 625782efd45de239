// Package config reads perfect's settings from the environment, by the
// legacy variable names where the old system had one. Every setting may
// also be given as NAME_FILE, the path of a file holding the value.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"perfect/flows"
)

// Config is every setting of perfect serve.
type Config struct {
	Port         int           `env:"PORT" envDefault:"8000"`
	DataDir      string        `env:"PERFECT_DATA_DIR" envDefault:"./data"`
	LogLevel     string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat    string        `env:"LOG_FORMAT" envDefault:"text"`
	TestingRaw   string        `env:"TESTING_MODE" envDefault:"false"`
	BoltTimeout  time.Duration `env:"BOLT_OPEN_TIMEOUT" envDefault:"10s"`
	ShutdownWait time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// MaxLateness is "24h" (every nurture flow) or "flow=dur,...".
	MaxLateness string `env:"MAX_LATENESS"`
	// Retention is how long finished steps (sent, cancelled, expired) are
	// kept; 0 keeps them forever.
	Retention time.Duration `env:"RETENTION" envDefault:"8760h"`
	// BoltMaxSize caps the data file in bytes (0: no cap); past it,
	// webhooks answer 503 as on a full disk.
	BoltMaxSize int64  `env:"BOLT_MAX_SIZE" envDefault:"0"`
	Workers     int    `env:"SEND_CONCURRENCY" envDefault:"4"`
	PublicURL   string `env:"PUBLIC_URL"`

	ResendAPIKey  string  `env:"RESEND_API_KEY"`
	ResendBaseURL string  `env:"RESEND_BASE_URL"`
	ResendRate    float64 `env:"RESEND_RATE_LIMIT" envDefault:"2"`
	EmailFrom     string  `env:"EMAIL_FROM" envDefault:"Sender Name <sender@example.com>"`
	EmailReplyTo  string  `env:"EMAIL_REPLY_TO"`
	MaxAttempts   int     `env:"SEND_MAX_ATTEMPTS" envDefault:"8"`
	// BatchMin: when this many emails are due at once they go out through
	// Resend's batch endpoint, 100 per call; 0 turns batches off.
	BatchMin int `env:"SEND_BATCH_MIN" envDefault:"10"`

	TemplatesDir string        `env:"TEMPLATES_DIR"`
	TemplateTTL  time.Duration `env:"TEMPLATE_CACHE_TTL" envDefault:"5m"`

	UnsubscribeSecret   string        `env:"UNSUBSCRIBE_SECRET"`
	UnsubscribeTTL      time.Duration `env:"UNSUBSCRIBE_TOKEN_TTL" envDefault:"8760h"`
	ResendWebhookSecret string        `env:"RESEND_WEBHOOK_SECRET"`
	SendWindows         string        `env:"SEND_WINDOWS"`
	DefaultTimezone     string        `env:"DEFAULT_TIMEZONE" envDefault:"UTC"`

	CalcomSecret string  `env:"CALCOM_WEBHOOK_SECRET"`
	CalendlyKey  string  `env:"CALENDLY_WEBHOOK_SIGNING_KEY"`
	WebhookToken string  `env:"WEBHOOK_TOKEN"`
	TrustProxy   bool    `env:"TRUST_PROXY_HEADERS" envDefault:"false"`
	WebhookRate  float64 `env:"WEBHOOK_RATE_LIMIT" envDefault:"20"`
	WebhookBurst int     `env:"WEBHOOK_RATE_BURST" envDefault:"40"`
	MaxBodyBytes int64   `env:"MAX_BODY_BYTES" envDefault:"1048576"`
	Lifecycle    Lifecycle

	AdminToken    string `env:"ADMIN_TOKEN"`
	AdminTimezone string `env:"ADMIN_TIMEZONE" envDefault:"UTC"`
	DiscordURL    string `env:"DISCORD_WEBHOOK_URL"`
	CORSOrigins   string `env:"CORS_ORIGINS"`

	Notion Notion

	Campaign Campaign

	// FakeClock is for end-to-end tests: "epoch=<RFC3339>,speed=<n>" makes
	// the service's clock start at epoch and run n times faster.
	FakeClock string `env:"PERFECT_FAKE_CLOCK"`
}

// Notion is the Notion integration; empty Token means local tracking only.
type Notion struct {
	Token              string        `env:"NOTION_TOKEN"`
	BaseURL            string        `env:"NOTION_BASE_URL"`
	TemplatesDB        string        `env:"NOTION_EMAIL_TEMPLATES_DB_ID"`
	SequenceDB         string        `env:"NOTION_EMAIL_SEQUENCE_DB_ID"`
	BusinessXDB        string        `env:"NOTION_BUSINESSX_DB_ID"`
	AnalyticsDB        string        `env:"NOTION_EMAIL_ANALYTICS_DB_ID"`
	CustomerProjectsDB string        `env:"NOTION_CUSTOMER_PROJECTS_DB_ID"`
	ContactsDB         string        `env:"NOTION_CONTACTS_DB_ID"`
	BXTemplatesDB      string        `env:"NOTION_TEMPLATES_DB_ID"`
	Rate               float64       `env:"NOTION_RATE_LIMIT" envDefault:"3"`
	Timeout            time.Duration `env:"NOTION_TIMEOUT" envDefault:"30s"`
	// UnsubscribeProperty names the contacts' checkbox, select or date
	// property that records an unsubscribe; empty turns the update off.
	UnsubscribeProperty string `env:"NOTION_UNSUBSCRIBE_PROPERTY"`
}

// Lifecycle switches the rules that cancel emails an event makes pointless.
type Lifecycle struct {
	BookingCancelsNurture     bool `env:"LIFECYCLE_BOOKING_CANCELS_NURTURE" envDefault:"true"`
	CancelCancelsReminders    bool `env:"LIFECYCLE_CANCEL_CANCELS_REMINDERS" envDefault:"true"`
	RescheduleReplans         bool `env:"LIFECYCLE_RESCHEDULE_REPLANS" envDefault:"true"`
	OnboardingCancelsPostCall bool `env:"LIFECYCLE_ONBOARDING_CANCELS_POSTCALL" envDefault:"true"`
	UnmarkCancelsNoShow       bool `env:"LIFECYCLE_UNMARK_CANCELS_NOSHOW" envDefault:"true"`
}

// CORSList splits CORS_ORIGINS.
func (c *Config) CORSList() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// Validate checks the Notion settings when NOTION_TOKEN is set: the Email
// Templates database is required (with Notion on, templates come only from
// there), and every database id given must be a Notion id.
func (n Notion) Validate() error {
	if n.Token == "" {
		return nil
	}
	var errs []error
	if strings.TrimSpace(n.TemplatesDB) == "" {
		errs = append(errs, errors.New("NOTION_EMAIL_TEMPLATES_DB_ID must be set when NOTION_TOKEN is set"))
	}
	for _, db := range []struct{ name, id string }{
		{"NOTION_EMAIL_TEMPLATES_DB_ID", n.TemplatesDB}, {"NOTION_EMAIL_SEQUENCE_DB_ID", n.SequenceDB},
		{"NOTION_BUSINESSX_DB_ID", n.BusinessXDB}, {"NOTION_EMAIL_ANALYTICS_DB_ID", n.AnalyticsDB},
		{"NOTION_CUSTOMER_PROJECTS_DB_ID", n.CustomerProjectsDB}, {"NOTION_CONTACTS_DB_ID", n.ContactsDB},
		{"NOTION_TEMPLATES_DB_ID", n.BXTemplatesDB},
	} {
		if db.id != "" && !notionID(db.id) {
			errs = append(errs, fmt.Errorf("%s must be a Notion database id (32 hex digits, dashes allowed), got %q",
				db.name, db.id))
		}
	}
	if n.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("NOTION_TIMEOUT must be > 0, got %s", n.Timeout))
	}
	return errors.Join(errs...)
}

// notionID reports whether s is a Notion id: 32 hex digits, dashes allowed.
func notionID(s string) bool {
	s = strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Campaign holds the constants the legacy code hard-coded.
type Campaign struct {
	Deadline       string `env:"CAMPAIGN_DEADLINE"`
	DeadlineLabel  string `env:"CAMPAIGN_DEADLINE_LABEL"`
	BookingLink    string `env:"CAMPAIGN_BOOKING_LINK"`
	ResultsLink    string `env:"CAMPAIGN_RESULTS_LINK"`
	SpotsRemaining string `env:"CAMPAIGN_SPOTS_REMAINING"`
	BookingsCount  string `env:"CAMPAIGN_BOOKINGS_COUNT"`
}

// TestingUnclear reports a TESTING_MODE value that is neither true nor
// false, which the legacy rule reads as false: worth a warning.
func (c *Config) TestingUnclear() bool {
	v := strings.ToLower(strings.TrimSpace(c.TestingRaw))
	return v != "true" && v != "false" && v != ""
}

// Testing reports TESTING_MODE the legacy way: only "true", any case.
func (c *Config) Testing() bool { return strings.EqualFold(strings.TrimSpace(c.TestingRaw), "true") }

// DataFile is the path of the bbolt file.
func (c *Config) DataFile() string { return filepath.Join(c.DataDir, "perfect.db") }

// Windows parses SEND_WINDOWS: "flow=HH:MM-HH:MM,flow2=...".
func (c *Config) Windows() (map[string]flows.Window, error) {
	out := map[string]flows.Window{}
	for _, part := range strings.Split(c.SendWindows, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, spec, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("SEND_WINDOWS: want flow=HH:MM-HH:MM, got %q", part)
		}
		if _, known := flows.ByName(strings.TrimSpace(name)); !known {
			return nil, fmt.Errorf("SEND_WINDOWS: unknown flow %q", name)
		}
		w, err := flows.ParseWindow(spec)
		if err != nil {
			return nil, fmt.Errorf("SEND_WINDOWS: %w", err)
		}
		out[strings.TrimSpace(name)] = w
	}
	return out, nil
}

// Lateness parses MAX_LATENESS into per-flow limits. A bare duration
// applies to every nurture flow; onboarding (transactional) never expires.
func (c *Config) Lateness() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	spec := strings.TrimSpace(c.MaxLateness)
	if spec == "" {
		return out, nil
	}
	if d, err := time.ParseDuration(spec); err == nil {
		if d < 0 {
			return nil, fmt.Errorf("MAX_LATENESS must not be negative, got %q", spec)
		}
		for _, f := range flows.All() {
			if f.Nurture {
				out[f.Name] = d
			}
		}
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		f, known := flows.ByName(strings.TrimSpace(name))
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case !ok || err != nil || d < 0:
			return nil, fmt.Errorf("MAX_LATENESS: want a duration or flow=duration, got %q", part)
		case !known:
			return nil, fmt.Errorf("MAX_LATENESS: unknown flow %q", name)
		case f.Transactional && d > 0:
			return nil, fmt.Errorf("MAX_LATENESS: %s is transactional and never expires", name)
		}
		out[f.Name] = d
	}
	return out, nil
}

// Location is DEFAULT_TIMEZONE.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.DefaultTimezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// BaseURL is where links in emails point: PUBLIC_URL, or the local port.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return fmt.Sprintf("http://localhost:%d", c.Port)
}

// NotionEnabled reports whether Notion is configured.
func (c *Config) NotionEnabled() bool { return c.Notion.Token != "" }

// Load reads the configuration from environ (os.Environ form). Errors name
// the variable at fault in one line.
func Load(environ []string) (*Config, error) {
	vars, err := withFiles(environ)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		return nil, fmt.Errorf("configuration: %s", oneLine(parseError(err, vars)))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &c, nil
}

// withFiles turns the environment into a map and resolves NAME_FILE: when
// NAME is unset, the file's content (trailing newline trimmed) becomes NAME.
func withFiles(environ []string) (map[string]string, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	known := Names()
	for k, path := range vars {
		name, ok := strings.CutSuffix(k, "_FILE")
		if !ok || !known[name] || path == "" || vars[name] != "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("configuration: %s: %w", k, err)
		}
		vars[name] = strings.TrimRight(string(b), "\r\n")
	}
	return vars, nil
}

// parseError rewrites the env library's errors, which name Go fields, to
// name the variable and its value instead.
func parseError(err error, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	byField := fieldNames()
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := byField[pe.Name]
			out = append(out, fmt.Errorf("%s=%q is not a valid %s", name, vars[name], pe.Type))
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// fieldNames maps Go field names to their variable names.
func fieldNames() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
				walk(f.Type)
				continue
			}
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				out[f.Name] = name
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return out
}

// Names returns every variable the configuration reads.
func Names() map[string]bool {
	names := map[string]bool{}
	for _, n := range fieldNames() {
		names[n] = true
	}
	return names
}

func (c *Config) validate() error {
	var errs []error
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be 1-65535, got %d", c.Port))
	}
	if c.ResendRate <= 0 {
		errs = append(errs, fmt.Errorf("RESEND_RATE_LIMIT must be > 0, got %v", c.ResendRate))
	}
	if c.Notion.Rate <= 0 {
		errs = append(errs, fmt.Errorf("NOTION_RATE_LIMIT must be > 0, got %v", c.Notion.Rate))
	}
	if err := c.Notion.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BatchMin < 0 || c.BatchMin == 1 {
		errs = append(errs, fmt.Errorf("SEND_BATCH_MIN must be 0 (off) or at least 2, got %d", c.BatchMin))
	}
	if c.Workers <= 0 {
		errs = append(errs, fmt.Errorf("SEND_CONCURRENCY must be > 0, got %d", c.Workers))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("MAX_BODY_BYTES must be at least 1024, got %d", c.MaxBodyBytes))
	}
	if c.WebhookRate < 0 || c.WebhookBurst < 1 {
		errs = append(errs, fmt.Errorf("WEBHOOK_RATE_LIMIT must be >= 0 and WEBHOOK_RATE_BURST >= 1"))
	}
	if c.BoltTimeout <= 0 {
		errs = append(errs, fmt.Errorf("BOLT_OPEN_TIMEOUT must be > 0, got %s", c.BoltTimeout))
	}
	for name, v := range map[string]string{"RESEND_BASE_URL": c.ResendBaseURL,
		"NOTION_BASE_URL": c.Notion.BaseURL, "DISCORD_WEBHOOK_URL": c.DiscordURL, "PUBLIC_URL": c.PublicURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s must be an http(s) URL, got %q", name, v))
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("RETENTION must be 0 (keep) or a positive duration, got %s", c.Retention))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("SEND_MAX_ATTEMPTS must be at least 1, got %d", c.MaxAttempts))
	}
	if c.UnsubscribeTTL <= 0 {
		errs = append(errs, fmt.Errorf("UNSUBSCRIBE_TOKEN_TTL must be > 0, got %s", c.UnsubscribeTTL))
	}
	if _, err := mail.ParseAddress(c.EmailFrom); err != nil {
		errs = append(errs, fmt.Errorf("EMAIL_FROM must be an address such as \"Name <sender@example.com>\", got %q", c.EmailFrom))
	}
	if c.EmailReplyTo != "" {
		if _, err := mail.ParseAddress(c.EmailReplyTo); err != nil {
			errs = append(errs, fmt.Errorf("EMAIL_REPLY_TO must be an address, got %q", c.EmailReplyTo))
		}
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be text or json, got %q", c.LogFormat))
	}
	if c.Campaign.Deadline != "" {
		if _, err := time.Parse(time.RFC3339, c.Campaign.Deadline); err != nil {
			if _, err := time.Parse(time.DateOnly, c.Campaign.Deadline); err != nil {
				errs = append(errs, fmt.Errorf("CAMPAIGN_DEADLINE must be a date (2025-12-05) or RFC 3339 time, got %q", c.Campaign.Deadline))
			}
		}
	}
	if _, err := time.LoadLocation(c.DefaultTimezone); err != nil {
		errs = append(errs, fmt.Errorf("DEFAULT_TIMEZONE must be an IANA zone such as America/Toronto, got %q", c.DefaultTimezone))
	}
	if _, err := time.LoadLocation(c.AdminTimezone); err != nil {
		errs = append(errs, fmt.Errorf("ADMIN_TIMEZONE must be an IANA zone such as America/Toronto, got %q", c.AdminTimezone))
	}
	if _, err := c.Lateness(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Windows(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.New(oneLine(errors.Join(errs...)))
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
