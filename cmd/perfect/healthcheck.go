package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"perfect/internal/config"
)

// HealthcheckCmd probes the local server, for container health checks in
// images without curl.
type HealthcheckCmd struct {
	URL     string        `help:"Health URL (default http://127.0.0.1:$PORT/health)."`
	Timeout time.Duration `default:"3s" help:"Request timeout."`
}

// Run exits 0 on a 200 answer and 1 otherwise.
func (h HealthcheckCmd) Run(e *env) error {
	url := h.URL
	if url == "" {
		cfg, err := config.Load(e.environ)
		if err != nil {
			return exitError{code: 2, msg: err.Error()}
		}
		url = fmt.Sprintf("http://127.0.0.1:%d/health", cfg.Port)
	}
	ctx, cancel := context.WithTimeout(e.ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return exitError{code: 1, msg: "unhealthy: " + err.Error()}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return exitError{code: 1, msg: fmt.Sprintf("unhealthy: %s answered %d", url, resp.StatusCode)}
	}
	fmt.Fprintln(e.stdout, "healthy")
	return nil
}
