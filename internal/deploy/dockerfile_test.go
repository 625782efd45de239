package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from         string
	name         string
	instructions []instruction
}

// parseDockerfile reads the Dockerfile at the repository root into its global
// ARGs and stages. It understands comments, continuation lines and FROM ... AS.
func parseDockerfile(tb testing.TB) (args map[string]string, stages []stage) {
	tb.Helper()
	f, err := os.Open(filepath.Join(repoRoot(tb), "Dockerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	args = map[string]string{}
	var all []instruction
	var cur strings.Builder
	start, n := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, more := strings.CutSuffix(line, `\`); more {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		all = append(all, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest), line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}

	for _, in := range all {
		switch {
		case in.cmd == "FROM":
			fields := strings.Fields(in.args)
			st := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case len(stages) > 0:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	if len(stages) < 2 {
		tb.Fatalf("Dockerfile has %d stages, want a build stage and a final stage", len(stages))
	}
	return args, stages
}

// all returns the arguments of every instruction cmd in the stage.
func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// last returns the arguments of the last instruction cmd, which is the one in
// effect for USER, CMD, ENTRYPOINT, HEALTHCHECK and STOPSIGNAL.
func (s stage) last(cmd string) string {
	all := s.all(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

func TestDockerfileBaseImagesArePinnedArgs(t *testing.T) {
	t.Parallel()
	args, stages := parseDockerfile(t)

	if got := stages[0].from; got != "${GO_IMAGE}" {
		t.Errorf("build stage FROM %s, want ${GO_IMAGE}", got)
	}
	if got := stages[len(stages)-1].from; got != "${RUNTIME_IMAGE}" {
		t.Errorf("final stage FROM %s, want ${RUNTIME_IMAGE}", got)
	}

	goImage := args["GO_IMAGE"]
	tag := regexp.MustCompile(`^(?:[\w.-]+/)*golang:(\d+\.\d+\.\d+)(?:-[\w.]+)?(?:@sha256:[0-9a-f]{64})?$`).
		FindStringSubmatch(goImage)
	if tag == nil {
		t.Fatalf("ARG GO_IMAGE=%q: want golang:<major.minor.patch>[-variant], a full version", goImage)
	}
	if goMod := goModVersion(t); compareVersions(tag[1], goMod) < 0 {
		t.Errorf("GO_IMAGE has Go %s, older than go.mod's go %s", tag[1], goMod)
	}

	runtime := args["RUNTIME_IMAGE"]
	pinned := runtime == "scratch" || strings.Contains(runtime, "@sha256:") ||
		(strings.Contains(runtime, ":") && !strings.HasSuffix(runtime, ":latest"))
	if !pinned {
		t.Errorf("ARG RUNTIME_IMAGE=%q: want scratch, a digest or a fixed tag", runtime)
	}
}

func TestDockerfileBuildStage(t *testing.T) {
	t.Parallel()
	_, stages := parseDockerfile(t)
	build := stages[0]
	text := strings.Join(append(build.all("ENV"), build.all("RUN")...), "\n")

	for _, want := range []string{
		"CGO_ENABLED=0",
		"-trimpath",
		`-X main.version=${VERSION}`,
		"./cmd/perfect",
		"--mount=type=cache",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	if !slices.ContainsFunc(build.all("ARG"), func(a string) bool { return strings.HasPrefix(a, "VERSION") }) {
		t.Error("build stage lacks ARG VERSION")
	}
}

func TestDockerfileFinalStage(t *testing.T) {
	t.Parallel()
	_, stages := parseDockerfile(t)
	final := stages[len(stages)-1]

	t.Run("non-root user", func(t *testing.T) {
		user := final.last("USER")
		uid, err := strconv.Atoi(strings.SplitN(user, ":", 2)[0])
		if err != nil || uid == 0 {
			t.Errorf("USER %q: want a numeric non-zero uid (scratch has no user names)", user)
		}
		copied := strings.Join(final.all("COPY"), "\n")
		if !strings.Contains(copied, "--chown="+strings.SplitN(user, ":", 2)[0]) || !strings.Contains(copied, "/data") {
			t.Errorf("COPY lines do not give /data to the USER %s:\n%s", user, copied)
		}
	})

	tests := []struct {
		name string
		cmd  string
		want string
	}{
		{name: "health check runs the binary", cmd: "HEALTHCHECK", want: `CMD ["/perfect", "healthcheck"]`},
		{name: "stop signal", cmd: "STOPSIGNAL", want: "SIGTERM"},
		{name: "entrypoint", cmd: "ENTRYPOINT", want: `["/perfect"]`},
		{name: "command", cmd: "CMD", want: `["serve"]`},
		{name: "exposed port", cmd: "EXPOSE", want: "8000"},
		{name: "data volume", cmd: "VOLUME", want: `["/data"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := final.last(tt.cmd); !strings.HasSuffix(got, tt.want) {
				t.Errorf("%s %s, want ... %s", tt.cmd, got, tt.want)
			}
		})
	}

	t.Run("health check timings", func(t *testing.T) {
		hc := final.last("HEALTHCHECK")
		for _, opt := range []string{"--interval=", "--timeout=", "--start-period=", "--retries="} {
			if !strings.Contains(hc, opt) {
				t.Errorf("HEALTHCHECK lacks %s: %s", opt, hc)
			}
		}
	})

	t.Run("environment", func(t *testing.T) {
		env := strings.Join(final.all("ENV"), " ")
		for _, want := range []string{"PERFECT_DATA_DIR=/data", "PORT=8000"} {
			if !strings.Contains(env, want) {
				t.Errorf("final ENV lacks %s: %s", want, env)
			}
		}
	})

	t.Run("compose uses the same health check", func(t *testing.T) {
		svc := webhook(t, mustLoad(t, productionEnv()))
		if svc.HealthCheck == nil {
			t.Fatal("compose has no health check")
		}
		want := `CMD ["` + strings.Join(svc.HealthCheck.Test[1:], `", "`) + `"]`
		if got := final.last("HEALTHCHECK"); !strings.HasSuffix(got, want) {
			t.Errorf("Dockerfile HEALTHCHECK %s, compose runs %s", got, want)
		}
	})
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns := parseDockerignore(string(raw))

	tests := []struct {
		path     string
		excluded bool
	}{
		{path: ".git/HEAD", excluded: true},
		{path: "data/perfect.db", excluded: true},
		{path: "perfect.db", excluded: true},
		{path: "bin/perfect", excluded: true},
		{path: "dist/perfect", excluded: true},
		{path: ".env", excluded: true},
		{path: ".env.production", excluded: true},
		{path: "internal/engine/testdata/big.json", excluded: true},
		{path: "go.mod", excluded: false},
		{path: "go.sum", excluded: false},
		{path: "cmd/perfect/main.go", excluded: false},
		{path: "flows/flows.go", excluded: false},
		{path: "internal/templates/embedded/precall_reminder_1.html", excluded: false},
		{path: "internal/httpapi/admin/page.html.tmpl", excluded: false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := dockerignored(patterns, tt.path); got != tt.excluded {
				t.Errorf("excluded = %v, want %v", got, tt.excluded)
			}
		})
	}
}

type ignorePattern struct {
	re     *regexp.Regexp
	negate bool
}

// parseDockerignore turns .dockerignore lines into matchers with Docker's
// rules: paths are relative to the root, * and ? stop at /, ** crosses
// directories, ! re-includes, and a match on a directory covers its contents.
func parseDockerignore(text string) []ignorePattern {
	var out []ignorePattern
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.negate, line = true, rest
		}
		line = strings.Trim(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		p.re = regexp.MustCompile("^" + re.String() + "(?:/.*)?$")
		out = append(out, p)
	}
	return out
}

// dockerignored reports whether the last matching pattern excludes path.
func dockerignored(patterns []ignorePattern, path string) bool {
	excluded := false
	for _, p := range patterns {
		if p.re.MatchString(path) {
			excluded = !p.negate
		}
	}
	return excluded
}

// goModVersion returns the go directive of go.mod.
func goModVersion(tb testing.TB) string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(tb), "go.mod"))
	if err != nil {
		tb.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+(?:\.\d+)*)\s*$`).FindSubmatch(raw)
	if m == nil {
		tb.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// compareVersions compares dotted numeric versions: -1, 0 or 1.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
