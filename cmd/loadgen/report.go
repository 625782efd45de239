package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is everything one run measured, with what it ran on.
type Report struct {
	Commit  string            `json:"commit"`
	Version string            `json:"perfect_version"`
	Started time.Time         `json:"started"`
	Took    time.Duration     `json:"took_ns"`
	Cores   int               `json:"cores"`
	Memory  string            `json:"memory"`
	Load    map[string]string `json:"load_average"`
	// Others is the CPU that processes other than this run's used during
	// each part, in cores on average.
	Others   map[string]float64 `json:"other_processes_cores"`
	Versions map[string]string  `json:"versions"`
	Settings map[string]string  `json:"settings"`

	Idle     []IdleResult    `json:"idle,omitempty"`
	Intake   []IntakeResult  `json:"intake,omitempty"`
	Lateness *LatenessResult `json:"lateness,omitempty"`
	Big      *BigResult      `json:"big,omitempty"`
	Drain    *DrainResult    `json:"drain,omitempty"`
}

// row is one line of the figures table.
type row struct {
	figure, goal, perfect, baseline, ratio, met string
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// compare says how perfect's figure relates to the baseline's: ratio is
// baseline/perfect for figures where lower is better (latency, memory,
// time), and reads "N× lower" or "N× higher".
func compare(ratio float64, better, worse string) string {
	if ratio >= 1 {
		return times(ratio) + " " + better
	}
	return times(1/ratio) + " " + worse
}

// times formats a ratio.
func times(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	default:
		return fmt.Sprintf("%.2f×", x)
	}
}

func msf(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func mbs(b int64) string { return fmt.Sprintf("%.1f MB", mb(b)) }

// rows turns the report into the figures table, with the goals of issue 7.
func (rep *Report) rows() []row {
	var rows []row
	byTarget := func(name string) *IntakeResult {
		for i := range rep.Intake {
			if rep.Intake[i].Target == name {
				return &rep.Intake[i]
			}
		}
		return nil
	}
	if p, b := byTarget("perfect"), byTarget("baseline"); p != nil && b != nil {
		ratio := p.Max.RPS / b.Max.RPS
		rows = append(rows,
			row{fmt.Sprintf("Durable intake, max throughput (%d connections)", p.Max.Conns), "≥ 10× baseline",
				fmt.Sprintf("%.0f req/s", p.Max.RPS), fmt.Sprintf("%.0f req/s", b.Max.RPS),
				compare(ratio, "higher", "lower"), yesNo(ratio >= 10)},
			row{"Intake at max: p50 / p99 latency", "–",
				msf(p.Max.P50) + " / " + msf(p.Max.P99), msf(b.Max.P50) + " / " + msf(b.Max.P99),
				compare(float64(b.Max.P99)/float64(p.Max.P99), "lower p99", "higher p99"), ""},
			row{"Intake at max: server CPU time per request", "–", msf(p.Max.CPUPerRequest()),
				msf(b.Max.CPUPerRequest()), compare(float64(b.Max.CPUPerRequest())/float64(p.Max.CPUPerRequest()), "less", "more"), ""},
			row{fmt.Sprintf("Intake at %.0f req/s: achieved", p.Fixed.Rate), fmt.Sprintf("%.0f req/s", p.Fixed.Rate),
				fmt.Sprintf("%.0f req/s", p.Fixed.RPS), fmt.Sprintf("%.0f req/s", b.Fixed.RPS), "", ""},
			row{fmt.Sprintf("Intake at %.0f req/s: p50 latency", p.Fixed.Rate), "–", msf(p.Fixed.P50), msf(b.Fixed.P50),
				compare(float64(b.Fixed.P50)/float64(p.Fixed.P50), "lower", "higher"), ""},
			row{fmt.Sprintf("Intake at %.0f req/s: p99 latency", p.Fixed.Rate), "< 10 ms", msf(p.Fixed.P99), msf(b.Fixed.P99),
				compare(float64(b.Fixed.P99)/float64(p.Fixed.P99), "lower", "higher"), yesNo(p.Fixed.P99 < 10*time.Millisecond)},
		)
	}
	if l := rep.Lateness; l != nil {
		ok := l.Received == l.Steps && l.P99 < 50*time.Millisecond
		rows = append(rows,
			row{fmt.Sprintf("Dispatch lateness p50 / p99 (%d steps due within %s, limiter lifted)", l.Steps, l.Window),
				"p99 < 50 ms", msf(l.P50) + " / " + msf(l.P99), "not measured (see below)", "", yesNo(ok)})
	}
	if g := rep.Big; g != nil {
		rows = append(rows,
			row{fmt.Sprintf("%d planned steps: resident memory (after start / after queries)", g.Steps), "< 150 MB",
				mbs(g.MemoryStart.RSS) + " / " + mbs(g.MemoryEnd.RSS), "no equivalent", "",
				yesNo(g.MemoryEnd.RSS < 150<<20)},
			row{fmt.Sprintf("%d planned steps: start to healthy", g.Steps), "< 3 s", msf(g.Healthy), "no equivalent", "",
				yesNo(g.Healthy < 3*time.Second)},
			row{fmt.Sprintf("%d planned steps: `perfect queue ls --email` (p50 / max of %d)", g.Steps, g.QueueLsRuns),
				"< 50 ms", msf(g.QueueLsP50) + " / " + msf(g.QueueLsMax), "no equivalent", "",
				yesNo(g.QueueLsMax < 50*time.Millisecond)},
			row{fmt.Sprintf("%d planned steps: `GET /admin/api/steps?email=` p50 / p99", g.Steps), "–",
				msf(g.APIP50) + " / " + msf(g.APIP99), "no equivalent", "", ""},
			row{fmt.Sprintf("%d planned steps: data file size", g.Steps), "–", mbs(g.FileSize), "no equivalent", "", ""},
		)
	}
	var pi, bi *IdleResult
	for i := range rep.Idle {
		switch rep.Idle[i].Target {
		case "perfect":
			pi = &rep.Idle[i]
		case "baseline":
			bi = &rep.Idle[i]
		}
	}
	if pi != nil && bi != nil {
		rows = append(rows,
			row{"Idle resident memory", "< 25 MB", mbs(pi.Memory.RSS),
				fmt.Sprintf("%s (%d processes)", mbs(bi.Memory.RSS), bi.Memory.Processes),
				compare(float64(bi.Memory.RSS)/float64(pi.Memory.RSS), "less", "more"), yesNo(pi.Memory.RSS < 25<<20)},
			row{"Start to healthy, empty data", "–", msf(pi.Healthy), msf(bi.Healthy),
				compare(float64(bi.Healthy)/float64(pi.Healthy), "faster", "slower"), ""},
		)
	}
	if d := rep.Drain; d != nil {
		// One request per email at 2 per second, after a burst of 2.
		bound := time.Duration(float64(max(d.Emails-2, 0)) / 2 * float64(time.Second))
		val := msf(d.Time)
		if d.TimedOut {
			val = fmt.Sprintf("not drained: %d of %d in %s", d.Drained, d.Emails, msf(d.Time))
		}
		rows = append(rows,
			row{fmt.Sprintf("Drain %d due emails, Resend at 2 requests/s", d.Emails), "< 15 s", val,
				fmt.Sprintf("≥ %s (computed: one request per email)", msf(bound)),
				compare(float64(bound)/float64(d.Time), "faster", "slower"), yesNo(!d.TimedOut && d.Time < 15*time.Second)})
	}
	return rows
}

// writeMarkdown prints the figures table and the run's context.
func (rep *Report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Commit `%s` (%s), %s, %d cores, %s memory; run took %s.\n\n",
		rep.Commit, rep.Version, rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Cores, rep.Memory,
		rep.Took.Round(time.Second))
	fmt.Fprintln(w, "| Figure | Goal | perfect | baseline | perfect vs baseline | Goal met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rep.rows() {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.figure, r.goal, r.perfect, r.baseline, r.ratio, r.met)
	}
	fmt.Fprintln(w)
	if len(rep.Intake) > 0 {
		fmt.Fprintln(w, "Load phases (latency from each request's due time at the fixed rate, from its send at max):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "```")
		for _, in := range rep.Intake {
			fmt.Fprintln(w, in.Fixed.String())
			fmt.Fprintln(w, in.Max.String())
		}
		for _, in := range rep.Intake {
			if in.Planned >= 0 {
				fmt.Fprintf(w, "%s: %d signups accepted, %d steps planned (want %d); memory after load %s\n",
					in.Target, in.Accepted, in.Planned, 4*in.Accepted, in.Memory)
			} else {
				fmt.Fprintf(w, "%s: %d signups accepted; memory after load %s\n", in.Target, in.Accepted, in.Memory)
			}
		}
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
	var extra []string
	if l := rep.Lateness; l != nil {
		extra = append(extra, fmt.Sprintf("lateness: %d of %d emails reached the fake Resend, %d before their due time; "+
			"p50 %s, p90 %s, p99 %s, max %s; Resend answers %v, %d batch requests; perfect's CPU %s (%s per email); "+
			"memory after %s",
			l.Received, l.Steps, l.Early, msf(l.P50), msf(l.P90), msf(l.P99), msf(l.Max), l.Codes, l.Batches,
			msf(l.CPU), msf(l.CPU/time.Duration(max(l.Received, 1))), l.Memory))
	}
	if g := rep.Big; g != nil {
		extra = append(extra, fmt.Sprintf("big store: seeded %d steps in %s; memory after start %s; after queries %s",
			g.Steps, g.Seed.Round(time.Millisecond), g.MemoryStart, g.MemoryEnd))
	}
	for _, i := range rep.Idle {
		extra = append(extra, fmt.Sprintf("idle %s: healthy after %s, %s", i.Target, msf(i.Healthy), i.Memory))
	}
	if d := rep.Drain; d != nil {
		extra = append(extra, fmt.Sprintf("drain: %d of %d emails accepted in %s; Resend answers %v, %d batch requests",
			d.Drained, d.Emails, msf(d.Time), d.Codes, d.Batches))
	}
	if len(extra) > 0 {
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w, strings.Join(extra, "\n"))
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Load average (1/5/15 min) before each part: %s\n\n", formatLoads(rep.Load))
	fmt.Fprintf(w, "CPU used by processes outside this run during each part (cores, on average, of %d): %s\n\n",
		rep.Cores, formatOthers(rep.Others))
	fmt.Fprintf(w, "Versions: %s\n\nSettings: %s\n", formatMap(rep.Versions), formatMap(rep.Settings))
}

func formatLoads(m map[string]string) string {
	var parts []string
	for _, k := range []string{"idle", "intake", "lateness", "big", "drain", "end"} {
		if v, ok := m[k]; ok {
			parts = append(parts, k+" "+v)
		}
	}
	return strings.Join(parts, "; ")
}

func formatOthers(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"idle", "intake", "lateness", "big", "drain"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
		}
	}
	return strings.Join(parts, "; ")
}

func formatMap(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sortStrings(parts)
	return strings.Join(parts, ", ")
}
