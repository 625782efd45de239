package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server started by the load generator, in its own process
// group so it and its workers can be stopped together.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan error
	log     *os.File
}

// startProc starts argv in dir with exactly env (plus PATH and HOME), its
// output going to logPath.
func startProc(name, dir, logPath string, env []string, argv ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1), log: logf}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process group and waits; after 20 s it kills
// the group.
func (p *proc) stop() {
	defer p.log.Close()
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Workers of the group that outlived their parent.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// waitHealthy polls url every 2 ms until it answers 200, and returns the
// time from the process start.
func (p *proc) waitHealthy(url string, timeout time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return 0, fmt.Errorf("%s exited before it was healthy: %v (see %s)", p.name, err, p.log.Name())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not healthy within %s (see %s)", p.name, timeout, p.log.Name())
}

// Memory is the resident memory of a process and its descendants.
type Memory struct {
	Processes int   `json:"processes"`
	RSS       int64 `json:"rss_bytes"`
	RSSAnon   int64 `json:"rss_anon_bytes"`
	RSSFile   int64 `json:"rss_file_bytes"`
	HWM       int64 `json:"hwm_bytes"`
}

func (m Memory) String() string {
	return fmt.Sprintf("%.1f MB (anon %.1f, file %.1f, peak %.1f, %d processes)",
		mb(m.RSS), mb(m.RSSAnon), mb(m.RSSFile), mb(m.HWM), m.Processes)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// memory sums VmRSS (and its parts) of the process and every descendant,
// read from /proc/<pid>/status.
func (p *proc) memory() (Memory, error) {
	var m Memory
	for _, pid := range append([]int{p.pid()}, descendants(p.pid())...) {
		f, err := readStatus(pid)
		if err != nil {
			continue // exited meanwhile
		}
		m.Processes++
		m.RSS += f["VmRSS"]
		m.RSSAnon += f["RssAnon"]
		m.RSSFile += f["RssFile"]
		m.HWM += f["VmHWM"]
	}
	if m.Processes == 0 {
		return m, errors.New("process gone")
	}
	return m, nil
}

// readStatus returns the kB fields of /proc/<pid>/status in bytes.
func readStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err == nil {
			out[k] = n << 10
		}
	}
	return out, sc.Err()
}

// descendants lists the pids whose parent chain leads to pid.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			if pp, err := strconv.Atoi(fields[1]); err == nil {
				parent[child] = pp
			}
		}
	}
	var out []int
	for child := range parent {
		for p := parent[child]; p > 1; p = parent[p] {
			if p == pid {
				out = append(out, child)
				break
			}
		}
	}
	return out
}

// cpuTime is the user plus system CPU time used so far by the process and
// its descendants (fields 14 and 15 of /proc/<pid>/stat, at 100 ticks per
// second).
func (p *proc) cpuTime() time.Duration {
	var total time.Duration
	for _, pid := range append([]int{p.pid()}, descendants(p.pid())...) {
		total += p.cpuTimeOf(pid)
	}
	return total
}

// cpuTimeOf reads utime+stime of one process.
func (*proc) cpuTimeOf(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is the state (field 3); utime and stime are fields 14, 15.
	if len(fields) <= 12 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// sleepCtx sleeps for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// loadAvg returns the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// machineBusy is the CPU time all cores spent outside idle and iowait so
// far, from the first line of /proc/stat (USER_HZ is 100).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	var busy int64
	for i, f := range fields[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user.
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// ownCPU is the CPU time of this process, of its children that ended,
// and of its live descendants.
func ownCPU() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	total := tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
	for _, pid := range descendants(os.Getpid()) {
		total += (*proc)(nil).cpuTimeOf(pid)
	}
	return total
}

// cpuMeter measures how busy the other processes of the machine were
// during a part of the run, in cores on average.
type cpuMeter struct {
	start      time.Time
	busy, ours time.Duration
}

func newCPUMeter() cpuMeter {
	return cpuMeter{start: time.Now(), busy: machineBusy(), ours: ownCPU()}
}

// others returns the average number of cores that processes other than
// this run's used since the meter started.
func (m cpuMeter) others() float64 {
	wall := time.Since(m.start)
	if wall <= 0 {
		return 0
	}
	d := (machineBusy() - m.busy) - (ownCPU() - m.ours)
	return max(0, d.Seconds()/wall.Seconds())
}
