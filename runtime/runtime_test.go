package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- helpers shared by the package's tests ----

var (
	wat2wasmOnce sync.Once
	wat2wasmPath string
	wat2wasmErr  error
)

// wat assembles WebAssembly text with wabt's wat2wasm (Debian package
// "wabt"). The tests fail, not skip, without it: the engine tests are the
// only check of Keep's WASI defaults.
func wat(t testing.TB, src string) []byte {
	t.Helper()
	wat2wasmOnce.Do(func() { wat2wasmPath, wat2wasmErr = exec.LookPath("wat2wasm") })
	if wat2wasmErr != nil {
		t.Fatalf("wat2wasm is needed to build the test modules (apt-get install wabt): %v", wat2wasmErr)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(wat2wasmPath, "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s\n--- source ---\n%s", err, b, src)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// watModule wraps body (module fields) with the WASI imports the test
// modules use, a 1-page exported memory, and a $check function that traps
// on a non-zero errno.
func watModule(body string) string {
	return `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $check (param i32) (if (local.get 0) (then unreachable)))
  ;; write(fd, ptr, len) writes one buffer through the iovec at 0 and
  ;; traps unless all of it was written.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $check (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.ne (i32.load (i32.const 8)) (local.get $len)) (then unreachable)))
` + body + "\n)"
}

// Test modules. Memory layout: 0-15 scratch (iovec, counts), 16+ data.
var (
	watExit = func(code int) string {
		return watModule(fmt.Sprintf(`(func (export "_start") (call $exit (i32.const %d)))`, code))
	}
	watReturn = watModule(`(func (export "_start"))`)
	watTrap   = watModule(`(func (export "_start") unreachable)`)
	// watStdio writes "one\n" to fd 1 and "two\n" to fd 2.
	watStdio = watModule(`
  (data (i32.const 16) "one\n")
  (data (i32.const 20) "two\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 4))
    (call $write (i32.const 2) (i32.const 20) (i32.const 4)))`)
	// watEcho copies fd 0 to fd 1 until EOF.
	watEcho = watModule(`
  (func (export "_start")
    (block $eof (loop $l
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (call $check (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br_if $eof (i32.eqz (i32.load (i32.const 8))))
      (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 8)))
      (br $l))))`)
	// watRandom fills two 32-byte buffers with random_get and writes both.
	watRandom = watModule(`
  (func (export "_start")
    (call $check (call $random (i32.const 16) (i32.const 32)))
    (call $check (call $random (i32.const 48) (i32.const 32)))
    (call $write (i32.const 1) (i32.const 16) (i32.const 64)))`)
	// watClock writes the realtime then the monotonic clock, 8 bytes LE each.
	watClock = watModule(`
  (func (export "_start")
    (call $check (call $clock (i32.const 0) (i64.const 1) (i32.const 16)))
    (call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 24)))
    (call $write (i32.const 1) (i32.const 16) (i32.const 16)))`)
	// watEnviron and watArgs write the raw environ/argv buffer (NUL-terminated strings).
	watEnviron = watModule(dumpStrings("$environ_sizes", "$environ"))
	watArgs    = watModule(dumpStrings("$args_sizes", "$args"))
	// watSleep writes "sleeping\n" to fd 1, then sleeps 60 s at a time in
	// poll_oneoff, forever.
	watSleep = watModule(`
  (data (i32.const 16) "sleeping\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 9))
    ;; subscription at 64: userdata 0, tag 0 (clock) at 72,
    ;; clock id 1 (monotonic) at 80, timeout at 88, flags 0 (relative) at 104.
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 60000000000))
    (loop $l
      (call $check (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
      (br $l)))`)
	// watGrow grows a 1-page memory by 2 pages (must give 1), then by 10 more
	// (must fail with -1 under a 4-page limit), and checks it has 3 pages. The
	// exit code tells which step went wrong.
	watGrow = watModule(`
  (func (export "_start")
    (if (i32.ne (memory.grow (i32.const 2)) (i32.const 1)) (then (call $exit (i32.const 1))))
    (if (i32.ne (memory.grow (i32.const 10)) (i32.const -1)) (then (call $exit (i32.const 2))))
    (if (i32.ne (memory.size) (i32.const 3)) (then (call $exit (i32.const 3))))
    (call $exit (i32.const 0)))`)
)

func dumpStrings(sizes, get string) string {
	return fmt.Sprintf(`
  (func (export "_start")
    ;; count at 0, buffer size at 4, pointers at 1024, strings at 8192.
    (call $check (call %s (i32.const 0) (i32.const 4)))
    (call $check (call %s (i32.const 1024) (i32.const 8192)))
    (call $write (i32.const 1) (i32.const 8192) (i32.load (i32.const 4))))`, sizes, get)
}

func newEngine(t testing.TB, cfg EngineConfig) *Engine {
	t.Helper()
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func compile(t testing.TB, e *Engine, name string, wasm []byte) *Module {
	t.Helper()
	m, err := e.Compile(context.Background(), name, wasm)
	if err != nil {
		t.Fatalf("Compile(%s): %v", name, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// runWAT compiles src on a fresh engine and runs it with rc, returning its
// exit code and stdout.
func runWAT(t *testing.T, src string, rc RunConfig) (uint32, []byte) {
	t.Helper()
	m := compile(t, newEngine(t, EngineConfig{}), "test.wasm", wat(t, src))
	var out bytes.Buffer
	if rc.Stdout == nil {
		rc.Stdout = &out
	}
	code, err := m.Run(context.Background(), rc)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return code, out.Bytes()
}

// logRecorder is a slog.Handler that keeps the messages it receives.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// has reports whether a message containing substr was logged.
func (r *logRecorder) has(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

func (r *logRecorder) reset() {
	r.mu.Lock()
	r.msgs = nil
	r.mu.Unlock()
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "; ")
}

// ---- Engine tests ----

func TestNewEngineMaxMemoryPages(t *testing.T) {
	if _, err := NewEngine(EngineConfig{MaxMemoryPages: MaxPages + 1}); err == nil {
		t.Fatalf("NewEngine(MaxMemoryPages: %d): no error", MaxPages+1)
	}
	for _, p := range []uint32{0, 1, MaxPages} {
		e, err := NewEngine(EngineConfig{MaxMemoryPages: p})
		if err != nil {
			t.Fatalf("NewEngine(MaxMemoryPages: %d): %v", p, err)
		}
		e.Close(context.Background())
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want uint32
	}{
		{"proc_exit 42", watExit(42), 42},
		{"proc_exit 0", watExit(0), 0},
		{"proc_exit 255", watExit(255), 255},
		{"_start returns", watReturn, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := runWAT(t, tc.src, RunConfig{})
			if code != tc.want {
				t.Errorf("exit code %d, want %d", code, tc.want)
			}
		})
	}
}

func TestRunTrap(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "trap.wasm", wat(t, watTrap))
	code, err := m.Run(context.Background(), RunConfig{})
	var te *TrapError
	if !errors.As(err, &te) {
		t.Fatalf("Run = %d, %v (%T); want a *TrapError", code, err, err)
	}
	if !strings.Contains(te.Reason, "unreachable") {
		t.Errorf("Reason = %q, want it to mention unreachable", te.Reason)
	}
	if strings.Contains(te.Reason, "\n") {
		t.Errorf("Reason %q is not one line", te.Reason)
	}
	if !strings.HasPrefix(te.Error(), "trap: ") {
		t.Errorf("Error() = %q", te.Error())
	}
}

func TestCompileErrors(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	ctx := context.Background()

	t.Run("no _start", func(t *testing.T) {
		_, err := e.Compile(ctx, "lib.wasm", wat(t, `(module (memory (export "memory") 1) (func (export "f")))`))
		if !errors.Is(err, ErrNoStart) {
			t.Fatalf("err = %v, want ErrNoStart", err)
		}
	})
	t.Run("default export only", func(t *testing.T) {
		// Like wasmtime and Enarx: without _start, the default export ""
		// is the entry point.
		m, err := e.Compile(ctx, "default.wasm", wat(t, watModule(`(func (export "") (call $exit (i32.const 7)))`)))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		code, err := m.Run(ctx, RunConfig{})
		if err != nil || code != 7 {
			t.Fatalf("Run = %d, %v; want 7, nil", code, err)
		}
	})
	t.Run("_start before default export", func(t *testing.T) {
		m, err := e.Compile(ctx, "both.wasm", wat(t, watModule(`(func (export "") (call $exit (i32.const 7))) (func (export "_start") (call $exit (i32.const 9)))`)))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		code, err := m.Run(ctx, RunConfig{})
		if err != nil || code != 9 {
			t.Fatalf("Run = %d, %v; want 9, nil", code, err)
		}
	})
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"non-WASI import", `(module (import "env" "foo" (func)) (func (export "_start")))`,
			[]string{"env.foo", "wasi_snapshot_preview1"}},
		{"unknown WASI function", `(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))`,
			[]string{"wasi_snapshot_preview1.no_such_call", "not part of WASI preview1"}},
		{"imported memory", `(module (import "env" "mem" (memory 1)) (func (export "_start")))`,
			[]string{"env.mem", "memor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(ctx, "x.wasm", wat(t, tc.src))
			var le *LinkError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v (%T), want *LinkError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(le.Error(), w) {
					t.Errorf("error %q does not contain %q", le.Error(), w)
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n")},
		{"empty", nil},
		{"magic only", []byte("\x00asm")},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00")},
		{"garbage section", []byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := e.Compile(ctx, "bad.wasm", tc.wasm)
			var ce *CompileError
			if !errors.As(err, &ce) {
				if m != nil {
					m.Close(ctx)
				}
				t.Fatalf("err = %v (%T), want *CompileError", err, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid module: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
	t.Run("not wasm wraps ErrNotWasm", func(t *testing.T) {
		_, err := e.Compile(ctx, "bad.wasm", []byte("hello, world"))
		if !errors.Is(err, ErrNotWasm) {
			t.Fatalf("err = %v, want it to wrap ErrNotWasm", err)
		}
	})
}

func TestCompileDigest(t *testing.T) {
	wasm := wat(t, watReturn)
	m := compile(t, newEngine(t, EngineConfig{}), "dir/x.wasm", wasm)
	if m.Digest != DigestOf(wasm) {
		t.Errorf("Module.Digest = %v, want %v", m.Digest, DigestOf(wasm))
	}
	if m.Name != "dir/x.wasm" {
		t.Errorf("Module.Name = %q", m.Name)
	}
}

func TestMaxMemoryPages(t *testing.T) {
	wasm := wat(t, watGrow)
	ctx := context.Background()

	m := compile(t, newEngine(t, EngineConfig{MaxMemoryPages: 4}), "grow.wasm", wasm)
	code, err := m.Run(ctx, RunConfig{})
	if err != nil || code != 0 {
		t.Errorf("with a 4-page limit: Run = %d, %v; want 0 (exit 1: grow 2 failed, 2: grow 10 succeeded, 3: wrong size)", code, err)
	}

	// Without the limit, growing to 13 pages succeeds, so the module exits 2.
	m = compile(t, newEngine(t, EngineConfig{}), "grow.wasm", wasm)
	if code, err := m.Run(ctx, RunConfig{}); err != nil || code != 2 {
		t.Errorf("without a limit: Run = %d, %v; want 2", code, err)
	}

	// A module whose minimum memory exceeds the limit is refused.
	e := newEngine(t, EngineConfig{MaxMemoryPages: 4})
	if m, err := e.Compile(ctx, "big.wasm", wat(t, `(module (memory 5) (func (export "_start")))`)); err == nil {
		m.Close(ctx)
		t.Errorf("Compile of a module with (memory 5) under a 4-page limit: no error")
	}
}

// signalWriter closes ch on its first write, to tell that the guest got past
// its first fd_write.
type signalWriter struct {
	once sync.Once
	ch   chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	w.once.Do(func() { close(w.ch) })
	return len(p), nil
}

func TestCancelStopsSleepingGuest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(context.Context) (context.Context, func())
		want   error
	}{
		{"cancel", func(ctx context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancel(ctx)
			return ctx, cancel
		}, context.Canceled},
		{"cause", func(ctx context.Context) (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(ctx)
			return ctx, func() { cancel(errors.New("operator said stop")) }
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, newEngine(t, EngineConfig{}), "sleep.wasm", wat(t, watSleep))
			ctx, cancel := tc.cancel(context.Background())
			w := &signalWriter{ch: make(chan struct{})}
			type result struct {
				code uint32
				err  error
			}
			done := make(chan result, 1)
			go func() {
				code, err := m.Run(ctx, RunConfig{Stdout: w})
				done <- result{code, err}
			}()
			select {
			case <-w.ch: // the guest wrote, so it is about to sleep or sleeping
			case r := <-done:
				t.Fatalf("Run returned before the guest slept: %d, %v", r.code, r.err)
			}
			cancel()
			// The guest sleeps 60 s at a time: a Run that returns within 30 s
			// was woken by the cancel. (A hang guard, not a timing assertion.)
			select {
			case r := <-done:
				if !errors.Is(r.err, tc.want) {
					t.Fatalf("Run = %d, %v; want an error wrapping %v", r.code, r.err, tc.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return within 30 s of cancel: the guest's 60 s sleep was not interrupted")
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if got := w.buf.String(); got != "sleeping\n" {
				t.Errorf("stdout = %q", got)
			}
		})
	}
}

// TestCancelDoesNotResumeSleepingGuest: a guest that sleeps once and then
// carries on (writes, exits 7) must not carry on when ctx is cancelled during
// the sleep: Run's contract is that the guest is stopped and the error wraps
// ctx.Err(). A sleeper that merely returned early on cancel would let the
// guest resume as if its sleep were over.
func TestCancelDoesNotResumeSleepingGuest(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "sleep-once.wasm", wat(t, watModule(`
  (data (i32.const 16) "sleeping\n")
  (data (i32.const 32) "woke\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 9))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 60000000000))
    (call $check (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
    (call $write (i32.const 1) (i32.const 32) (i32.const 5))
    (call $exit (i32.const 7)))`)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &signalWriter{ch: make(chan struct{})}
	type result struct {
		code uint32
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := m.Run(ctx, RunConfig{Stdout: w})
		done <- result{code, err}
	}()
	select {
	case <-w.ch:
	case r := <-done:
		t.Fatalf("Run returned before the guest slept: %d, %v", r.code, r.err)
	}
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of cancel: the guest's 60 s sleep was not interrupted")
	}
	w.mu.Lock()
	out := w.buf.String()
	w.mu.Unlock()
	if !errors.Is(r.err, context.Canceled) || out != "sleeping\n" {
		t.Errorf("after cancel during the sleep: Run = %d, %v; stdout %q\n"+
			"want an error wrapping context.Canceled and stdout \"sleeping\\n\" (the guest must not resume after its sleep)",
			r.code, r.err, out)
	}
}

func TestDeadlineStopsSleepingGuest(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "sleep.wasm", wat(t, watSleep))
	// A deadline already in the past: the guest must not run at all, and
	// Run reports the deadline.
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	_, err := m.Run(ctx, RunConfig{Stdout: io.Discard})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v; want an error wrapping context.DeadlineExceeded", err)
	}
}

func TestRandomIsCrypto(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "random.wasm", wat(t, watRandom))
	run := func() []byte {
		var out bytes.Buffer
		if code, err := m.Run(context.Background(), RunConfig{Stdout: &out}); err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		if out.Len() != 64 {
			t.Fatalf("stdout has %d bytes, want 64", out.Len())
		}
		return out.Bytes()
	}
	a, b := run(), run()
	if bytes.Equal(a[:32], a[32:]) {
		t.Errorf("two random_get calls in one run gave the same bytes %x", a[:32])
	}
	if bytes.Equal(a, b) {
		t.Errorf("two runs gave the same random bytes %x", a)
	}
	// wazero's default source is a fixed-seed generator; it must not be used.
	if bytes.Count(a, []byte{0}) == 64 {
		t.Errorf("random bytes are all zero")
	}
}

func TestClocksAreReal(t *testing.T) {
	before := time.Now()
	_, out := runWAT(t, watClock, RunConfig{})
	after := time.Now()
	if len(out) != 16 {
		t.Fatalf("stdout has %d bytes, want 16", len(out))
	}
	wall := time.Unix(0, int64(binary.LittleEndian.Uint64(out)))
	// wazero's default walltime is a fake clock in 2022; Keep uses the real one.
	if wall.Before(before.Add(-time.Minute)) || wall.After(after.Add(time.Minute)) {
		t.Errorf("guest realtime %v is not within a minute of the host's %v", wall, before)
	}
	if mono := binary.LittleEndian.Uint64(out[8:]); mono == 0 {
		t.Errorf("monotonic clock is 0")
	}
}

func TestStdioWithoutConfig(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "stdio.wasm", wat(t, watStdio))
	var out, errw bytes.Buffer
	if code, err := m.Run(context.Background(), RunConfig{Stdout: &out, Stderr: &errw}); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if out.String() != "one\n" || errw.String() != "two\n" {
		t.Errorf("stdout %q, stderr %q; want \"one\\n\", \"two\\n\"", out.String(), errw.String())
	}
	// Nil writers discard.
	if code, err := m.Run(context.Background(), RunConfig{}); err != nil || code != 0 {
		t.Fatalf("Run with nil writers = %d, %v", code, err)
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := ParseConfig("Enarx.toml", []byte(src))
	if err != nil {
		t.Fatalf("ParseConfig: %v\n%s", err, src)
	}
	return c
}

func TestStdioFromConfig(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "stdio.wasm", wat(t, watStdio))
	for _, tc := range []struct {
		name, files    string
		stdout, stderr string
	}{
		{"stdin null stdout", `
[[files]]
kind = "stdin"
[[files]]
kind = "null"
[[files]]
kind = "stdout"
`, "two\n", ""},
		{"swapped", `
[[files]]
kind = "null"
[[files]]
kind = "stderr"
[[files]]
kind = "stdout"
`, "two\n", "one\n"},
		{"template", ConfigTemplate, "one\n", "two\n"},
		{"no files", "args = []\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			code, err := m.Run(context.Background(), RunConfig{Config: mustParse(t, tc.files), Stdout: &out, Stderr: &errw})
			if err != nil || code != 0 {
				t.Fatalf("Run = %d, %v", code, err)
			}
			if out.String() != tc.stdout || errw.String() != tc.stderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errw.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

func TestStdinFromConfig(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "echo.wasm", wat(t, watEcho))
	run := func(c *Config) string {
		var out bytes.Buffer
		code, err := m.Run(context.Background(), RunConfig{Config: c, Stdin: strings.NewReader("ping\n"), Stdout: &out})
		if err != nil || code != 0 {
			t.Fatalf("Run = %d, %v", code, err)
		}
		return out.String()
	}
	if got := run(nil); got != "ping\n" {
		t.Errorf("without config: echoed %q", got)
	}
	if got := run(mustParse(t, ConfigTemplate)); got != "ping\n" {
		t.Errorf("with the template: echoed %q", got)
	}
	if got := run(mustParse(t, "[[files]]\nkind = \"null\"\n[[files]]\nkind = \"stdout\"\n")); got != "" {
		t.Errorf("with fd 0 null: echoed %q, want nothing", got)
	}
}

func TestRunRefusesUnsupportedConfig(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "x.wasm", wat(t, watExit(3)))
	c := mustParse(t, "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"listen\"\nprot = \"tcp\"\nname = \"l\"\nport = 8080\n")
	code, err := m.Run(context.Background(), RunConfig{Config: c})
	var ce *ConfigError
	if !errors.As(err, &ce) || code != 0 {
		t.Fatalf("Run = %d, %v; want a *ConfigError", code, err)
	}
	if ce.Line != 3 || !strings.Contains(ce.Msg, "listen") || !strings.Contains(ce.Msg, "not supported") {
		t.Errorf("error %q: want line 3 and a message that a listen socket at fd 1 is not supported", err)
	}
}

// splitNUL splits a buffer of NUL-terminated strings.
func splitNUL(b []byte) []string {
	s := strings.Split(string(b), "\x00")
	if len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}

func TestEnv(t *testing.T) {
	cfg := `
[env]
B = "config-b"
A = "config-a"
C = "config-c"

[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
name = "log"
`
	for _, tc := range []struct {
		name   string
		config string
		env    [][2]string
		want   []string
	}{
		{"no config", "", [][2]string{{"X", "1"}, {"Y", "2"}, {"X", "3"}}, []string{"X=3", "Y=2"}},
		{"no config no env", "", nil, nil},
		{"config", cfg, nil, []string{"FD_COUNT=3", "FD_NAMES=stdin:stdout:log", "A=config-a", "B=config-b", "C=config-c"}},
		{"config and --env", cfg, [][2]string{{"Z", "cli-z"}, {"B", "cli-b"}, {"D", "cli-d"}},
			[]string{"FD_COUNT=3", "FD_NAMES=stdin:stdout:log", "A=config-a", "B=cli-b", "C=config-c", "Z=cli-z", "D=cli-d"}},
		{"config without env", "[[files]]\nkind = \"null\"\n[[files]]\nkind = \"stdout\"\nname = \"out\"\n",
			[][2]string{{"K", "v"}}, []string{"FD_COUNT=2", "FD_NAMES=null:out", "K=v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := RunConfig{Env: tc.env}
			if tc.config != "" {
				rc.Config = mustParse(t, tc.config)
			}
			_, got := runWAT(t, watEnviron, rc)
			if g := splitNUL(got); strings.Join(g, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("environ = %q, want %q", g, tc.want)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module string
		args   []string
		config string
		want   []string
	}{
		{"base name", "/some/dir/app.wasm", []string{"a", "b c"}, "", []string{"app.wasm", "a", "b c"}},
		{"windows separators", `C:\dir\app.wasm`, nil, "", []string{"app.wasm"}},
		{"plain", "app.wasm", []string{""}, "", []string{"app.wasm", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, newEngine(t, EngineConfig{}), tc.module, wat(t, watArgs))
			var out bytes.Buffer
			if code, err := m.Run(context.Background(), RunConfig{Args: tc.args, Stdout: &out}); err != nil || code != 0 {
				t.Fatalf("Run = %d, %v", code, err)
			}
			if g := splitNUL(out.Bytes()); strings.Join(g, "\x01") != strings.Join(tc.want, "\x01") {
				t.Errorf("argv = %q, want %q", g, tc.want)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	base := [][2]string{{"A", "1"}, {"B", "2"}}
	got := mergeEnv(base, [][2]string{{"C", "3"}, {"A", "x"}, {"C", "4"}})
	want := [][2]string{{"A", "x"}, {"B", "2"}, {"C", "4"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mergeEnv = %v, want %v", got, want)
	}
	if fmt.Sprint(base) != fmt.Sprint([][2]string{{"A", "1"}, {"B", "2"}}) {
		t.Errorf("mergeEnv modified its base: %v", base)
	}
}

func TestModuleRunsConcurrently(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "random.wasm", wat(t, watRandom))
	const n = 4
	outs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			if code, err := m.Run(context.Background(), RunConfig{Stdout: &out}); err != nil || code != 0 {
				t.Errorf("Run %d = %d, %v", i, code, err)
			}
			outs[i] = out.Bytes()
		}()
	}
	wg.Wait()
	for i := range n {
		if len(outs[i]) != 64 {
			t.Errorf("run %d wrote %d bytes", i, len(outs[i]))
		}
	}
}

// runUntilCancelled runs m with a signalWriter as stdout, cancels ctx once
// the guest has written, and returns Run's result. The guests it is used
// with never return by themselves, so a Run that returns was stopped by the
// cancel; the 30 s bound is a hang guard, not a timing assertion.
func runUntilCancelled(t *testing.T, m *Module) (code uint32, out string, err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &signalWriter{ch: make(chan struct{})}
	type result struct {
		code uint32
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := m.Run(ctx, RunConfig{Stdout: w})
		done <- result{code, err}
	}()
	select {
	case <-w.ch: // the guest is past its first write, into its loop
	case r := <-done:
		t.Fatalf("Run returned before the guest wrote: %d, %v", r.code, r.err)
	}
	cancel()
	select {
	case r := <-done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return r.code, w.buf.String(), r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of cancel: the spinning guest was not stopped")
	}
	return 0, "", nil
}

// TestCancelStopsHostCallingGuest: with the default EngineConfig (no
// interrupt checks in compiled loops), a guest that computes but calls the
// host now and then, as Go guests call clock_time_get, is stopped at its
// next host call.
func TestCancelStopsHostCallingGuest(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{}), "clock-loop.wasm", wat(t, watModule(`
  (data (i32.const 16) "spinning\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 9))
    (loop $l
      (call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 32)))
      (br $l)))`)))
	code, out, err := runUntilCancelled(t, m)
	if !errors.Is(err, context.Canceled) || out != "spinning\n" {
		t.Errorf("Run = %d, %v; stdout %q; want an error wrapping context.Canceled and stdout \"spinning\\n\"", code, err, out)
	}
}

// TestInterruptibleStopsSpinningGuest: an Interruptible engine stops a
// guest that never calls the host again (`loop br 0`).
func TestInterruptibleStopsSpinningGuest(t *testing.T) {
	m := compile(t, newEngine(t, EngineConfig{Interruptible: true}), "spin.wasm", wat(t, watModule(`
  (data (i32.const 16) "spinning\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 16) (i32.const 9))
    (loop $l (br $l)))`)))
	code, out, err := runUntilCancelled(t, m)
	if !errors.Is(err, context.Canceled) || out != "spinning\n" {
		t.Errorf("Run = %d, %v; stdout %q; want an error wrapping context.Canceled and stdout \"spinning\\n\"", code, err, out)
	}
}

// TestCancelledBeforeRun: a context that has already ended runs nothing.
func TestCancelledBeforeRun(t *testing.T) {
	for _, interruptible := range []bool{false, true} {
		m := compile(t, newEngine(t, EngineConfig{Interruptible: interruptible}), "stdio.wasm", wat(t, watStdio))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		code, err := m.Run(ctx, RunConfig{Stdout: &out, Stderr: &out})
		if !errors.Is(err, context.Canceled) || out.Len() != 0 {
			t.Errorf("interruptible=%v: Run = %d, %v, output %q; want context.Canceled and no output", interruptible, code, err, out.String())
		}
	}
}
