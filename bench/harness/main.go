// Command harness runs Keep's benchmarks and writes docs/BENCHMARKS.md.
// bench/run.sh (`make bench`) builds what it needs and calls it; run it
// by hand only after that:
//
//	build/bench/harness [-only startup,compute,http,bulk,verify] [-quick] [-out FILE]
//
// Every workload runs its variants in interleaved rounds (keep, wazero,
// native, keep, ...) so that a burst of load from elsewhere on the machine
// hits all of them alike; the table shows the median of the rounds and its
// ratio to the anchor measured in the same run. Absolute figures vary
// between machines; the ratios are the result.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	build, keep, wazero string
	wasmtime            string
	out, notes, rawOut  string
	only                map[string]bool
	startRuns, runs     int
	loadDur             time.Duration
	conns               int
	bulkBytes           int64
	idleFor             time.Duration
	verifyTime          string
	verifyCount         int
}

var cfg config

func main() {
	only := flag.String("only", "startup,compute,http,bulk,memory,verify", "comma-separated sections to run")
	quick := flag.Bool("quick", false, "fewer and shorter runs, for trying the harness")
	flag.StringVar(&cfg.build, "build", "build", "build directory (keep, guests, native comparators)")
	flag.StringVar(&cfg.keep, "keep", "", "keep binary (default: BUILD/keep)")
	flag.StringVar(&cfg.wazero, "wazero", "", "wazero CLI (default: $(go env GOPATH)/bin/wazero)")
	flag.StringVar(&cfg.wasmtime, "wasmtime", "", "wasmtime-run (bench/wasmtime) for the wasmtime rows; empty: no wasmtime rows")
	flag.StringVar(&cfg.out, "out", "docs/BENCHMARKS.md", "markdown report to write")
	flag.StringVar(&cfg.notes, "notes", "bench/NOTES.md", "hand-written analysis appended to the report")
	flag.StringVar(&cfg.rawOut, "raw", "build/bench/results.json", "raw samples (JSON)")
	flag.IntVar(&cfg.startRuns, "start-runs", 5, "runs of each cold start-up variant (warm and native: five times as many)")
	flag.IntVar(&cfg.runs, "runs", 5, "runs of each compute, load and bulk variant")
	flag.DurationVar(&cfg.loadDur, "load-duration", 5*time.Second, "length of each wrk/hey window")
	flag.IntVar(&cfg.conns, "c", 32, "concurrent connections of the load generators")
	flag.Int64Var(&cfg.bulkBytes, "bulk-bytes", 1<<30, "bytes sent (and echoed back) per bulk run")
	flag.DurationVar(&cfg.idleFor, "idle", 10*time.Second, "idle CPU window")
	flag.StringVar(&cfg.verifyTime, "verify-benchtime", "1s", "go test -benchtime for the verification benchmarks")
	flag.IntVar(&cfg.verifyCount, "verify-count", 3, "go test -count for the verification benchmarks")
	flag.Parse()
	if *quick {
		cfg.startRuns, cfg.runs, cfg.loadDur, cfg.bulkBytes, cfg.idleFor = 2, 1, 2*time.Second, 128<<20, 3*time.Second
		cfg.verifyTime, cfg.verifyCount = "200ms", 1
	}
	cfg.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		cfg.only[strings.TrimSpace(s)] = true
	}
	if cfg.keep == "" {
		cfg.keep = filepath.Join(cfg.build, "keep")
	}
	if cfg.wazero == "" {
		gp, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			fatalf("go env GOPATH: %v", err)
		}
		cfg.wazero = filepath.Join(strings.TrimSpace(string(gp)), "bin", "wazero")
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		stopAll()
		fmt.Fprintf(os.Stderr, "harness: %v\n", s)
		os.Exit(130)
	}()
	defer stopAll()

	var err error
	if work, err = os.MkdirTemp("", "keep-bench-"); err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(work)

	rep := &report{started: time.Now(), load0: loadavg()}
	for _, s := range []struct {
		name string
		run  func(*report)
	}{
		{"startup", startup},
		{"compute", compute},
		{"http", httpLoad},
		{"bulk", bulk},
		{"memory", memory},
		{"verify", verify},
	} {
		if !cfg.only[s.name] {
			continue
		}
		t := time.Now()
		logf("== %s", s.name)
		s.run(rep)
		logf("== %s took %v", s.name, time.Since(t).Round(time.Second))
	}
	rep.finished, rep.load1 = time.Now(), loadavg()
	if err := rep.write(); err != nil {
		fatalf("%v", err)
	}
}

// work is a private temporary directory for configs and caches that must
// start cold.
var work string

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func fatalf(format string, a ...any) {
	stopAll()
	fmt.Fprintf(os.Stderr, "harness: "+format+"\n", a...)
	os.Exit(1)
}

// ---- results ----

// row is one measured variant of a workload.
type row struct {
	Section string    `json:"section"`
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Lower   bool      `json:"lower_is_better"`
	Anchor  string    `json:"anchor,omitempty"` // a row of the same section
	Samples []float64 `json:"samples"`
	Notes   []string  `json:"notes,omitempty"`
}

func (r *row) median() float64 {
	if r == nil || len(r.Samples) == 0 {
		return math.NaN()
	}
	s := slices.Clone(r.Samples)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (r *row) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	if !slices.Contains(r.Notes, n) {
		r.Notes = append(r.Notes, n)
	}
}

// ---- processes ----

var (
	procsMu sync.Mutex
	procs   []*proc
)

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// childEnv is the environment of every child: this one without Keep's
// cache variables, so a "cold" keep is cold.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEEP_CACHE_DIR=") && !strings.HasPrefix(kv, "KEEP_CACHE_KEY=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// start runs a server in its own process group, its output in a log file.
func start(name string, args ...string) *proc {
	p := &proc{name: name, log: filepath.Join(work, strings.ReplaceAll(name, " ", "_")+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		fatalf("%v", err)
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = childEnv()
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); f.Close(); close(p.done) }()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (p *proc) stop() {
	if p.exited() {
		return
	}
	syscall.Kill(-p.pid(), syscall.SIGCONT)
	syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// pauseOthers stops (SIGSTOP) every server but p while p is measured, so
// that none takes CPU from it: `wazero run -listen` polls without
// blocking and keeps a core busy even when idle (see the idle table).
// The returned function resumes them.
func pauseOthers(all []*proc, p *proc) (resume func()) {
	var paused []*proc
	for _, o := range all {
		if o != p && !o.exited() {
			syscall.Kill(-o.pid(), syscall.SIGSTOP)
			paused = append(paused, o)
		}
	}
	return func() {
		for _, o := range paused {
			syscall.Kill(-o.pid(), syscall.SIGCONT)
		}
	}
}

func stopAll() {
	procsMu.Lock()
	ps := procs
	procs = nil
	procsMu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPort waits until p accepts on port (a keep compiles its module
// before it listens: seconds for a large guest).
func waitPort(p *proc, port int) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if p.exited() {
			fatalf("%s exited before listening: %v\n%s", p.name, p.err, p.output())
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fatalf("%s: nothing listens on %d after 5 minutes\n%s", p.name, port, p.output())
}

// timeRun runs a command to completion and returns its wall time.
func timeRun(args ...string) time.Duration {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	t := time.Now()
	err := cmd.Run()
	d := time.Since(t)
	if err != nil {
		fatalf("%s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return d
}

// cpuSeconds is the user+system CPU time of pid so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return math.NaN()
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, _ := strconv.ParseFloat(f[11], 64)                   // field 14
	st, _ := strconv.ParseFloat(f[12], 64)                   // field 15
	return (ut + st) / 100                                   // USER_HZ is 100 on Linux
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// keepConfig writes an Enarx.toml with stdio and one listener at fd 3.
func keepConfig(prot string, port int) string {
	path := filepath.Join(work, fmt.Sprintf("%s-%d.toml", prot, port))
	toml := fmt.Sprintf(`[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = %q
name = "ingest"
addr = "127.0.0.1"
port = %d
max_connections = 4096
`, prot, port)
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		fatalf("%v", err)
	}
	return path
}

// Caches: servers share one persistent pair under build/bench (compiling
// the 10 MB http guest takes tens of seconds); start-up and compute use
// fresh ones under work.
func keepCache(dir string) []string {
	return []string{"--cache-dir", filepath.Join(dir, "keep-cache"), "--cache-key", filepath.Join(dir, "keep-cache.key")}
}

func wazeroCache(dir string) []string {
	return []string{"-cachedir", filepath.Join(dir, "wazero-cache")}
}

// wasmtimeCache is the wasmtime-run command with its compiled-module
// cache in dir.
func wasmtimeCache(dir string) []string {
	return []string{cfg.wasmtime, "-cache", filepath.Join(dir, "wasmtime-cache")}
}

func serverCacheDir() string { return filepath.Join(cfg.build, "bench") }

func guest(name string) string  { return filepath.Join(cfg.build, name+".wasm") }
func native(name string) string { return filepath.Join(cfg.build, "native", name) }

// ---- 1. start-up ----

func startup(rep *report) {
	const sec = "startup"
	hello := guest("hello")
	workers := runtime.GOMAXPROCS(0) // keep run compiles with as many; wazero run with 1 unless -workers
	warm := filepath.Join(work, "startup")
	keepWarm := append(append([]string{cfg.keep, "run"}, keepCache(warm)...), hello)
	wazeroWarm := append(append([]string{cfg.wazero, "run"}, wazeroCache(warm)...), hello)
	wasmtimeWarm := append(wasmtimeCache(warm), hello)
	timeRun(keepWarm...) // fill the caches
	timeRun(wazeroWarm...)
	type variant struct {
		r    *row
		args []string
		cold bool
	}
	variants := []variant{
		{rep.add(sec, "keep run, cache warm (--cache-dir)", "ms", true, "wazero run, cache warm (-cachedir)"), keepWarm, false},
		{rep.add(sec, "wazero run, cache warm (-cachedir)", "ms", true, ""), wazeroWarm, false},
		{rep.add(sec, "native (guests/hello built for linux)", "ms", true, "wazero run, cache warm (-cachedir)"), []string{native("hello")}, false},
		{rep.add(sec, "keep run, cold (no cache)", "ms", true, "wazero run, cold (no cache)"), []string{cfg.keep, "run", "--no-cache", hello}, true},
		{rep.add(sec, "wazero run, cold (no cache)", "ms", true, ""), []string{cfg.wazero, "run", hello}, true},
		{rep.add(sec, fmt.Sprintf("wazero run -workers %d, cold (no cache)", workers), "ms", true, "wazero run, cold (no cache)"),
			[]string{cfg.wazero, "run", "-workers", strconv.Itoa(workers), hello}, true},
	}
	if cfg.wasmtime != "" {
		// wasmtime (Enarx's engine) through wasmtime-go: its precompiled
		// module cache for warm starts, Cranelift with parallel compilation
		// for cold ones.
		timeRun(wasmtimeWarm...)
		variants = append(variants,
			variant{rep.add(sec, "wasmtime (wasmtime-go), cache warm", "ms", true, "wazero run, cache warm (-cachedir)"), wasmtimeWarm, false},
			variant{rep.add(sec, "wasmtime (wasmtime-go), cold (no cache)", "ms", true, "wazero run, cold (no cache)"), []string{cfg.wasmtime, hello}, true},
		)
	}
	// Warm and native starts are short: they get five times the runs.
	for i := range 5 * cfg.startRuns {
		for _, v := range variants {
			if v.cold && i >= cfg.startRuns {
				continue
			}
			d := timeRun(v.args...)
			v.r.Samples = append(v.r.Samples, float64(d.Microseconds())/1000)
		}
		logf("startup round %d/%d", i+1, 5*cfg.startRuns)
	}
}

// ---- 2. compute ----

func compute(rep *report) {
	const sec = "compute"
	wasm := guest("compute")
	dir := filepath.Join(work, "compute")
	keepArgs := append(append([]string{cfg.keep, "run"}, keepCache(dir)...), wasm)
	wazeroArgs := append(append([]string{cfg.wazero, "run"}, wazeroCache(dir)...), wasm)
	timeRun(append(slices.Clone(keepArgs), "sha256", "0")...) // compile once, outside the timings
	timeRun(append(slices.Clone(wazeroArgs), "sha256", "0")...)
	wasmtimeArgs := append(wasmtimeCache(dir), wasm)
	if cfg.wasmtime != "" {
		timeRun(append(slices.Clone(wasmtimeArgs), "sha256", "0")...)
	}
	type variant struct {
		r    *row
		args []string
	}
	var vs []variant
	for _, w := range [][]string{{"sha256", "32"}, {"json", "5000"}} {
		what := strings.Join(w, " ")
		anchor := "wazero run: " + what
		vs = append(vs,
			variant{rep.add(sec, "keep run: "+what, "s", true, anchor), append(slices.Clone(keepArgs), w...)},
			variant{rep.add(sec, anchor, "s", true, ""), append(slices.Clone(wazeroArgs), w...)},
			variant{rep.add(sec, "native: "+what, "s", true, anchor), append([]string{native("compute")}, w...)})
		if cfg.wasmtime != "" {
			vs = append(vs, variant{rep.add(sec, "wasmtime (wasmtime-go): "+what, "s", true, anchor), append(slices.Clone(wasmtimeArgs), w...)})
		}
	}
	for i := range cfg.runs {
		for _, v := range vs {
			v.r.Samples = append(v.r.Samples, timeRun(v.args...).Seconds())
		}
		logf("compute round %d/%d", i+1, cfg.runs)
	}
}

// ---- 3. HTTP (and 5. idle) ----

type server struct {
	name, url string
	p         *proc
}

func httpLoad(rep *report) {
	for _, t := range []string{"wrk", "hey"} {
		if _, err := exec.LookPath(t); err != nil {
			fatalf("%s not found (Debian: apt-get install wrk hey)", t)
		}
	}
	cache := serverCacheDir()
	wasm := guest("http")
	pTCP, pTLS, pWZ, pNat := freePort(), freePort(), freePort(), freePort()
	// The keeps share a cache: start one, then the other (a hit).
	kTCP := start("keep tcp", append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--config", keepConfig("tcp", pTCP), wasm)...)
	wz := start("wazero", append(append([]string{cfg.wazero, "run"}, wazeroCache(cache)...),
		"-listen", fmt.Sprintf("127.0.0.1:%d", pWZ), "-env", "HTTP_SET_NONBLOCK=1", wasm)...)
	nat := start("native https", native("https"), "-addr", fmt.Sprintf("127.0.0.1:%d", pNat))
	waitPort(kTCP, pTCP)
	kTLS := start("keep tls", append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--config", keepConfig("tls", pTLS), wasm)...)
	waitPort(kTLS, pTLS)
	// The same keep with 2..NumCPU instances of the guest (keep run
	// --instances): the scaling rows.
	var scaling []server
	for n := 2; n <= runtime.NumCPU(); n++ {
		port := freePort()
		k := start(fmt.Sprintf("keep tls instances=%d", n), append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--instances", strconv.Itoa(n), "--config", keepConfig("tls", port), wasm)...)
		waitPort(k, port)
		scaling = append(scaling, server{instancesRow(n), fmt.Sprintf("https://127.0.0.1:%d/", port), k})
	}
	waitPort(wz, pWZ)
	waitPort(nat, pNat)
	servers := []server{
		{"keep, tls listener", fmt.Sprintf("https://127.0.0.1:%d/", pTLS), kTLS},
		{"keep, tcp listener", fmt.Sprintf("http://127.0.0.1:%d/", pTCP), kTCP},
		{"wazero run -listen (plain HTTP)", fmt.Sprintf("http://127.0.0.1:%d/", pWZ), wz},
		{"native Go HTTPS (ECDSA P-384)", fmt.Sprintf("https://127.0.0.1:%d/", pNat), nat},
	}
	servers = append(servers, scaling...)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	for _, s := range servers {
		resp, err := client.Get(s.url)
		if err != nil {
			fatalf("%s: %v", s.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello") {
			fatalf("%s: %s %q", s.name, resp.Status, body)
		}
	}
	client.CloseIdleConnections()

	// 5. Idle CPU, now that every server has answered once.
	time.Sleep(time.Second)
	c0 := map[string]float64{}
	for _, s := range servers {
		c0[s.name] = cpuSeconds(s.p.pid())
	}
	logf("idle: %v", cfg.idleFor)
	time.Sleep(cfg.idleFor)
	for _, s := range servers {
		used := cpuSeconds(s.p.pid()) - c0[s.name]
		rep.add("idle", s.name, "% CPU", true, "").Samples = []float64{100 * used / cfg.idleFor.Seconds()}
	}

	ka, nc := "http-keepalive", "http-newconn"
	anchorKA := servers[2].name
	rows := map[string]*row{}
	for _, s := range servers {
		rows[ka+s.name] = rep.add(ka, s.name, "req/s", false, anchorKA)
		anchorNC := servers[3].name // TLS against native TLS
		if !strings.HasPrefix(s.url, "https") {
			anchorNC = servers[2].name // plain against wazero
		}
		rows[nc+s.name] = rep.add(nc, s.name, "req/s", false, anchorNC)
	}
	rows[ka+anchorKA].Anchor = ""
	// Instances scaling: against instances = 1, with the CPU that keep and
	// wrk used in each window.
	cpuRows := map[string][3]*row{}
	for n, s := range append([]server{servers[0]}, scaling...) {
		if n > 0 {
			rows[ka+s.name].Anchor = servers[0].name
		}
		what := fmt.Sprintf("instances = %d: ", n+1)
		cpuRows[s.name] = [3]*row{
			rep.add("http-cpu", what+"keep", "cores", true, ""),
			rep.add("http-cpu", what+"wrk", "cores", true, ""),
			rep.add("http-cpu", what+"other processes", "cores", true, ""),
		}
	}
	rows[nc+servers[2].name].Anchor, rows[nc+servers[3].name].Anchor = "", ""
	rs := "http-resumed"
	rows[rs+servers[0].name] = rep.add(rs, servers[0].name, "req/s", false, servers[3].name)
	rows[rs+servers[3].name] = rep.add(rs, servers[3].name, "req/s", false, "")
	ps := make([]*proc, len(servers))
	for i, s := range servers {
		ps[i] = s.p
	}
	for i := range cfg.runs {
		for _, s := range servers {
			r := rows[ka+s.name]
			resume := pauseOthers(ps, s.p)
			rps, errs, use := runWrk(s.url, s.p.pid())
			resume()
			r.Samples = append(r.Samples, rps)
			if errs != "" {
				r.note("wrk: %s", errs)
			}
			if c, ok := cpuRows[s.name]; ok {
				for i, v := range []float64{use.keep, use.wrk, use.other} {
					c[i].Samples = append(c[i].Samples, v)
				}
			}
		}
		for _, s := range servers {
			r := rows[nc+s.name]
			resume := pauseOthers(ps, s.p)
			rps, errs := runHey(s.url)
			resume()
			r.Samples = append(r.Samples, rps)
			if errs != "" {
				r.note("hey: %s", errs)
			}
		}
		for _, s := range servers {
			if !strings.HasPrefix(s.url, "https") {
				continue
			}
			r := rows[rs+s.name]
			if r == nil {
				continue
			}
			resume := pauseOthers(ps, s.p)
			rps, err := resumedConns(s.url)
			resume()
			if err != nil {
				fatalf("%s: %v", s.name, err)
			}
			r.Samples = append(r.Samples, rps)
		}
		logf("http round %d/%d", i+1, cfg.runs)
	}
	for _, s := range servers {
		s.p.stop()
	}
}

var (
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reSockErr  = regexp.MustCompile(`Socket errors: (.*)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reHeyCode  = regexp.MustCompile(`\[(\d+)\]\s+(\d+) responses`)
	reHeyError = regexp.MustCompile(`(?s)Error distribution:\n(.*)`)
)

func runCapture(args ...string) string {
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cpuUse is the CPU used during a load window, in cores (CPU seconds per
// second of the window): by the server, by the load generator, and by
// every other process on the machine.
type cpuUse struct{ keep, wrk, other float64 }

// busySeconds is the CPU time the whole machine has spent outside idle
// and iowait so far (/proc/stat's first line).
func busySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return math.NaN()
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100 // USER_HZ
}

// runWrk: keep-alive load, two threads, cfg.conns connections, against
// the server whose process is pid. It also returns the CPU used over the
// window: the server's utime+stime from /proc/PID/stat before and after,
// wrk's utime+stime over its whole life (its rusage at exit: the same
// counters, read once /proc/PID/stat is gone), and the rest of the
// machine's busy time (/proc/stat).
func runWrk(url string, pid int) (float64, string, cpuUse) {
	cmd := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", cfg.conns), fmt.Sprintf("-d%ds", int(cfg.loadDur.Seconds())), url)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	k0, m0, t0 := cpuSeconds(pid), busySeconds(), time.Now()
	if err := cmd.Run(); err != nil {
		fatalf("wrk %s: %v\n%s", url, err, buf.String())
	}
	k1, m1, wall := cpuSeconds(pid), busySeconds(), time.Since(t0).Seconds()
	ps := cmd.ProcessState
	w := (ps.UserTime() + ps.SystemTime()).Seconds()
	use := cpuUse{keep: (k1 - k0) / wall, wrk: w / wall}
	use.other = max(0, (m1-m0)/wall-use.keep-use.wrk)
	out := buf.String()
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		fatalf("wrk %s: no Requests/sec in\n%s", url, out)
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	var errs []string
	if m := reSockErr.FindStringSubmatch(out); m != nil {
		errs = append(errs, "socket errors "+m[1])
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		errs = append(errs, m[1]+" non-2xx")
	}
	return rps, strings.Join(errs, ", "), use
}

// resumedConns: for cfg.loadDur, cfg.conns clients each open a TLS
// connection per request, resuming the TLS session of an earlier one (one
// session cache, as keep proxy and netattest clients keep), send `GET /`
// with `Connection: close` and read the response to its end. It returns
// requests per second, and an error if none completed or any failed.
func resumedConns(url string) (float64, error) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/")
	conf := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
	var done, resumed, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(cfg.loadDur)
	var wg sync.WaitGroup
	for range cfg.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", addr, conf)
				if err == nil {
					c.SetDeadline(time.Now().Add(20 * time.Second))
					if _, err = c.Write(req); err == nil {
						var b []byte
						b, err = io.ReadAll(c)
						if err == nil && !bytes.Contains(b, []byte(" 200 ")) {
							err = fmt.Errorf("response %.40q", b)
						}
					}
					if c.ConnectionState().DidResume {
						resumed.Add(1)
					}
					c.Close()
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d of %d requests failed, first: %v", n, n+done.Load(), firstErr.Load())
	}
	if done.Load() == 0 || resumed.Load() < done.Load()/2 {
		return 0, fmt.Errorf("%d requests, %d on resumed sessions", done.Load(), resumed.Load())
	}
	return float64(done.Load()) / cfg.loadDur.Seconds(), nil
}

// runHey: a new connection (and, over TLS, a full handshake: hey keeps no
// session cache) for every request, cfg.conns at a time.
func runHey(url string) (float64, string) {
	out := runCapture("hey", "-z", fmt.Sprintf("%ds", int(cfg.loadDur.Seconds())), "-c", strconv.Itoa(cfg.conns), "-t", "20", "-disable-keepalive", url)
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		fatalf("hey %s: no Requests/sec in\n%s", url, out)
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	var errs []string
	for _, c := range reHeyCode.FindAllStringSubmatch(out, -1) {
		if c[1] != "200" {
			errs = append(errs, c[2]+" responses "+c[1])
		}
	}
	if m := reHeyError.FindStringSubmatch(out); m != nil {
		n := 0
		for _, l := range strings.Split(m[1], "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "[") {
				k, _ := strconv.Atoi(strings.Trim(f[0], "[]"))
				n += k
			}
		}
		errs = append(errs, fmt.Sprintf("%d errors", n))
	}
	return rps, strings.Join(errs, ", ")
}

// ---- 4. bulk ----

func bulk(rep *report) {
	const sec = "bulk"
	cache := serverCacheDir()
	wasm := guest("echo")
	pTLS, pTCP, pNat, pNatPlain := freePort(), freePort(), freePort(), freePort()
	kTLS := start("keep tls echo", append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--config", keepConfig("tls", pTLS), wasm)...)
	nat := start("native tls echo", native("tlsecho"), "-addr", fmt.Sprintf("127.0.0.1:%d", pNat))
	natPlain := start("native tcp echo", native("tlsecho"), "-plain", "-addr", fmt.Sprintf("127.0.0.1:%d", pNatPlain))
	waitPort(kTLS, pTLS)
	kTCP := start("keep tcp echo", append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--config", keepConfig("tcp", pTCP), wasm)...)
	waitPort(kTCP, pTCP)
	waitPort(nat, pNat)
	waitPort(natPlain, pNatPlain)
	const anchor = "native Go TLS echo (ECDSA P-384)"
	vs := []struct {
		r    *row
		port int
		tls  bool
		p    *proc
	}{
		{rep.add(sec, "keep, tls listener", "MiB/s", false, anchor), pTLS, true, kTLS},
		{rep.add(sec, anchor, "MiB/s", false, ""), pNat, true, nat},
		{rep.add(sec, "keep, tcp listener", "MiB/s", false, "native Go TCP echo"), pTCP, false, kTCP},
		{rep.add(sec, "native Go TCP echo", "MiB/s", false, ""), pNatPlain, false, natPlain},
	}
	ps := make([]*proc, len(vs))
	for i, v := range vs {
		ps[i] = v.p
	}
	for i := range cfg.runs {
		for _, v := range vs {
			resume := pauseOthers(ps, v.p)
			mibs, err := echoThroughput(v.port, v.tls, cfg.bulkBytes)
			resume()
			if err != nil {
				fatalf("bulk %s: %v\n%s", v.r.Name, err, v.p.output())
			}
			v.r.Samples = append(v.r.Samples, mibs)
		}
		logf("bulk round %d/%d", i+1, cfg.runs)
	}
	for _, v := range vs {
		v.p.stop()
	}
}

// echoThroughput sends n bytes through an echo server while reading them
// back, and returns MiB/s of payload (each way).
func echoThroughput(port int, useTLS bool, n int64) (float64, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	t := time.Now()
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		var sent int64
		for sent < n {
			k := min(int64(len(buf)), n-sent)
			if _, err := c.Write(buf[:k]); err != nil {
				werr <- err
				return
			}
			sent += k
		}
		werr <- nil
	}()
	buf := make([]byte, 256<<10)
	var got int64
	for got < n {
		k, err := c.Read(buf)
		got += int64(k)
		if err != nil {
			return 0, fmt.Errorf("read after %d bytes: %w", got, err)
		}
	}
	if err := <-werr; err != nil {
		return 0, err
	}
	return float64(n) / (1 << 20) / time.Since(t).Seconds(), nil
}

// ---- 4b. memory per idle connection ----

// idleConns is how many idle TLS connections the memory section holds open.
const idleConns = 1000

func memory(rep *report) {
	const sec = "memory"
	cache := serverCacheDir()
	wasm := guest("echo")
	type server struct {
		name  string
		start func(port int) *proc
	}
	vs := []server{
		{"keep, tls listener (guests/echo)", func(port int) *proc {
			return start("keep tls echo (memory)", append(append([]string{cfg.keep, "run"}, keepCache(cache)...), "--config", keepConfig("tls", port), wasm)...)
		}},
		{"native Go TLS echo", func(port int) *proc {
			return start("native tls echo (memory)", native("tlsecho"), "-addr", fmt.Sprintf("127.0.0.1:%d", port))
		}},
	}
	rows := map[string][3]*row{}
	for _, v := range vs {
		rows[v.name] = [3]*row{
			rep.add(sec, v.name+": RSS, no connection", "MiB", true, ""),
			rep.add(sec, fmt.Sprintf("%s: RSS, %d idle TLS connections", v.name, idleConns), "MiB", true, ""),
			rep.add(sec, v.name+": per idle connection", "KiB", true, ""),
		}
	}
	// Every round starts a fresh server: a Go process keeps the heap it
	// grew, so a second round on the same one would measure nothing.
	for i := range cfg.runs {
		for _, v := range vs {
			port := freePort()
			p := v.start(port)
			waitPort(p, port)
			before := rssMiB(p.pid())
			conns, err := openIdle(port, idleConns)
			if err != nil {
				fatalf("memory %s: %v\n%s", v.name, err, p.output())
			}
			after := rssMiB(p.pid())
			for _, c := range conns {
				c.Close()
			}
			p.stop()
			r := rows[v.name]
			r[0].Samples = append(r[0].Samples, before)
			r[1].Samples = append(r[1].Samples, after)
			r[2].Samples = append(r[2].Samples, (after-before)*1024/idleConns)
		}
		logf("memory round %d/%d", i+1, cfg.runs)
	}
}

// openIdle opens n TLS connections to an echo server, each completing its
// handshake and one echoed byte (so the server has accepted it and its
// guest holds it), and leaves them idle.
func openIdle(port, n int) ([]net.Conn, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conns := make([]net.Conn, 0, n)
	one := make([]byte, 1)
	for range n {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte{'x'}); err == nil {
			_, err = io.ReadFull(c, one)
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("connection %d: %w", len(conns), err)
		}
		c.SetDeadline(time.Time{})
	}
	return conns, nil
}

// rssMiB is a process's resident set (VmRSS) in MiB.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fatalf("%v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	fatalf("no VmRSS for pid %d", pid)
	return 0
}

// ---- 6. verification ----

var reBench = regexp.MustCompile(`^BenchmarkVerify/([^/]+)/(cold|cached)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

func verify(rep *report) {
	const sec = "verify"
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkVerify$", "-benchtime", cfg.verifyTime, "-count", strconv.Itoa(cfg.verifyCount), "./bench"}
	logf("go %s", strings.Join(args, " "))
	out := runCapture(append([]string{"go"}, args...)...)
	rows := map[string]*row{}
	for _, l := range strings.Split(out, "\n") {
		m := reBench.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name := m[1] + ", " + m[2]
		r := rows[name]
		if r == nil {
			r = rep.add(sec, name, "µs", true, "")
			rows[name] = r
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		r.Samples = append(r.Samples, ns/1000)
	}
	if len(rows) == 0 {
		fatalf("no benchmark results in\n%s", out)
	}
}

// ---- report ----

type report struct {
	rows              []*row
	started, finished time.Time
	load0, load1      string
}

func (rep *report) add(section, name, unit string, lower bool, anchor string) *row {
	r := &row{Section: section, Name: name, Unit: unit, Lower: lower, Anchor: anchor}
	rep.rows = append(rep.rows, r)
	return r
}

func (rep *report) find(section, name string) *row {
	for _, r := range rep.rows {
		if r.Section == section && r.Name == name {
			return r
		}
	}
	return nil
}

func (rep *report) section(name string) []*row {
	var out []*row
	for _, r := range rep.rows {
		if r.Section == name {
			out = append(out, r)
		}
	}
	return out
}

// target is one of the goals: a row's median (or its ratio to
// another row's) against a limit. Several rows must all meet it.
type target struct {
	desc    string
	section string
	rows    []string
	anchor  string // ratio to this row of the same section, if set
	atMost  bool
	limit   float64
	// custom, if set, replaces the above: a figure derived from several
	// rows.
	custom func(*report) (measured, met string)
}

// instancesRow names the HTTP row of a keep running n instances of the
// guest (n >= 2; instances = 1 is "keep, tls listener").
func instancesRow(n int) string { return fmt.Sprintf("keep, tls listener, instances = %d", n) }

// instances2 is the row of the scaling target.
var instances2 = instancesRow(2)

var targets = []target{
	{"warm start ≤ 1.0× wazero (time)", "startup", []string{"keep run, cache warm (--cache-dir)"}, "wazero run, cache warm (-cachedir)", true, 1.0, nil},
	{"TLS keep-alive req/s ≥ 0.95× wazero plain HTTP", "http-keepalive", []string{"keep, tls listener"}, "wazero run -listen (plain HTTP)", false, 0.95, nil},
	{"TLS keep-alive req/s with instances = 2 ≥ 1.6× instances = 1", "http-keepalive", []string{instances2}, "keep, tls listener", false, 1.6, nil},
	{desc: "instances = 2 vs 1: the best ratio the CPU allows (cores / CPU that keep and wrk used at instances = 1; bench/NOTES.md)", custom: scalingBound},
	{"new RA-TLS connections/s ≥ 0.95× native Go TLS (P-384)", "http-newconn", []string{"keep, tls listener"}, "native Go HTTPS (ECDSA P-384)", false, 0.95, nil},
	{"idle keep ≤ 1 % CPU", "idle", []string{"keep, tls listener", "keep, tcp listener"}, "", true, 1, nil},
	{"verify ≤ 5 ms cold", "verify", []string{"sim, cold", "tdx-fake, cold", "tdx-fake-collateral, cold", "sgx-gramine, cold"}, "", true, 5000, nil},
	{"verify ≤ 50 µs cached", "verify", []string{"sim, cached", "tdx-fake, cached", "tdx-fake-collateral, cached", "sgx-gramine, cached"}, "", true, 50, nil},
	{"bulk TLS echo ≥ 0.85× native Go TLS echo", "bulk", []string{"keep, tls listener"}, "native Go TLS echo (ECDSA P-384)", false, 0.85, nil},
	{"idle RSS with 1000 idle TLS connections ≤ 128 MiB", "memory", []string{"keep, tls listener (guests/echo): RSS, 1000 idle TLS connections"}, "", true, 128, nil},
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "n/a"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// scalingBound is the most that instances = 2 could give over instances
// = 1 if keep and wrk kept their CPU cost per request: at instances = 1
// they used K + W cores; all NumCPU cores at the same cost per request
// serve NumCPU / (K + W) times as many (bench/NOTES.md, "Instances").
func scalingBound(rep *report) (string, string) {
	k := rep.find("http-cpu", "instances = 1: keep").median()
	w := rep.find("http-cpu", "instances = 1: wrk").median()
	o := rep.find("http-cpu", "instances = 1: other processes").median()
	if math.IsNaN(k) || math.IsNaN(w) || runtime.NumCPU() < 2 {
		return "not measured", "–"
	}
	c := float64(runtime.NumCPU())
	bound := c / (k + w)
	s := fmt.Sprintf("%s× (%d cores / (keep %s + wrk %s cores))", fmtNum(bound), runtime.NumCPU(), fmtNum(k), fmtNum(w))
	if o >= 0.05 {
		s += fmt.Sprintf("; other processes took %s cores meanwhile: %s× with what they left", fmtNum(o), fmtNum((c-o)/(k+w)))
	}
	if r1, r2 := rep.find("http-keepalive", "keep, tls listener").median(), rep.find("http-keepalive", instances2).median(); !math.IsNaN(r2) {
		s += fmt.Sprintf("; measured %s× = %.0f %% of it", fmtNum(r2/r1), 100*r2/r1/bound)
	}
	possible := "1.6× possible"
	if bound < 1.6 {
		possible = "1.6× impossible"
	}
	return s, possible
}

func (t target) eval(rep *report) (measured string, met string) {
	if t.custom != nil {
		return t.custom(rep)
	}
	var parts []string
	all, any := true, false
	for _, name := range t.rows {
		r := rep.find(t.section, name)
		if r == nil || len(r.Samples) == 0 {
			continue
		}
		any = true
		v, s := r.median(), ""
		if t.anchor != "" {
			a := rep.find(t.section, t.anchor)
			v = v / a.median()
			s = fmt.Sprintf("%s× (%s vs %s %s)", fmtNum(v), fmtNum(r.median()), fmtNum(a.median()), r.Unit)
		} else {
			s = fmtNum(v) + " " + r.Unit
		}
		if len(t.rows) > 1 {
			s = name + ": " + s
		}
		ok := (t.atMost && v <= t.limit) || (!t.atMost && v >= t.limit)
		if !ok {
			s = "**" + s + "**"
		}
		all = all && ok
		parts = append(parts, s)
	}
	if !any {
		return "not measured", "–"
	}
	met = "met"
	if !all {
		met = "**not met**"
	}
	return strings.Join(parts, "; "), met
}

var sections = []struct{ key, title, text string }{
	{"startup", "1. Start-up: hello.wasm",
		"Wall time of one run of guests/hello (2.6 MB Go wasip1 module), from exec to exit. " +
			"Warm: the compilation cache filled by a previous run (keep `--cache-dir` with `--cache-key`, wazero `-cachedir`); " +
			"cold: no cache, every run compiles; keep compiles with GOMAXPROCS workers, `wazero run` with one unless given `-workers`. " +
			"Native is the same source built for linux/amd64. " +
			"wasmtime rows: bench/wasmtime (wasmtime-go v39, Cranelift, parallel compilation) with its serialized-module cache for warm starts, as Enarx's engine; the HTTP sections have no wasmtime rows (its C API cannot hand a guest preopened sockets)."},
	{"compute", "2. Compute: guests/compute",
		"Wall time of `compute sha256 32` (SHA-256 over 32 MiB of generated data) and `compute json 5000` " +
			"(5000 encoding/json round trips of a 1 KiB document), caches warm so compilation is not counted. " +
			"Native is the same source built for linux/amd64 (its SHA-256 uses the CPU's SHA instructions; the Wasm build cannot)."},
	{"http-keepalive", "3a. HTTP, keep-alive",
		"guests/http's `GET /`, wrk with 2 threads and %d keep-alive connections for %s per run. " +
			"`wazero run -listen` gets `HTTP_SET_NONBLOCK=1`. The native server is the same handler in net/http with a fresh ECDSA P-384 self-signed certificate and the tls.Config of a keep's listener (bench/native/https). " +
			"\"keep, tls listener, instances = N\" (N = 2 to the number of cores) is the same keep with `--instances N` (N instances of the guest sharing the listener, connections spread by the keep; docs/RATIONALE.md, \"Instances\"), compared with one instance; section 3d gives the CPU each used."},
	{"http-newconn", "3b. HTTP, a new connection per request",
		"hey `-disable-keepalive` with %d workers for %s per run: every request opens a TCP connection and, over TLS, makes a full handshake " +
			"(hey keeps no session cache). TLS rows are compared with the native Go TLS server, with the same key type (P-384); plain rows with wazero."},
	{"http-resumed", "3c. HTTPS, a new connection per request, sessions resumed",
		"%d clients in the harness for %s per run, each opening a TLS connection per request (`GET /`, `Connection: close`) and resuming the TLS session of an earlier one, " +
			"as keep proxy and netattest clients do (docs/RATIONALE.md, \"TLS session resumption for clients\"): no certificate signature or verification per connection. Same servers as 3b."},
	{"http-cpu", "3d. HTTP keep-alive: CPU during the instances rows",
		"For \"keep, tls listener\" (instances = 1) and each instances = N row of 3a: the cores (CPU seconds per second of the wrk window) used by the keep (utime+stime from /proc/PID/stat before and after), by wrk (its utime+stime at exit), and by every other process on the machine (busy time from /proc/stat less those two). " +
			"The targets table derives from the instances = 1 figures the best ratio instances = 2 could reach: bench/NOTES.md, \"Instances\"."},
	{"bulk", "4. Bulk: 1 GiB through an echo server",
		"One connection; the client (in the harness) writes %s while reading the echo back; MiB/s of payload each way. " +
			"guests/echo behind a keep listener; the native echo is the same loop (`io.Copy(c, c)`) in bench/native/tlsecho."},
	{"idle", "5. Idle CPU",
		"CPU time (user+system, /proc/PID/stat) of each HTTP server over %s after it has served one request, as a share of one core."},
	{"memory", "4b. Memory: idle TLS connections",
		"Resident set (VmRSS) of an echo server before and after the harness opens 1000 TLS connections to it, each completing its handshake and one echoed byte, then left idle; " +
			"per idle connection = the difference / 1000. guests/echo behind a keep tls listener against the native Go TLS echo (bench/native/tlsecho)."},
	{"verify", "6. RA-TLS certificate verification",
		"`go test -bench Verify ./bench` (bench/verify_test.go), %d × -benchtime %s; median µs per verification. " +
			"cold: a fresh netattest.Verifier (empty fingerprint cache); cached: the same Verifier again. " +
			"sim: a sim-backed certificate; tdx-fake: a TDX quote from the keeps/tdx/tdxtest signer verified by go-tdx-guest against the test root, without and with the signer's DCAP collateral (TCB evaluation, CRLs); " +
			"sgx-gramine: the real Gramine certificate from ../shared/vectors/ra-tls (quote and PCK chain to the pinned Intel root; no collateral ships with it)."},
}

func (rep *report) write() error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Benchmarks\n\n")
	p("`make bench` (bench/run.sh and bench/harness) measured everything below and wrote this file. ")
	p("Each variant ran in interleaved rounds with the others of its workload; a figure is the median of the rounds, and a ratio compares it with the anchor measured in the same run. ")
	p("Absolute figures depend on the machine: the ratios are the result. None of this runs in `make test`.\n\n")

	p("## Machine and run\n\n")
	total := rep.finished.Sub(rep.started)
	if s := os.Getenv("BENCH_START"); s != "" {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			total = rep.finished.Sub(time.Unix(sec, 0))
		}
	}
	p("| | |\n| --- | --- |\n")
	p("| date | %s |\n", rep.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("| `make bench` took | %s (build included) |\n", total.Round(time.Second))
	p("| uname -a | `%s` |\n", strings.TrimSpace(cmdOut("uname", "-a")))
	p("| CPU | %s, %d cores (`nproc`) |\n", cpuModel(), runtime.NumCPU())
	p("| Go | %s |\n", strings.TrimSpace(cmdOut("go", "env", "GOVERSION")))
	p("| wazero | %s (CLI `%s version`; Keep links the same) |\n", strings.TrimSpace(cmdOut(cfg.wazero, "version")), filepath.Base(cfg.wazero))
	p("| keep | %s (git %s) |\n", strings.ReplaceAll(strings.TrimSpace(cmdOut(cfg.keep, "version")), "\n", ", "), strings.TrimSpace(cmdOut("git", "describe", "--tags", "--always", "--dirty")))
	p("| load average | %s at the start, %s at the end |\n", rep.load0, rep.load1)
	p("| settings | start-up %d runs cold, %d warm and native; compute, load and bulk %d rounds; load windows %s at %d connections; bulk %s per run |\n\n",
		cfg.startRuns, 5*cfg.startRuns, cfg.runs, cfg.loadDur, cfg.conns, fmtBytes(cfg.bulkBytes))

	p("## Targets\n\n| target | measured | |\n| --- | --- | --- |\n")
	for _, t := range targets {
		m, met := t.eval(rep)
		p("| %s | %s | %s |\n", t.desc, m, met)
	}
	p("\nWhat limits the missed ones, and what would lift them: see [Analysis](#analysis).\n\n")

	p("## Results\n\n")
	for _, s := range sections {
		rows := rep.section(s.key)
		if len(rows) == 0 {
			continue
		}
		text := s.text
		switch s.key {
		case "http-keepalive", "http-newconn", "http-resumed":
			text = fmt.Sprintf(text, cfg.conns, cfg.loadDur)
		case "bulk":
			text = fmt.Sprintf(text, fmtBytes(cfg.bulkBytes))
		case "idle":
			text = fmt.Sprintf(text, cfg.idleFor)
		case "verify":
			text = fmt.Sprintf(text, cfg.verifyCount, cfg.verifyTime)
		}
		p("### %s\n\n%s\n\n", s.title, text)
		better := "lower is better"
		if !rows[0].Lower {
			better = "higher is better"
		}
		if rows[0].Unit == "cores" {
			better = "of " + strconv.Itoa(runtime.NumCPU())
		}
		p("| variant | median %s (%s) | ratio | runs |\n| --- | --- | --- | --- |\n", rows[0].Unit, better)
		for _, r := range rows {
			ratio := "anchor"
			if r.Anchor != "" {
				a := rep.find(s.key, r.Anchor)
				ratio = fmt.Sprintf("%s× %s", fmtNum(r.median()/a.median()), shortName(r.Anchor))
			} else if !slices.ContainsFunc(rows, func(o *row) bool { return o.Anchor == r.Name }) {
				ratio = ""
			}
			runs := make([]string, len(r.Samples))
			for i, v := range r.Samples {
				runs[i] = fmtNum(v)
			}
			if len(runs) > 6 {
				runs = []string{fmt.Sprintf("%d runs, %s to %s", len(r.Samples), fmtNum(slices.Min(r.Samples)), fmtNum(slices.Max(r.Samples)))}
			}
			name := r.Name
			if len(r.Notes) > 0 {
				name += " (" + strings.Join(r.Notes, "; ") + ")"
			}
			p("| %s | %s | %s | %s |\n", name, fmtNum(r.median()), ratio, strings.Join(runs, ", "))
		}
		p("\n")
	}

	if notes, err := os.ReadFile(cfg.notes); err == nil {
		p("%s", notes)
	} else {
		logf("no %s: %v", cfg.notes, err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	logf("wrote %s", cfg.out)
	if cfg.rawOut != "" {
		os.MkdirAll(filepath.Dir(cfg.rawOut), 0o755)
		raw, _ := json.MarshalIndent(rep.rows, "", "  ")
		if err := os.WriteFile(cfg.rawOut, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func shortName(s string) string {
	if i := strings.IndexAny(s, "(,:"); i > 0 {
		return "vs " + strings.TrimSpace(s[:i])
	}
	return "vs " + s
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}

func cmdOut(args ...string) string {
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		return "?"
	}
	return string(out)
}

// cpuModel is the first CPU's model name, family, model and stepping.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	f := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if f["model name"] == "" {
		return "?"
	}
	return fmt.Sprintf("%s (family %s, model %s, stepping %s)", f["model name"], f["cpu family"], f["model"], f["stepping"])
}
