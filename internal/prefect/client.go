// Package prefect talks to a Prefect 3 server or Prefect Cloud: it reads
// the legacy deployments and Secret blocks and creates flow runs on them.
// Its Backend is the Prefect implementation of engine.Trigger, so a flow
// can be handed to Prefect by configuration (FLOW_BACKENDS), and its flow
// runs are created from perfect's durable outbox, never on a request path.
package prefect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is PREFECT_API_URL, e.g. https://prefect.example.com/api or
	// https://api.prefect.cloud/api/accounts/<a>/workspaces/<w>.
	BaseURL string
	// APIKey is PREFECT_API_KEY, sent as a bearer token (Prefect Cloud).
	APIKey string
	// AuthString is PREFECT_API_AUTH_STRING, "user:pass", sent as basic
	// auth (self-hosted server with basic auth).
	AuthString string
	// HTTP is the client used; nil builds one with Timeout.
	HTTP *http.Client
	// Timeout bounds one HTTP attempt (default 15 s).
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is repeated at once
	// (default 2; negative means none).
	MaxRetries int
	// RetryBase is the first backoff wait (default 500 ms), doubled per retry.
	RetryBase time.Duration
	// MaxInlineWait caps a wait spent inside one call (default 5 s). A
	// longer Retry-After is returned to the caller in the *Error instead.
	MaxInlineWait time.Duration
	// DeploymentTTL is how long a deployment read by name is cached
	// (default 5 min).
	DeploymentTTL time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// Client calls the Prefect REST API.
type Client struct {
	base    *url.URL
	auth    string
	http    *http.Client
	retries int
	backoff time.Duration
	maxWait time.Duration
	ttl     time.Duration
	log     *slog.Logger
	now     func() time.Time
	jitter  func() float64

	mu    sync.Mutex
	cache map[string]cachedDeployment
}

type cachedDeployment struct {
	d       Deployment
	expires time.Time
}

// NewClient checks the configuration and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("PREFECT_API_URL must be an http(s) URL, got %q", cfg.BaseURL)
	}
	if cfg.APIKey != "" && cfg.AuthString != "" {
		return nil, errors.New("set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (server), not both")
	}
	if cfg.AuthString != "" && !strings.Contains(cfg.AuthString, ":") {
		return nil, errors.New(`PREFECT_API_AUTH_STRING must be "user:password"`)
	}
	c := &Client{
		base: u, http: cfg.HTTP, retries: cfg.MaxRetries, backoff: cfg.RetryBase,
		maxWait: cfg.MaxInlineWait, ttl: cfg.DeploymentTTL, log: cfg.Logger, now: cfg.Now,
		jitter: rand.Float64, cache: map[string]cachedDeployment{},
	}
	switch {
	case cfg.APIKey != "":
		c.auth = "Bearer " + cfg.APIKey
	case cfg.AuthString != "":
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.AuthString))
	}
	c.setDefaults(cfg)
	return c, nil
}

func (c *Client) setDefaults(cfg ClientConfig) {
	if c.http == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 15 * time.Second
		}
		c.http = &http.Client{Timeout: timeout}
	}
	if c.retries == 0 {
		c.retries = 2
	}
	if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = 500 * time.Millisecond
	}
	if c.maxWait <= 0 {
		c.maxWait = 5 * time.Second
	}
	if c.ttl <= 0 {
		c.ttl = 5 * time.Minute
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
}

// BaseURL returns the API URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Health calls GET /health, which Prefect answers with true.
func (c *Client) Health(ctx context.Context) error {
	var ok bool
	if err := c.do(ctx, http.MethodGet, "/health", nil, true, &ok); err != nil {
		return err
	}
	if !ok {
		return errors.New("prefect health: server answered false")
	}
	return nil
}

// ReadDeploymentByName reads a deployment by its flow and deployment names.
// Answers are cached for the configured TTL; a 404 is not cached.
func (c *Client) ReadDeploymentByName(ctx context.Context, flow, deployment string) (Deployment, error) {
	key := flow + "/" + deployment
	if d, ok := c.cached(key); ok {
		return d, nil
	}
	var d Deployment
	path := "/deployments/name/" + url.PathEscape(flow) + "/" + url.PathEscape(deployment)
	if err := c.do(ctx, http.MethodGet, path, nil, true, &d); err != nil {
		return Deployment{}, err
	}
	if d.ID == "" {
		return Deployment{}, fmt.Errorf("prefect deployment %s: answer has no id", key)
	}
	c.mu.Lock()
	c.cache[key] = cachedDeployment{d: d, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
	return d, nil
}

func (c *Client) cached(key string) (Deployment, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || !c.now().Before(e.expires) {
		return Deployment{}, false
	}
	return e.d, true
}

// CreateFlowRun creates a flow run of a deployment. existed is true when
// Prefect answered 200 for an idempotency key it had seen: the run
// returned is the one created before, unchanged. A request without an
// idempotency key is never retried after it may have reached the server.
func (c *Client) CreateFlowRun(ctx context.Context, deploymentID string, in FlowRunCreate) (run FlowRun, existed bool, err error) {
	if in.Parameters == nil {
		in.Parameters = map[string]any{}
	}
	path := "/deployments/" + url.PathEscape(deploymentID) + "/create_flow_run"
	status, err := c.doStatus(ctx, http.MethodPost, path, in, in.IdempotencyKey != "", &run)
	if err != nil {
		return FlowRun{}, false, err
	}
	return run, status == http.StatusOK, nil
}

// ReadFlowRun reads one flow run.
func (c *Client) ReadFlowRun(ctx context.Context, id string) (FlowRun, error) {
	var run FlowRun
	err := c.do(ctx, http.MethodGet, "/flow_runs/"+url.PathEscape(id), nil, true, &run)
	return run, err
}

// SetFlowRunState proposes a state for a flow run.
func (c *Client) SetFlowRunState(ctx context.Context, id string, state StateCreate, force bool) (OrchestrationResult, error) {
	var res OrchestrationResult
	err := c.do(ctx, http.MethodPost, "/flow_runs/"+url.PathEscape(id)+"/set_state",
		SetState{State: state, Force: force}, true, &res)
	return res, err
}

// CancelFlowRun asks Prefect to cancel a flow run, as `prefect flow-run
// cancel` does. A scheduled run comes back REJECTed with a Cancelled state,
// which counts as cancelled (see OrchestrationResult.Cancelled).
func (c *Client) CancelFlowRun(ctx context.Context, id, message string) (OrchestrationResult, error) {
	msg := message
	return c.SetFlowRunState(ctx, id, StateCreate{Type: Cancelling, Name: "Cancelling", Message: &msg}, false)
}

// ReadSecret reads the value of a Secret block by name. A string comes back
// as is, a boolean as "true" or "false", anything else as compact JSON. A
// missing block is an error matching ErrNotFound.
func (c *Client) ReadSecret(ctx context.Context, name string) (string, error) {
	var doc BlockDocument
	path := "/block_types/slug/secret/block_documents/name/" + url.PathEscape(name) + "?include_secrets=true"
	if err := c.do(ctx, http.MethodGet, path, nil, true, &doc); err != nil {
		return "", err
	}
	raw, ok := doc.Data["value"]
	if !ok {
		return "", fmt.Errorf("prefect secret %s: block has no data.value", name)
	}
	return secretText(raw)
}

func secretText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if b {
			return "true", nil
		}
		return "false", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("decode secret value: %w", err)
	}
	return buf.String(), nil
}

func (c *Client) do(ctx context.Context, method, path string, in any, idempotent bool, out any) error {
	_, err := c.doStatus(ctx, method, path, in, idempotent, out)
	return err
}

// doStatus sends a request, retrying temporary failures with backoff, and
// decodes a 2xx body into out. It returns the final status code.
func (c *Client) doStatus(ctx context.Context, method, path string, in any, idempotent bool, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		status, err := c.once(ctx, method, path, body, out)
		if err == nil {
			return status, nil
		}
		wait, retry := c.retryWait(err, attempt, idempotent)
		if !retry || ctx.Err() != nil {
			return status, err
		}
		c.log.WarnContext(ctx, "prefect call will be retried", "method", method, "path", path,
			"attempt", attempt+1, "wait", wait.String(), "err", err)
		if err := sleep(ctx, wait); err != nil {
			return status, err
		}
	}
}

// retryWait decides whether to repeat a failed attempt at once and after
// how long. Network errors are repeated only for idempotent requests,
// because the server may have acted on the first one.
func (c *Client) retryWait(err error, attempt int, idempotent bool) (time.Duration, bool) {
	if attempt >= c.retries {
		return 0, false
	}
	wait := c.backoff << attempt
	wait = time.Duration(float64(wait) * (0.8 + 0.4*c.jitter()))
	if e := AsError(err); e != nil {
		if !e.Temporary() {
			return 0, false
		}
		// 429 and 503 mean the request was not processed; other 5xx might
		// have been, so they are repeated only with an idempotency key.
		if !idempotent && e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable {
			return 0, false
		}
		wait = max(wait, e.Wait)
	} else if !idempotent {
		return 0, false
	}
	if wait > c.maxWait {
		return 0, false
	}
	return wait, true
}

// once performs one HTTP attempt.
func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return 0, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prefect %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read prefect %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, newError(method, path, resp, data, c.now())
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode prefect %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
