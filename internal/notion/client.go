// Package notion reads and writes the Notion databases the business already
// uses: email templates, contacts, one sequence record per contact and
// sequence, and one analytics row per send attempt. Property names and types
// are those of the legacy system (legacy §6), kept exactly.
//
// Every call goes through one rate limiter and one retrying transport.
// Tracking writes are described by Ops, stored in a durable outbox by the
// caller and applied by a Drainer; each Op is idempotent, so applying it
// again after a lost answer never creates a second page.
package notion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jomei/notionapi"
	"golang.org/x/time/rate"
)

// Version is the Notion-Version every request carries.
const Version = "2022-06-28"

// Defaults of Config.
const (
	DefaultRatePerSecond = 3
	DefaultTimeout       = 30 * time.Second
	DefaultMaxAttempts   = 4
	DefaultMaxRetryWait  = 30 * time.Second
)

// Config configures a Client. Database ids may be empty; operations that
// need a missing one fail with ErrNotConfigured.
type Config struct {
	Token string `env:"NOTION_TOKEN"`
	// BaseURL replaces https://api.notion.com (scheme, host and an optional
	// path prefix), for tests and proxies.
	BaseURL string `env:"NOTION_BASE_URL"`

	TemplatesDB        string `env:"NOTION_EMAIL_TEMPLATES_DB_ID"`
	SequenceDB         string `env:"NOTION_EMAIL_SEQUENCE_DB_ID"`
	BusinessXDB        string `env:"NOTION_BUSINESSX_DB_ID"`
	AnalyticsDB        string `env:"NOTION_EMAIL_ANALYTICS_DB_ID"`
	CustomerProjectsDB string `env:"NOTION_CUSTOMER_PROJECTS_DB_ID"`
	ContactsDB         string `env:"NOTION_CONTACTS_DB_ID"`
	BXTemplatesDB      string `env:"NOTION_TEMPLATES_DB_ID"`

	// RatePerSecond is the average request rate shared by every call
	// (default 3, Notion's documented average).
	RatePerSecond float64 `env:"NOTION_RATE_PER_SECOND"`
	// Timeout bounds one HTTP attempt (default 30 s).
	Timeout time.Duration `env:"NOTION_TIMEOUT"`
	// MaxAttempts is the number of attempts per call for 429/503/529
	// answers (default 4). Set 1 to leave every retry to the outbox.
	MaxAttempts int
	// MaxRetryWait is the longest in-call wait for a retry (default 30 s);
	// a longer Retry-After is returned to the caller as *Error.RetryAfter.
	MaxRetryWait time.Duration
	// HTTPClient supplies the underlying transport (its Transport only).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Sleep waits between in-call retries; tests replace it. Nil waits on a
	// real timer.
	Sleep func(context.Context, time.Duration) error
}

// Client talks to Notion for templates and tracking.
type Client struct {
	cfg    Config
	api    *notionapi.Client
	logger *slog.Logger
}

// New builds a Client. It fails when the token is missing or the base URL
// is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("new notion client: NOTION_TOKEN is empty")
	}
	target, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new notion client: NOTION_BASE_URL: %w", err)
	}
	cfg = withDefaults(cfg)

	base := http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	}
	rt := &transport{
		base:           base,
		target:         target,
		limiter:        rate.NewLimiter(rate.Limit(cfg.RatePerSecond), burst(cfg.RatePerSecond)),
		logger:         cfg.Logger,
		attempts:       cfg.MaxAttempts,
		attemptTimeout: cfg.Timeout,
		maxWait:        cfg.MaxRetryWait,
		sleep:          cfg.Sleep,
	}
	// The overall deadline leaves room for every attempt and wait.
	overall := time.Duration(cfg.MaxAttempts) * (cfg.Timeout + cfg.MaxRetryWait)
	hc := &http.Client{Transport: rt, Timeout: overall}

	api := notionapi.NewClient(notionapi.Token(cfg.Token),
		notionapi.WithHTTPClient(hc),
		notionapi.WithVersion(Version),
		notionapi.WithRetry(1))
	return &Client{cfg: cfg, api: api, logger: cfg.Logger}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = DefaultRatePerSecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	return cfg
}

func burst(perSecond float64) int {
	return max(1, int(perSecond))
}

func parseBaseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	// notionapi adds /v1 itself.
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
	return u, nil
}

// Configured reports whether every database that ops of kind write to has
// an id, naming the missing variables otherwise. The engine can use it to
// avoid queuing writes that could never land.
func (c *Client) Configured(kind string) error {
	need, ok := dbsByKind[kind]
	if !ok {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidOp, kind)
	}
	var missing []string
	for _, env := range need {
		if c.dbID(env) == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not set", ErrNotConfigured, strings.Join(missing, ", "))
	}
	if anyOf := dbsAnyOfKind[kind]; len(anyOf) > 0 && !slices.ContainsFunc(anyOf, func(env string) bool {
		return c.dbID(env) != ""
	}) {
		return fmt.Errorf("%w: none of %s set", ErrNotConfigured, strings.Join(anyOf, ", "))
	}
	return nil
}

// Environment variable names of the databases.
const (
	envTemplates   = "NOTION_EMAIL_TEMPLATES_DB_ID"
	envSequence    = "NOTION_EMAIL_SEQUENCE_DB_ID"
	envBusinessX   = "NOTION_BUSINESSX_DB_ID"
	envAnalytics   = "NOTION_EMAIL_ANALYTICS_DB_ID"
	envContacts    = "NOTION_CONTACTS_DB_ID"
	envBXTemplates = "NOTION_TEMPLATES_DB_ID"
)

var dbsByKind = map[string][]string{
	KindChristmasAssessment: {envBusinessX, envSequence},
	KindSequenceStart:       {envSequence},
	KindBooking:             {envBusinessX},
	KindEmailSent:           {envSequence},
	KindAnalytics:           {envAnalytics},
	KindBXSignup:            {envContacts},
	KindBXAssessment:        {envContacts},
	KindUnsubscribe:         {},
}

// dbsAnyOfKind lists, for ops that write to whichever of several databases
// are configured, those databases: at least one must be.
var dbsAnyOfKind = map[string][]string{
	KindUnsubscribe: {envBusinessX, envContacts},
}

func (c *Client) dbID(env string) string {
	switch env {
	case envTemplates:
		return c.cfg.TemplatesDB
	case envSequence:
		return c.cfg.SequenceDB
	case envBusinessX:
		return c.cfg.BusinessXDB
	case envAnalytics:
		return c.cfg.AnalyticsDB
	case envContacts:
		return c.cfg.ContactsDB
	case envBXTemplates:
		return c.cfg.BXTemplatesDB
	}
	return ""
}

// db returns the id of a database or ErrNotConfigured naming its variable.
func (c *Client) db(env string) (string, error) {
	id := c.dbID(env)
	if id == "" {
		return "", fmt.Errorf("%w: %s not set", ErrNotConfigured, env)
	}
	return id, nil
}

// maxQueryPages bounds how many result pages one lookup reads; lookups are
// by key and match a handful of pages at most.
const maxQueryPages = 10

// query returns the pages of db matching filter (archived pages excluded
// by Notion).
func (c *Client) query(ctx context.Context, db string, filter notionapi.Filter) ([]notionapi.Page, error) {
	var out []notionapi.Page
	req := &notionapi.DatabaseQueryRequest{Filter: filter, PageSize: 100}
	for range maxQueryPages {
		callCtx, info := withCallInfo(ctx)
		resp, err := c.api.Database.Query(callCtx, notionapi.DatabaseID(db), req)
		if err != nil {
			return nil, wrapCall("query database", info, err)
		}
		out = append(out, resp.Results...)
		if !resp.HasMore || resp.NextCursor == "" {
			break
		}
		req.StartCursor = resp.NextCursor
	}
	return out, nil
}

func (c *Client) create(ctx context.Context, db string, props notionapi.Properties) (*notionapi.Page, error) {
	callCtx, info := withCallInfo(ctx)
	page, err := c.api.Page.Create(callCtx, &notionapi.PageCreateRequest{
		Parent:     notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: notionapi.DatabaseID(db)},
		Properties: props,
	})
	return page, wrapCall("create page", info, err)
}

func (c *Client) update(ctx context.Context, id notionapi.ObjectID, props notionapi.Properties) error {
	if len(props) == 0 {
		return nil
	}
	callCtx, info := withCallInfo(ctx)
	_, err := c.api.Page.Update(callCtx, notionapi.PageID(id), &notionapi.PageUpdateRequest{Properties: props})
	return wrapCall("update page", info, err)
}

// textFilter adds the filter keys notionapi.PropertyFilter lacks.
type textFilter struct {
	notionapi.PropertyFilter
	Email *notionapi.TextFilterCondition `json:"email,omitempty"`
	Title *notionapi.TextFilterCondition `json:"title,omitempty"`
}

// emailFilter matches prop against the address as given and lower-cased:
// lookups use the normalized address, and pages written before
// normalization keep their original case.
func emailFilter(prop, email string) notionapi.Filter {
	variants := emailVariants(email)
	if len(variants) == 1 {
		return textFilter{PropertyFilter: notionapi.PropertyFilter{Property: prop},
			Email: &notionapi.TextFilterCondition{Equals: variants[0]}}
	}
	or := notionapi.OrCompoundFilter{}
	for _, v := range variants {
		or = append(or, textFilter{PropertyFilter: notionapi.PropertyFilter{Property: prop},
			Email: &notionapi.TextFilterCondition{Equals: v}})
	}
	return or
}

func emailVariants(email string) []string {
	email = strings.TrimSpace(email)
	lower := strings.ToLower(email)
	if lower == email {
		return []string{lower}
	}
	return []string{lower, email}
}

func titleFilter(prop, value string) notionapi.Filter {
	return textFilter{PropertyFilter: notionapi.PropertyFilter{Property: prop},
		Title: &notionapi.TextFilterCondition{Equals: value}}
}

func richTextFilter(prop, value string) notionapi.Filter {
	return notionapi.PropertyFilter{Property: prop, RichText: &notionapi.TextFilterCondition{Equals: value}}
}

func numberFilter(prop string, value float64) notionapi.Filter {
	return notionapi.PropertyFilter{Property: prop, Number: &notionapi.NumberFilterCondition{Equals: &value}}
}

// selectFilter matches a select's option; an empty value matches an unset
// select.
func selectFilter(prop, value string) notionapi.Filter {
	cond := &notionapi.SelectFilterCondition{Equals: value}
	if value == "" {
		cond = &notionapi.SelectFilterCondition{IsEmpty: true}
	}
	return notionapi.PropertyFilter{Property: prop, Select: cond}
}

// maskEmail keeps the first letter and the domain: j***@example.com.
func maskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return "***"
	}
	_, first := utf8.DecodeRuneInString(email)
	return email[:first] + "***" + email[at:]
}
