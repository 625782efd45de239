// Command loadgen measures perfect against the FastAPI server it replaces,
// side by side in one run (issue 7): durable webhook intake at a fixed
// rate and at maximum throughput against both, dispatch lateness against
// a fake Resend, a data file of a million planned steps, idle memory, and
// the drain of a burst of due emails under Resend's rate limit. It starts
// every server itself on 127.0.0.1, stops them at the end, prints a
// Markdown table of the figures and writes them as JSON.
//
//	loadgen -perfect bin/perfect -baseline bench/baseline -work /tmp/bench -out results.json
//
// scripts/bench-compare.sh installs the baseline's Debian packages, builds
// both programs and runs this.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	r := &runner{}
	flag.StringVar(&r.perfect, "perfect", "bin/perfect", "perfect binary")
	flag.StringVar(&r.python, "python", "/usr/bin/python3", "python with Debian's fastapi and uvicorn")
	flag.StringVar(&r.baselineDir, "baseline", "bench/baseline", "folder of the baseline app.py")
	flag.StringVar(&r.work, "work", "", "folder for data files and logs (default: a new temp folder, removed at the end)")
	flag.Float64Var(&r.rate, "rate", 500, "fixed request rate, per second")
	flag.DurationVar(&r.rateFor, "rate-for", 30*time.Second, "length of the fixed-rate phase")
	flag.DurationVar(&r.maxFor, "max-for", 20*time.Second, "length of the max-throughput phase")
	flag.IntVar(&r.conns, "conns", 64, "connections of the max-throughput phase")
	flag.IntVar(&r.inFlight, "in-flight", 256, "requests in flight at most in the fixed-rate phase")
	flag.IntVar(&r.latenessSteps, "lateness-steps", 10_000, "emails due in the lateness run")
	flag.DurationVar(&r.latenessWindow, "lateness-window", time.Minute, "they fall due evenly within this")
	flag.Int64Var(&r.presize, "lateness-presize", 0, "diagnostic: grow the lateness data file to this many bytes before start")
	flag.IntVar(&r.bigSteps, "big-steps", 1_000_000, "planned steps of the big data file")
	flag.IntVar(&r.drainEmails, "drain-emails", 1000, "emails of the burst to drain")
	flag.DurationVar(&r.drainTimeout, "drain-timeout", 12*time.Minute, "give up draining after this")
	only := flag.String("only", "idle,intake,lateness,big,drain", "parts to run, comma-separated")
	out := flag.String("out", "", "write the results as JSON to this file")
	md := flag.String("markdown", "", "also write the Markdown table to this file")
	commit := flag.String("commit", "", "commit the perfect binary was built from (default: git describe of the work tree)")
	flag.Parse()

	r.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	if r.perfect, err = filepath.Abs(r.perfect); err != nil {
		return err
	}
	if r.baselineDir, err = filepath.Abs(r.baselineDir); err != nil {
		return err
	}
	if r.work == "" {
		if r.work, err = os.MkdirTemp("", "perfect-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(r.work)
	} else if err := os.MkdirAll(r.work, 0o750); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := newReport(r)
	if *commit != "" {
		rep.Commit = *commit
	}
	parts := strings.Split(*only, ",")
	for _, part := range []string{"idle", "intake", "lateness", "big", "drain"} {
		if !slices.Contains(parts, part) {
			continue
		}
		rep.Load[part] = loadAvg()
		r.log.Info("part", "name", part, "load", rep.Load[part])
		meter := newCPUMeter()
		if err := r.runPart(ctx, part, rep); err != nil {
			return fmt.Errorf("%s: %w", part, err)
		}
		rep.Others[part] = meter.others()
		r.log.Info("part done", "name", part, "other_processes_cores", fmt.Sprintf("%.2f", rep.Others[part]))
	}
	rep.Load["end"] = loadAvg()
	rep.Took = time.Since(rep.Started)

	rep.writeMarkdown(os.Stdout)
	if *md != "" {
		f, err := os.Create(*md)
		if err != nil {
			return err
		}
		rep.writeMarkdown(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

func (r *runner) runPart(ctx context.Context, part string, rep *Report) error {
	var err error
	switch part {
	case "idle":
		rep.Idle, err = r.idle(ctx)
	case "intake":
		rep.Intake, err = r.intake(ctx)
	case "lateness":
		var l LatenessResult
		l, err = r.lateness(ctx)
		rep.Lateness = &l
	case "big":
		var b BigResult
		b, err = r.big(ctx)
		rep.Big = &b
	case "drain":
		var d DrainResult
		d, err = r.drain(ctx)
		rep.Drain = &d
	}
	return err
}

// newReport records the machine, versions and settings of the run.
func newReport(r *runner) *Report {
	rep := &Report{
		Started: time.Now(), Cores: runtime.NumCPU(), Memory: memTotal(), Load: map[string]string{},
		Others:  map[string]float64{},
		Commit:  command("git", "describe", "--always", "--dirty", "--abbrev=12"),
		Version: command(r.perfect, "version"),
		Versions: map[string]string{
			"go":       runtime.Version(),
			"python":   command(r.python, "--version"),
			"fastapi":  command(r.python, "-c", "import fastapi; print(fastapi.__version__)"),
			"pydantic": command(r.python, "-c", "import pydantic; print(pydantic.VERSION)"),
			"uvicorn":  command(r.python, "-c", "import uvicorn; print(uvicorn.__version__)"),
		},
		Settings: map[string]string{
			"rate": fmt.Sprint(r.rate), "rate_for": r.rateFor.String(), "max_for": r.maxFor.String(),
			"conns": fmt.Sprint(r.conns), "in_flight": fmt.Sprint(r.inFlight),
		},
	}
	return rep
}

// command returns the trimmed output of a command, or "?" when it fails.
func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// memTotal is MemTotal of /proc/meminfo, in GiB.
func memTotal() string {
	f, err := readMeminfo()
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f GiB", float64(f)/(1<<30))
}

func readMeminfo() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no MemTotal")
}

func sortStrings(s []string) { slices.Sort(s) }
