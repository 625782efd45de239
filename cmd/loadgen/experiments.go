package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runner holds the settings shared by the experiments.
type runner struct {
	perfect     string
	python      string
	baselineDir string
	work        string
	log         *slog.Logger

	rate     float64
	rateFor  time.Duration
	maxFor   time.Duration
	conns    int
	inFlight int

	latenessSteps  int
	latenessWindow time.Duration
	presize        int64
	bigSteps       int
	drainEmails    int
	drainTimeout   time.Duration
}

// startPerfect starts `perfect serve` on a free port with its data in
// dataDir; extra are more environment variables. Webhook rate limiting is
// off (every request comes from 127.0.0.1); fsync on commit stays on.
func (r *runner) startPerfect(name, dataDir string, extra ...string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	env := append([]string{"PORT=" + strconv.Itoa(port), "PERFECT_DATA_DIR=" + dataDir,
		"WEBHOOK_RATE_LIMIT=0"}, extra...)
	p, err := startProc(name, r.work, filepath.Join(r.work, name+".log"), env, r.perfect, "serve")
	if err != nil {
		return nil, "", err
	}
	return p, fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

// startBaseline starts the FastAPI baseline under uvicorn with two
// workers, as the old image ran the server.
func (r *runner) startBaseline(name string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc(name, r.baselineDir, filepath.Join(r.work, name+".log"), []string{"PYTHONDONTWRITEBYTECODE=1"},
		r.python, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--workers", "2")
	if err != nil {
		return nil, "", err
	}
	return p, fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

// target starts one of the two servers under test.
type target struct {
	name  string
	start func() (*proc, string, error)
}

func (r *runner) targets(tag string) []target {
	return []target{
		{"perfect", func() (*proc, string, error) {
			return r.startPerfect("perfect-"+tag, filepath.Join(r.work, tag+"-data"))
		}},
		{"baseline", func() (*proc, string, error) { return r.startBaseline("baseline-" + tag) }},
	}
}

// IdleResult is start-up time and idle memory of one server.
type IdleResult struct {
	Target  string        `json:"target"`
	Healthy time.Duration `json:"healthy_ns"`
	Memory  Memory        `json:"memory"`
}

// idle starts each server on nothing, waits until it is healthy and then
// 5 s more, and reads its resident memory.
func (r *runner) idle(ctx context.Context) ([]IdleResult, error) {
	var out []IdleResult
	for _, t := range r.targets("idle") {
		p, url, err := t.start()
		if err != nil {
			return nil, err
		}
		res, err := func() (IdleResult, error) {
			defer p.stop()
			healthy, err := p.waitHealthy(url+"/health", 30*time.Second)
			if err != nil {
				return IdleResult{}, err
			}
			if err := sleepCtx(ctx, 5*time.Second); err != nil {
				return IdleResult{}, err
			}
			mem, err := p.memory()
			return IdleResult{Target: t.name, Healthy: healthy, Memory: mem}, err
		}()
		if err != nil {
			return nil, err
		}
		r.log.Info("idle", "target", t.name, "healthy", res.Healthy, "memory", res.Memory.String())
		out = append(out, res)
	}
	return out, nil
}

// IntakeResult is the load run of one server.
type IntakeResult struct {
	Target string     `json:"target"`
	Fixed  LoadResult `json:"fixed"`
	Max    LoadResult `json:"max"`
	// Planned is the planned steps perfect reports afterwards (4 per
	// accepted signup); -1 for the baseline, which stores nothing.
	Planned  int    `json:"planned"`
	Accepted int    `json:"accepted"`
	Memory   Memory `json:"memory_after"`
}

// intake runs the same load against each server, one after the other:
// a warm-up, the fixed rate, then maximum throughput.
func (r *runner) intake(ctx context.Context) ([]IntakeResult, error) {
	var out []IntakeResult
	tag := strconv.FormatInt(time.Now().Unix(), 36)
	for _, t := range r.targets("intake") {
		p, url, err := t.start()
		if err != nil {
			return nil, err
		}
		res, err := func() (IntakeResult, error) {
			defer p.stop()
			if _, err := p.waitHealthy(url+"/health", 30*time.Second); err != nil {
				return IntakeResult{}, err
			}
			prefix := t.name + "-" + tag
			l := newLoader(t.name, url+"/webhook/christmas-signup", func(i int) []byte { return signupBody(prefix, i) },
				max(r.inFlight, r.conns))
			defer l.close()
			res := IntakeResult{Target: t.name, Planned: -1}
			warm := l.fixedRate(ctx, 100, 2*time.Second, 32)
			r.log.Info("warm-up", "result", warm.String())
			cpu := p.cpuTime()
			res.Fixed = l.fixedRate(ctx, r.rate, r.rateFor, r.inFlight)
			res.Fixed.CPU = p.cpuTime() - cpu
			r.log.Info("fixed rate", "result", res.Fixed.String())
			if err := sleepCtx(ctx, 2*time.Second); err != nil {
				return res, err
			}
			cpu = p.cpuTime()
			res.Max = l.maxRate(ctx, r.maxFor, r.conns)
			res.Max.CPU = p.cpuTime() - cpu
			r.log.Info("max", "result", res.Max.String())
			res.Accepted = warm.OK + res.Fixed.OK + res.Max.OK
			res.Memory, _ = p.memory()
			if t.name == "perfect" {
				planned, err := plannedSteps(url)
				if err != nil {
					return res, err
				}
				res.Planned = planned
			}
			return res, ctx.Err()
		}()
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// plannedSteps reads engine.steps.planned from perfect's /health.
func plannedSteps(base string) (int, error) {
	resp, err := http.Get(base + "/health")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		Engine struct {
			Steps map[string]int `json:"steps"`
		} `json:"engine"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, fmt.Errorf("decode /health: %w", err)
	}
	return h.Engine.Steps["planned"], nil
}

// LatenessResult is the dispatch lateness of many steps due close together.
type LatenessResult struct {
	Steps    int           `json:"steps"`
	Window   time.Duration `json:"window_ns"`
	Received int           `json:"received"`
	// Early counts emails that reached the fake before they were due.
	Early int           `json:"early"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
	Codes map[int]int   `json:"resend_codes"`
	// Batches counts requests to /emails/batch.
	Batches int    `json:"batches"`
	Memory  Memory `json:"memory_after"`
	// CPU is perfect's CPU time from just before the first due time to
	// the last arrival.
	CPU time.Duration `json:"server_cpu_ns"`
}

// lateness plans latenessSteps emails due evenly within latenessWindow,
// starts perfect against the fake Resend with its rate limit lifted, and
// measures, for each email, the time from its due time to the arrival of
// the first request that carried it.
func (r *runner) lateness(ctx context.Context) (LatenessResult, error) {
	n, window := r.latenessSteps, r.latenessWindow
	dir := filepath.Join(r.work, "lateness-data")
	t0 := time.Now().Add(20 * time.Second).Truncate(time.Second)
	seeds, err := seedSignups(filepath.Join(dir, "perfect.db"), "late", n, func(i int) time.Time {
		return t0.Add(-24*time.Hour + time.Duration(i)*window/time.Duration(n))
	})
	if err != nil {
		return LatenessResult{}, err
	}
	if r.presize > 0 {
		// Diagnostic: a data file already this large is mapped whole at
		// open, so bbolt never re-maps it while the run grows it.
		if err := os.Truncate(filepath.Join(dir, "perfect.db"), r.presize); err != nil {
			return LatenessResult{}, err
		}
	}
	fake, err := startFakeResend()
	if err != nil {
		return LatenessResult{}, err
	}
	defer fake.close()
	p, url, err := r.startPerfect("perfect-lateness", dir, "RESEND_API_KEY=re_bench",
		"RESEND_BASE_URL="+fake.URL, "RESEND_RATE_LIMIT=1000000")
	if err != nil {
		return LatenessResult{}, err
	}
	defer p.stop()
	if _, err := p.waitHealthy(url+"/health", 30*time.Second); err != nil {
		return LatenessResult{}, err
	}
	if time.Now().After(t0) {
		return LatenessResult{}, fmt.Errorf("perfect was healthy only after the first step was due; seed took too long")
	}
	r.log.Info("lateness: waiting", "steps", n, "first_due", t0.Format(time.RFC3339), "window", window)
	cpu := p.cpuTime()
	deadline := t0.Add(window + 3*time.Minute)
	for len(fake.arrivals()) < n && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return LatenessResult{}, err
		}
	}
	res := LatenessResult{Steps: n, Window: window, Codes: fake.statusCodes(), Batches: fake.batchRequests(),
		CPU: p.cpuTime() - cpu}
	res.Memory, _ = p.memory()
	arrived := fake.arrivals()
	var lats []time.Duration
	var csv strings.Builder
	csv.WriteString("due_unix_ms,lateness_ms\n")
	for _, s := range seeds {
		at, ok := arrived[s.Email]
		if !ok {
			continue
		}
		d := at.Sub(s.E2)
		if d < 0 {
			res.Early++
		}
		lats = append(lats, d)
		fmt.Fprintf(&csv, "%d,%.3f\n", s.E2.UnixMilli(), float64(d)/float64(time.Millisecond))
	}
	// Per-email lateness, for a look at when the slow ones fell due.
	if err := os.WriteFile(filepath.Join(r.work, "lateness.csv"), []byte(csv.String()), 0o644); err != nil {
		return res, err
	}
	slices.Sort(lats)
	res.Received = len(lats)
	res.P50, res.P90, res.P99 = quantile(lats, 0.5), quantile(lats, 0.9), quantile(lats, 0.99)
	if len(lats) > 0 {
		res.Max = lats[len(lats)-1]
	}
	r.log.Info("lateness", "received", res.Received, "p50", ms(res.P50), "p99", ms(res.P99), "max", ms(res.Max),
		"early", res.Early, "codes", res.Codes, "server_cpu", res.CPU)
	return res, nil
}

// BigResult is perfect on a data file of many planned steps.
type BigResult struct {
	Steps    int           `json:"steps"`
	Seed     time.Duration `json:"seed_ns"`
	FileSize int64         `json:"file_bytes"`
	Healthy  time.Duration `json:"healthy_ns"`
	// MemoryStart is read 2 s after healthy; MemoryEnd after the queries.
	MemoryStart Memory `json:"memory_start"`
	MemoryEnd   Memory `json:"memory_end"`
	// QueueLs is the wall time of `perfect queue ls --email` (a new process
	// that asks the running server), per run.
	QueueLsP50  time.Duration `json:"queue_ls_p50_ns"`
	QueueLsMax  time.Duration `json:"queue_ls_max_ns"`
	QueueLsRuns int           `json:"queue_ls_runs"`
	// API is GET /admin/api/steps?email= from a warm client.
	APIP50 time.Duration `json:"api_p50_ns"`
	APIP99 time.Duration `json:"api_p99_ns"`
}

// big seeds bigSteps planned steps (christmas signups of four emails, all
// due in the next days), starts perfect on the file and measures it.
func (r *runner) big(ctx context.Context) (BigResult, error) {
	dir := filepath.Join(r.work, "big-data")
	path := filepath.Join(dir, "perfect.db")
	runs := r.bigSteps / 4
	begin := time.Now()
	spread := 10 * time.Hour
	seeds, err := seedSignups(path, "big", runs, func(i int) time.Time {
		return begin.Add(-12*time.Hour + time.Duration(i)*spread/time.Duration(runs))
	})
	if err != nil {
		return BigResult{}, err
	}
	res := BigResult{Steps: runs * 4, Seed: time.Since(begin)}
	if fi, err := os.Stat(path); err == nil {
		res.FileSize = fi.Size()
	}
	r.log.Info("big store seeded", "steps", res.Steps, "took", res.Seed.Round(time.Millisecond), "bytes", res.FileSize)
	p, url, err := r.startPerfect("perfect-big", dir)
	if err != nil {
		return res, err
	}
	defer p.stop()
	if res.Healthy, err = p.waitHealthy(url+"/health", 60*time.Second); err != nil {
		return res, err
	}
	if planned, err := plannedSteps(url); err != nil || planned != res.Steps {
		return res, fmt.Errorf("perfect reports %d planned steps, want %d (%v)", planned, res.Steps, err)
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return res, err
	}
	res.MemoryStart, _ = p.memory()

	pick := func() string { return seeds[rand.IntN(len(seeds))].Email }
	var cli []time.Duration
	for range 20 {
		email := pick()
		start := time.Now()
		cmd := exec.CommandContext(ctx, r.perfect, "queue", "ls", "--email", email)
		// As an operator runs it beside the service: same data dir, so the
		// CLI checks that the server it reaches keeps that file.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PERFECT_URL=" + url,
			"PERFECT_DATA_DIR=" + dir}
		out, err := cmd.CombinedOutput()
		cli = append(cli, time.Since(start))
		if err != nil || strings.Count(string(out), "5-Day E") != 4 {
			return res, fmt.Errorf("queue ls --email %s: %v\n%s", email, err, out)
		}
	}
	slices.Sort(cli)
	res.QueueLsRuns, res.QueueLsP50, res.QueueLsMax = len(cli), quantile(cli, 0.5), cli[len(cli)-1]

	client := &http.Client{Timeout: 5 * time.Second}
	var api []time.Duration
	for range 500 {
		start := time.Now()
		resp, err := client.Get(url + "/admin/api/steps?email=" + pick())
		if err != nil {
			return res, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("admin api: %s", resp.Status)
		}
		api = append(api, time.Since(start))
	}
	slices.Sort(api)
	res.APIP50, res.APIP99 = quantile(api, 0.5), quantile(api, 0.99)
	res.MemoryEnd, _ = p.memory()
	r.log.Info("big store", "healthy", res.Healthy, "memory", res.MemoryStart.String(),
		"queue_ls_p50", ms(res.QueueLsP50), "api_p99", ms(res.APIP99))
	return res, nil
}

// DrainResult is the time to send a burst of due emails under Resend's
// rate limit.
type DrainResult struct {
	Emails   int           `json:"emails"`
	Drained  int           `json:"drained"`
	Time     time.Duration `json:"time_ns"`
	TimedOut bool          `json:"timed_out"`
	Codes    map[int]int   `json:"resend_codes"`
	Batches  int           `json:"batches"`
}

// drain plans drainEmails emails all due at the same instant, a few
// seconds after perfect is started against a fake Resend that answers 429
// above 2 requests per second, and measures the time from that instant
// until the fake has accepted every email.
func (r *runner) drain(ctx context.Context) (DrainResult, error) {
	n := r.drainEmails
	dir := filepath.Join(r.work, "drain-data")
	t0 := time.Now().Add(15 * time.Second).Truncate(time.Second)
	seeds, err := seedSignups(filepath.Join(dir, "perfect.db"), "drain", n, func(int) time.Time {
		return t0.Add(-24 * time.Hour)
	})
	if err != nil {
		return DrainResult{}, err
	}
	fake, err := startFakeResend()
	if err != nil {
		return DrainResult{}, err
	}
	defer fake.close()
	fake.api.EnforceRate(2, 2)
	p, url, err := r.startPerfect("perfect-drain", dir, "RESEND_API_KEY=re_bench", "RESEND_BASE_URL="+fake.URL)
	if err != nil {
		return DrainResult{}, err
	}
	defer p.stop()
	if _, err := p.waitHealthy(url+"/health", 30*time.Second); err != nil {
		return DrainResult{}, err
	}
	if time.Now().After(t0) {
		return DrainResult{}, fmt.Errorf("perfect was healthy only after the burst was due")
	}
	r.log.Info("drain: waiting", "emails", n, "due", t0.Format(time.RFC3339), "timeout", r.drainTimeout)
	deadline := t0.Add(r.drainTimeout)
	for len(fake.accepted()) < n && time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return DrainResult{}, err
		}
	}
	acc := fake.accepted()
	res := DrainResult{Emails: n, Codes: fake.statusCodes(), Batches: fake.batchRequests()}
	var last time.Time
	for _, s := range seeds {
		if at, ok := acc[s.Email]; ok {
			res.Drained++
			if at.After(last) {
				last = at
			}
		}
	}
	res.TimedOut = res.Drained < n
	if res.TimedOut {
		res.Time = r.drainTimeout
	} else {
		res.Time = last.Sub(t0)
	}
	r.log.Info("drain", "drained", res.Drained, "time", res.Time.Round(time.Millisecond), "codes", res.Codes,
		"batches", res.Batches)
	return res, nil
}
