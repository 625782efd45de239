package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"perfect/internal/config"
	"perfect/internal/engine"
	"perfect/internal/httpapi"
	"perfect/store"
)

// QueueCmd groups the queue subcommands. They talk to a running server
// (PERFECT_URL, ADMIN_TOKEN) and fall back to the data file when no server
// answers.
type QueueCmd struct {
	Ls         QueueLsCmd         `cmd:"" help:"List planned, sent, failed and cancelled emails."`
	Show       QueueShowCmd       `cmd:"" help:"Show one email with its rendered body and history."`
	Cancel     QueueCancelCmd     `cmd:"" help:"Cancel one email, or every unsent email of a contact."`
	Retry      QueueRetryCmd      `cmd:"" help:"Plan a failed email again, due now."`
	SendNow    QueueSendNowCmd    `cmd:"send-now" help:"Make a planned or failed email due now."`
	Reschedule QueueRescheduleCmd `cmd:"" help:"Move a planned or failed email to another time."`
}

// QueueLsCmd lists steps.
type QueueLsCmd struct {
	Email  string `help:"Only this contact."`
	Status string `help:"planned, sending, sent, failed, cancelled, outbox or expired."`
	Flow   string `help:"Only this flow (e.g. christmas-signup-handler)."`
	RunID  string `name:"run" help:"Only this run id."`
	After  string `help:"Page after this step id."`
	Limit  int    `default:"100" help:"At most this many rows (1-1000)."`
	JSON   bool   `name:"json" help:"Print JSON."`
	Outbox bool   `help:"List the outbox of tracking writes instead."`
}

// QueueShowCmd shows one step.
type QueueShowCmd struct {
	ID   string `arg:"" help:"Step id."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// QueueCancelCmd cancels steps.
type QueueCancelCmd struct {
	ID     string `arg:"" optional:"" help:"Step id."`
	Email  string `help:"Cancel every unsent email of this contact."`
	Reason string `default:"cancelled from the CLI" help:"Reason recorded with the cancellation."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// QueueRetryCmd retries a failed step.
type QueueRetryCmd struct {
	ID   string `arg:"" help:"Step id."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// QueueSendNowCmd makes a step due now.
type QueueSendNowCmd struct {
	ID   string `arg:"" help:"Step id."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// QueueRescheduleCmd moves a step.
type QueueRescheduleCmd struct {
	ID   string `arg:"" help:"Step id."`
	At   string `required:"" help:"New due time, RFC 3339 (2026-12-24T09:00:00Z)."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// queueClient reaches the queue over HTTP, or through the file.
type queueClient struct {
	base  string
	token string
	hc    *http.Client
	cfg   *config.Config
}

func newQueueClient(e *env) (*queueClient, error) {
	cfg, err := config.Load(e.environ)
	if err != nil {
		return nil, exitError{code: 2, msg: err.Error()}
	}
	base := lookup(e.environ, "PERFECT_URL")
	if base == "" {
		base = fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
	}
	c := &queueClient{base: strings.TrimRight(base, "/"), token: cfg.AdminToken,
		hc: &http.Client{Timeout: 10 * time.Second}, cfg: cfg}
	if err := c.sameFile(e); err != nil {
		return nil, err
	}
	return c, nil
}

func lookup(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// sameFile checks that the server at PERFECT_URL keeps the data file this
// command was pointed at (PERFECT_DATA_DIR), so a command never reads or
// copies another service's queue by mistake. Without PERFECT_DATA_DIR set
// explicitly, any server is accepted.
func (c *queueClient) sameFile(e *env) error {
	if lookup(e.environ, "PERFECT_DATA_DIR") == "" {
		return nil
	}
	var h struct {
		Engine struct {
			DataFile string `json:"data_file"`
		} `json:"engine"`
	}
	req, err := http.NewRequest(http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil // the request that follows reports an unreachable server
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&h) != nil || h.Engine.DataFile == "" {
		return nil
	}
	want, _ := filepath.Abs(c.cfg.DataFile())
	if got, _ := filepath.Abs(h.Engine.DataFile); got != want && h.Engine.DataFile != c.cfg.DataFile() {
		return exitError{code: 1, msg: fmt.Sprintf("the server at %s keeps %s, not %s (PERFECT_DATA_DIR): "+
			"set PERFECT_URL to the right server, or stop it to use the file directly", c.base, h.Engine.DataFile, want)}
	}
	return nil
}

// errNoServer means nothing listened at PERFECT_URL.
var errNoServer = errors.New("no server")

func (c *queueClient) call(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return errNoServer
		}
		return fmt.Errorf("reach %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(data, []byte("starting")) {
		return fmt.Errorf("server at %s is starting (data file not open yet)", c.base)
	}
	if resp.StatusCode/100 != 2 {
		var d struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(data, &d)
		if d.Detail == "" {
			d.Detail = strings.TrimSpace(string(data))
		}
		return exitError{code: 1, msg: fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, d.Detail)}
	}
	return json.Unmarshal(data, out)
}

// withFile opens the data file when no server answered. Actions need the
// write lock; listing can share the file with another reader.
func (c *queueClient) withFile(write bool, fn func(db *store.DB, eng *engine.Engine) error) error {
	db, err := store.Open(c.cfg.DataFile(), store.Options{Timeout: 2 * time.Second, ReadOnly: !write})
	if errors.Is(err, store.ErrLocked) {
		return exitError{code: 1, msg: fmt.Sprintf(
			"no server answers at %s and the data file %s is locked by another process", c.base, c.cfg.DataFile())}
	}
	if err != nil {
		if _, statErr := os.Stat(c.cfg.DataFile()); errors.Is(statErr, os.ErrNotExist) {
			return exitError{code: 1, msg: fmt.Sprintf(
				"no server answers at %s and there is no data file at %s", c.base, c.cfg.DataFile())}
		}
		return exitError{code: 1, msg: err.Error()}
	}
	defer db.Close()
	return fn(db, engine.New(engine.Config{DB: db}))
}

// Run lists steps.
func (q QueueLsCmd) Run(e *env) error {
	c, err := newQueueClient(e)
	if err != nil {
		return err
	}
	if q.Outbox {
		return q.runOutbox(e, c)
	}
	v := url.Values{}
	for k, val := range map[string]string{"email": q.Email, "status": q.Status, "flow": q.Flow,
		"run_id": q.RunID, "after": q.After} {
		if val != "" {
			v.Set(k, val)
		}
	}
	v.Set("limit", fmt.Sprint(q.Limit))
	var out struct {
		Steps []httpapi.StepView `json:"steps"`
	}
	err = c.call(http.MethodGet, "/admin/api/steps?"+v.Encode(), nil, &out)
	if errors.Is(err, errNoServer) {
		err = c.withFile(false, func(db *store.DB, _ *engine.Engine) error {
			st := store.Status(q.Status)
			if st != "" && !st.Valid() {
				return exitError{code: 2, msg: fmt.Sprintf("unknown status %q", q.Status)}
			}
			steps, err := db.List(store.Filter{Email: q.Email, Status: st, Flow: q.Flow,
				RunID: q.RunID, After: q.After, Limit: q.Limit})
			for _, s := range steps {
				out.Steps = append(out.Steps, httpapi.View(s))
			}
			return err
		})
	}
	if err != nil {
		return err
	}
	if out.Steps == nil {
		out.Steps = []httpapi.StepView{}
	}
	if q.JSON {
		return printJSON(e.stdout, out.Steps)
	}
	printSteps(e.stdout, out.Steps)
	if len(out.Steps) == q.Limit && q.Limit > 0 {
		fmt.Fprintf(e.stdout, "more may follow: --after %s (or --limit up to 1000)\n", out.Steps[len(out.Steps)-1].ID)
	}
	return nil
}

func (q QueueLsCmd) runOutbox(e *env, c *queueClient) error {
	var out struct {
		Items []store.OutboxItem `json:"items"`
	}
	err := c.call(http.MethodGet, "/admin/api/outbox", nil, &out)
	if errors.Is(err, errNoServer) {
		err = c.withFile(false, func(db *store.DB, _ *engine.Engine) error {
			var err error
			out.Items, err = db.ListOutbox(q.Limit)
			return err
		})
	}
	if err != nil {
		return err
	}
	if q.JSON {
		if out.Items == nil {
			out.Items = []store.OutboxItem{}
		}
		return printJSON(e.stdout, out.Items)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNEXT\tATTEMPTS\tSTATE\tLAST ERROR")
	for _, it := range out.Items {
		state := "pending"
		if it.Parked {
			state = "parked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.Kind, it.NextAt.Format(time.RFC3339),
			it.Attempts, state, oneLineErr(it.LastError))
	}
	return tw.Flush()
}

func printSteps(w io.Writer, steps []httpapi.StepView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFLOW\tEMAIL\tTEMPLATE\tDUE\tSTATUS\tATTEMPTS\tNOTE")
	for _, s := range steps {
		note := s.LastError
		if s.CancelReason != "" {
			note = s.CancelReason
		}
		if s.ProviderID != "" {
			note = "resend " + s.ProviderID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Flow, s.Email, s.Template,
			s.DueAt.Format(time.RFC3339), s.Status, s.Attempts, oneLineErr(note))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d email(s)\n", len(steps))
}

func oneLineErr(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Run shows a step.
func (q QueueShowCmd) Run(e *env) error {
	c, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out struct {
		Step store.Step `json:"step"`
		Run  store.Run  `json:"run"`
	}
	err = c.call(http.MethodGet, "/admin/api/steps/"+url.PathEscape(q.ID), nil, &out)
	if errors.Is(err, errNoServer) {
		err = c.withFile(false, func(db *store.DB, _ *engine.Engine) error {
			var err error
			if out.Step, err = db.GetStep(q.ID); err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			out.Run, err = db.GetRun(out.Step.RunID)
			return err
		})
	}
	if err != nil {
		return err
	}
	if q.JSON {
		return printJSON(e.stdout, out)
	}
	s := out.Step
	fmt.Fprintf(e.stdout, "step      %s\nrun       %s (%s, created %s)\nto        %s\ntemplate  %s (email %d)\n",
		s.ID, s.RunID, s.Flow, out.Run.CreatedAt.Format(time.RFC3339), s.Email, s.Template, s.EmailNumber)
	fmt.Fprintf(e.stdout, "due       %s\nstatus    %s (attempts %d)\n", s.DueAt.Format(time.RFC3339), s.Status, s.Attempts)
	switch {
	case s.SentAt != nil && s.Status == store.StatusOutbox:
		fmt.Fprintf(e.stdout, "recorded  %s  (outbox mode: not sent)\n", s.SentAt.Format(time.RFC3339))
	case s.SentAt != nil:
		fmt.Fprintf(e.stdout, "sent      %s  provider id %s\n", s.SentAt.Format(time.RFC3339), s.ProviderID)
	}
	if s.LastError != "" {
		fmt.Fprintf(e.stdout, "error     %s\n", s.LastError)
	}
	for _, h := range s.History {
		fmt.Fprintf(e.stdout, "history   %s %s by %s %s\n", h.At.Format(time.RFC3339), h.Action, h.By, h.Reason)
	}
	if r := s.Rendered; r != nil {
		fmt.Fprintf(e.stdout, "\nFrom: %s\nTo: %s\nSubject: %s\n\n%s\n", r.From, r.To, r.Subject, r.Text)
	}
	return nil
}

// stepAction runs an admin action over HTTP or on the file.
func stepAction(e *env, jsonOut bool, path string, body any,
	direct func(db *store.DB, eng *engine.Engine, now time.Time) (store.Step, error)) error {
	c, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out httpapi.StepView
	err = c.call(http.MethodPost, path, body, &out)
	if errors.Is(err, errNoServer) {
		err = c.withFile(true, func(db *store.DB, eng *engine.Engine) error {
			s, err := direct(db, eng, time.Now().UTC())
			if err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			out = httpapi.View(s)
			return nil
		})
	}
	if err != nil {
		return err
	}
	if jsonOut {
		return printJSON(e.stdout, out)
	}
	printSteps(e.stdout, []httpapi.StepView{out})
	return nil
}

const cliActor = "cli"

// Run cancels a step or a contact's steps.
func (q QueueCancelCmd) Run(e *env) error {
	switch {
	case q.ID == "" && q.Email == "":
		return exitError{code: 2, msg: "queue cancel needs a step id or --email"}
	case q.ID != "" && q.Email != "":
		return exitError{code: 2, msg: "queue cancel takes a step id or --email, not both"}
	case q.ID != "":
		return stepAction(e, q.JSON, "/admin/api/steps/"+url.PathEscape(q.ID)+"/cancel",
			map[string]string{"reason": q.Reason, "by": cliActor},
			func(db *store.DB, _ *engine.Engine, now time.Time) (store.Step, error) {
				return db.CancelStep(q.ID, cliActor, q.Reason, now)
			})
	}
	c, err := newQueueClient(e)
	if err != nil {
		return err
	}
	var out struct {
		Cancelled []httpapi.StepView `json:"cancelled"`
	}
	err = c.call(http.MethodPost, "/admin/api/contacts/cancel",
		map[string]string{"email": q.Email, "reason": q.Reason, "by": cliActor}, &out)
	if errors.Is(err, errNoServer) {
		err = c.withFile(true, func(db *store.DB, _ *engine.Engine) error {
			steps, err := db.CancelMatching(q.Email, func(store.Step) bool { return true },
				cliActor, q.Reason, time.Now().UTC())
			for _, s := range steps {
				out.Cancelled = append(out.Cancelled, httpapi.View(s))
			}
			return err
		})
	}
	if err != nil {
		return err
	}
	if q.JSON {
		if out.Cancelled == nil {
			out.Cancelled = []httpapi.StepView{}
		}
		return printJSON(e.stdout, out.Cancelled)
	}
	printSteps(e.stdout, out.Cancelled)
	return nil
}

// Run retries a failed step.
func (q QueueRetryCmd) Run(e *env) error {
	return stepAction(e, q.JSON, "/admin/api/steps/"+url.PathEscape(q.ID)+"/retry",
		map[string]string{"by": cliActor},
		func(_ *store.DB, eng *engine.Engine, now time.Time) (store.Step, error) {
			return eng.Requeue(q.ID, cliActor, "retry", now, store.StatusFailed)
		})
}

// Run makes a step due now.
func (q QueueSendNowCmd) Run(e *env) error {
	return stepAction(e, q.JSON, "/admin/api/steps/"+url.PathEscape(q.ID)+"/send-now",
		map[string]string{"by": cliActor},
		func(_ *store.DB, eng *engine.Engine, now time.Time) (store.Step, error) {
			return eng.Requeue(q.ID, cliActor, "send-now", now, store.StatusPlanned, store.StatusFailed)
		})
}

// Run moves a step.
func (q QueueRescheduleCmd) Run(e *env) error {
	at, err := time.Parse(time.RFC3339, q.At)
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("--at must be RFC 3339, got %q", q.At)}
	}
	return stepAction(e, q.JSON, "/admin/api/steps/"+url.PathEscape(q.ID)+"/reschedule",
		map[string]string{"by": cliActor, "due_at": at.UTC().Format(time.RFC3339)},
		func(_ *store.DB, eng *engine.Engine, now time.Time) (store.Step, error) {
			return eng.Reschedule(q.ID, cliActor, at, now)
		})
}
