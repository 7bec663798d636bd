package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangGuard bounds every keep run of these tests, so that a keep that fails
// to stop fails the test instead of hanging it. It is not a timing assertion.
const hangGuard = 30 * time.Second

// watDir holds the WAT sources of the modules these tests run.
var watDir = filepath.Join(repoRoot, "tests", "testdata", "wat")

// compileWAT compiles testdata/wat/NAME.wat with wat2wasm into a new
// temporary directory and returns that directory; the module is NAME.wasm
// in it.
func compileWAT(t testing.TB, name string) string {
	t.Helper()
	w2w, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm (from wabt) is needed to build the WAT test modules but is not on PATH: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, name+".wasm")
	if msg, err := exec.Command(w2w, filepath.Join(watDir, name+".wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s.wat: %v\n%s", name, err, msg)
	}
	return dir
}

// keepGuarded is keep (see main_test.go) with a hang guard: the process is
// killed after hangGuard and the test fails.
func keepGuarded(t testing.TB, dir string, stdin []byte, args ...string) result {
	t.Helper()
	return runKeep(t, dir, stdin, nil, hangGuard, args...)
}

// runKeep runs keep in dir with stdin, extra environment variables
// (NAME=VALUE) and guard as its hang guard (a bound, not a timing
// assertion), and returns its exit code and output.
func runKeep(t testing.TB, dir string, stdin []byte, env []string, guard time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	cmd := exec.CommandContext(ctx, keepBin, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("keep %q did not finish within %v (killed)\nstdout: %q\nstderr: %q", args, guard, o.String(), e.String())
	}
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("keep %q: %v", args, err)
	}
	return result{code: code, stdout: o.String(), stderr: e.String()}
}

// checkNoCrash fails the test if keep's output looks like a Go panic.
func checkNoCrash(t testing.TB, r result) {
	t.Helper()
	for _, s := range []string{r.stderr, r.stdout} {
		for _, bad := range []string{"panic", "goroutine ", "runtime error", ".go:"} {
			if strings.Contains(s, bad) {
				t.Errorf("output contains %q (a Go crash?):\nstdout: %q\nstderr: %q", bad, r.stdout, r.stderr)
			}
		}
	}
}

// checkOneLine fails the test unless stderr is exactly one line that starts
// with prefix.
func checkOneLine(t testing.TB, r result, prefix string) {
	t.Helper()
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr is not exactly one line: %q", r.stderr)
	}
	if !strings.HasPrefix(r.stderr, prefix) {
		t.Errorf("stderr = %q, want it to start with %q", r.stderr, prefix)
	}
}

func TestWATExitCode(t *testing.T) {
	t.Parallel()
	dir := compileWAT(t, "exit")
	for _, code := range []int{0, 1, 42, 255} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			r := keepGuarded(t, dir, nil, "run", "exit.wasm", fmt.Sprint(code))
			if r.code != code {
				t.Errorf("exit code %d, want the guest's proc_exit code %d (stderr %q)", r.code, code, r.stderr)
			}
			if r.stdout != "" || r.stderr != "" {
				t.Errorf("unexpected output: stdout %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

func TestWATPrintAndReturn(t *testing.T) {
	t.Parallel()
	dir := compileWAT(t, "print")
	r := keepGuarded(t, dir, nil, "run", "print.wasm")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if want := "hello from wat\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want empty", r.stderr)
	}
}

func TestWATTraps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		module string
		reason string // wazero's one-line trap cause
	}{
		{"trap_unreachable", "unreachable"},
		{"trap_div", "integer divide by zero"},
		{"trap_oob", "out of bounds memory access"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			t.Parallel()
			dir := compileWAT(t, tc.module)
			r := keepGuarded(t, dir, nil, "run", tc.module+".wasm")
			if r.code != 134 {
				t.Errorf("exit code %d, want 134 (trap)", r.code)
			}
			want := fmt.Sprintf("keep: %s.wasm: trap: %s\n", tc.module, tc.reason)
			if r.stderr != want {
				t.Errorf("stderr = %q, want %q", r.stderr, want)
			}
			checkOneLine(t, r, "keep: "+tc.module+".wasm: trap: ")
			if r.stdout != "" {
				t.Errorf("stdout = %q, want empty", r.stdout)
			}
			checkNoCrash(t, r)
		})
	}
}

// TestWATDefaultExport runs a module whose only entry point is the default
// export "" (wasmtime and Enarx run it when there is no _start).
func TestWATDefaultExport(t *testing.T) {
	t.Parallel()
	dir := compileWAT(t, "default_export")
	r := keepGuarded(t, dir, nil, "run", "default_export.wasm")
	if r.code != 5 || r.stdout != "default\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 5, \"default\\n\"", r.code, r.stdout, r.stderr)
	}
}

func TestWATLinkErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		module string
		want   []string // substrings of the one-line error
	}{
		{"nostart", []string{"_start", "default export"}},
		{"import_env", []string{"env.foo"}},
		{"import_wasi_unknown", []string{"wasi_snapshot_preview1.no_such_call"}},
	} {
		t.Run(tc.module, func(t *testing.T) {
			t.Parallel()
			dir := compileWAT(t, tc.module)
			r := keepGuarded(t, dir, nil, "run", tc.module+".wasm")
			if r.code != 125 {
				t.Errorf("exit code %d, want 125 (keep could not run the module)", r.code)
			}
			checkOneLine(t, r, "keep: "+tc.module+".wasm: ")
			for _, s := range tc.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr = %q, want it to mention %q", r.stderr, s)
				}
			}
			checkNoCrash(t, r)
		})
	}
}

func TestWATMaxMemory(t *testing.T) {
	t.Parallel()
	// grow.wasm exits 3 when memory.grow by 4 pages fails, 4 when it works.
	for _, tc := range []struct {
		name   string
		args   []string
		module string
		code   int
	}{
		{"grow-unlimited", nil, "grow", 4},
		{"grow-2-pages", []string{"--max-memory", "2"}, "grow", 3},
		{"grow-128KiB", []string{"--max-memory", "128KiB"}, "grow", 3},
		{"grow-5-pages", []string{"--max-memory", "5"}, "grow", 4},
		{"grow-320KiB", []string{"--max-memory", "320KiB"}, "grow", 4},
		{"declared-over-limit", []string{"--max-memory", "2"}, "memory10", 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := compileWAT(t, tc.module)
			args := append(append([]string{"run"}, tc.args...), tc.module+".wasm")
			r := keepGuarded(t, dir, nil, args...)
			if r.code != tc.code {
				t.Errorf("keep %q: exit code %d, want %d (stderr %q)", args, r.code, tc.code, r.stderr)
			}
			checkNoCrash(t, r)
			if tc.code != 125 {
				if r.stderr != "" {
					t.Errorf("stderr = %q, want empty", r.stderr)
				}
				return
			}
			checkOneLine(t, r, "keep: "+tc.module+".wasm: ")
			if !strings.Contains(r.stderr, "limit") {
				t.Errorf("stderr = %q, want it to say the memory is over the limit", r.stderr)
			}
		})
	}
}

func TestWATTimeout(t *testing.T) {
	t.Parallel()
	sleepDir := compileWAT(t, "sleep")
	busyDir := compileWAT(t, "busy")
	type tcase struct {
		name   string
		dir    string
		args   []string
		stdout string // exact stdout
	}
	cases := []tcase{
		{"busy-loop", busyDir, []string{"busy.wasm"}, ""},
	}
	// A guest stopped by --timeout while it sleeps must be stopped there:
	// it must neither see its sleep complete (print "woke") nor exit 0.
	// Stopping a sleeping guest races with the guest running on, so the
	// case runs a few times to catch a lost race.
	for i := range 5 {
		cases = append(cases, tcase{fmt.Sprintf("sleep-60s/%d", i), sleepDir, []string{"sleep.wasm", "60000"}, "sleeping\n"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"run", "--timeout", "200ms"}, tc.args...)
			r := keepGuarded(t, tc.dir, nil, args...)
			if r.code != 124 {
				t.Errorf("keep %q: exit code %d, want 124 (timeout); stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
			}
			checkOneLine(t, r, "keep: "+tc.args[0]+": ")
			if !strings.Contains(r.stderr, "timeout") {
				t.Errorf("stderr = %q, want it to mention the timeout", r.stderr)
			}
			if r.stdout != tc.stdout {
				t.Errorf("stdout = %q, want %q (the guest ran on after --timeout stopped it)", r.stdout, tc.stdout)
			}
			checkNoCrash(t, r)
		})
	}
}

func TestWATSleepCompletes(t *testing.T) {
	t.Parallel()
	dir := compileWAT(t, "sleep")
	r := keepGuarded(t, dir, nil, "run", "sleep.wasm", "50")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if want := "sleeping\nwoke\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want empty", r.stderr)
	}
}

// TestWATSignals: a signal stops a sleeping guest (which returns through
// the run's context) and a spinning one (which never makes another host
// call: keep exits by itself after its grace period) with 128+signal.
func TestWATSignals(t *testing.T) {
	t.Parallel()
	sleepDir := compileWAT(t, "sleep")
	spinDir := compileWAT(t, "spin")
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		sig  syscall.Signal
		code int
	}{
		{"SIGTERM", sleepDir, []string{"sleep.wasm", "60000"}, syscall.SIGTERM, 143},
		{"SIGINT", sleepDir, []string{"sleep.wasm", "60000"}, syscall.SIGINT, 130},
		{"spin/SIGTERM", spinDir, []string{"spin.wasm"}, syscall.SIGTERM, 143},
		{"spin/SIGINT", spinDir, []string{"spin.wasm"}, syscall.SIGINT, 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.CommandContext(ctx, keepBin, append([]string{"run"}, tc.args...)...)
			cmd.Dir = tc.dir
			cmd.WaitDelay = 5 * time.Second
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The guest writes "sleeping" just before it sleeps: once the
			// line is read, keep is running the guest and handles signals.
			out := bufio.NewReader(pipe)
			line, err := out.ReadString('\n')
			if err != nil || line != "sleeping\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("first line of stdout = %q, %v; want \"sleeping\\n\" (stderr %q)", line, err, stderr.String())
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(out)
			err = cmd.Wait()
			if ctx.Err() != nil {
				t.Fatalf("keep did not stop on %v within %v (killed)", tc.sig, hangGuard)
			}
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			r := result{code: cmd.ProcessState.ExitCode(), stdout: line + string(rest), stderr: stderr.String()}
			if r.code != tc.code {
				t.Errorf("exit code %d after %v, want %d (stderr %q)", r.code, tc.sig, tc.code, r.stderr)
			}
			if r.stdout != "sleeping\n" {
				t.Errorf("stdout = %q, want %q (the guest ran on after %v stopped it)", r.stdout, "sleeping\n", tc.sig)
			}
			// One line, naming the module and the signal.
			checkOneLine(t, r, "keep: "+tc.args[0]+": stopped by "+tc.name[strings.Index(tc.name, "SIG"):])
			checkNoCrash(t, r)
		})
	}
}

func TestExitHelloGuest(t *testing.T) {
	t.Parallel()
	wasm := buildGuest(t, "hello")
	for _, code := range []int{0, 1, 42, 255} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			env := fmt.Sprintf("HELLO_EXIT=%d", code)
			r := keepGuarded(t, "", nil, "run", "--env", env, wasm, "Bob")
			if r.code != code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
			}
			for _, want := range []string{"Hello, Bob, from a keep!\n", "env: " + env + "\n"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout = %q, want it to contain %q", r.stdout, want)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want empty", r.stderr)
			}
		})
	}
}

// Guard against the WAT sources going missing: every .wat must compile.
func TestWATSourcesCompile(t *testing.T) {
	t.Parallel()
	ms, err := filepath.Glob(filepath.Join(watDir, "*.wat"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no WAT sources in %s (%v)", watDir, err)
	}
	for _, m := range ms {
		name := strings.TrimSuffix(filepath.Base(m), ".wat")
		dir := compileWAT(t, name)
		if _, err := os.Stat(filepath.Join(dir, name+".wasm")); err != nil {
			t.Error(err)
		}
	}
}
