package runtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestPollOneoff: Keep's poll_oneoff reports files and stdio ready at once
// and alone (no clock event beside them), a bad fd as BADF, and a clock by
// itself when it fires (wazero's answers NOTSUP for fd_write, reports
// every clock at once and sleeps out the timeout). A poll that waited for
// its hour-long clock would never end.
func TestPollOneoff(t *testing.T) {
	// sub(i, userdata, tag, fd or timeout) writes subscription i at 64+48i.
	const helpers = `
  (func $sub (param $i i32) (param $ud i64) (param $tag i32) (param $arg i64)
    (local $p i32)
    (local.set $p (i32.add (i32.const 64) (i32.mul (local.get $i) (i32.const 48))))
    (i64.store (local.get $p) (local.get $ud))
    (i32.store8 (i32.add (local.get $p) (i32.const 8)) (local.get $tag))
    (if (i32.eqz (local.get $tag))
      (then ;; clock: monotonic (1), relative timeout in ns
        (i32.store (i32.add (local.get $p) (i32.const 16)) (i32.const 1))
        (i64.store (i32.add (local.get $p) (i32.const 24)) (local.get $arg)))
      (else (i32.store (i32.add (local.get $p) (i32.const 16)) (i32.wrap_i64 (local.get $arg))))))
  ;; expect(n, userdata, errno, type): one event at 1024, else exit 1-4.
  (func $expect (param $nsubs i32) (param $ud i64) (param $errno i32) (param $type i32)
    (call $check (call $poll (i32.const 64) (i32.const 1024) (local.get $nsubs) (i32.const 12)))
    (if (i32.ne (i32.load (i32.const 12)) (i32.const 1)) (then (call $exit (i32.const 1))))
    (if (i64.ne (i64.load (i32.const 1024)) (local.get $ud)) (then (call $exit (i32.const 2))))
    (if (i32.ne (i32.load16_u (i32.const 1032)) (local.get $errno)) (then (call $exit (i32.const 3))))
    (if (i32.ne (i32.load8_u (i32.const 1034)) (local.get $type)) (then (call $exit (i32.const 4)))))
`
	const hour = "3600000000000"
	for _, tc := range []struct {
		name, start string
	}{
		{"stdout writable, clock pending", `
    (call $sub (i32.const 0) (i64.const 7) (i32.const 2) (i64.const 1))
    (call $sub (i32.const 1) (i64.const 9) (i32.const 0) (i64.const ` + hour + `))
    (call $expect (i32.const 2) (i64.const 7) (i32.const 0) (i32.const 2))`},
		{"stderr writable", `
    (call $sub (i32.const 0) (i64.const 5) (i32.const 2) (i64.const 2))
    (call $expect (i32.const 1) (i64.const 5) (i32.const 0) (i32.const 2))`},
		{"closed fd is BADF", `
    (call $sub (i32.const 0) (i64.const 3) (i32.const 0) (i64.const ` + hour + `))
    (call $sub (i32.const 1) (i64.const 4) (i32.const 1) (i64.const 99))
    (call $expect (i32.const 2) (i64.const 4) (i32.const 8) (i32.const 1))`},
		{"clock alone fires", `
    (call $sub (i32.const 0) (i64.const 11) (i32.const 0) (i64.const 1000))
    (call $expect (i32.const 1) (i64.const 11) (i32.const 0) (i32.const 0))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := watModule(helpers + fmt.Sprintf(`(func (export "_start") %s)`, tc.start))
			if code, _ := runWAT(t, src, RunConfig{}); code != 0 {
				t.Errorf("exit code %d (1: event count, 2: userdata, 3: errno, 4: type)", code)
			}
		})
	}
}

// TestCompileOutlivesContext: the end of the context does not cut a
// compile short (keep run's --timeout counts from the guest's start), also
// with several compiler goroutines, whose wazero code watches the context.
func TestCompileOutlivesContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var fns strings.Builder
	for i := 0; i < 64; i++ {
		fmt.Fprintf(&fns, "(func (result i32) (i32.const %d))\n", i)
	}
	e := newEngine(t, EngineConfig{CompileWorkers: 4})
	m, err := e.Compile(ctx, "many.wasm", wat(t, watModule(fns.String()+`(func (export "_start"))`)))
	if err != nil {
		t.Fatalf("Compile with an ended context: %v", err)
	}
	m.Close(context.Background())
}

// TestRights: fd_fdstat_set_rights drops rights of a file (wazero answers
// NOSYS); the file then refuses writes with NOTCAPABLE, reports the
// dropped right gone, and cannot get it back.
func TestRights(t *testing.T) {
	const src = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights" (func $setrights (param i32 i64 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "f")
  (data (i32.const 200) "x")
  (func $want (param $got i32) (param $want i32) (param $code i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $code)))))
  (func (export "_start")
    (local $fd i32)
    ;; path_open(3, 0, "f", creat, fd_read|fd_write, 0, 0, &fd at 16)
    (call $want (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 1)
      (i64.const 66) (i64.const 0) (i32.const 0) (i32.const 16)) (i32.const 0) (i32.const 1))
    (local.set $fd (i32.load (i32.const 16)))
    ;; iovec at 0: "x"
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 1))
    (call $want (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 0) (i32.const 2))
    ;; drop fd_write: keep fd_read only
    (call $want (call $setrights (local.get $fd) (i64.const 2) (i64.const 0)) (i32.const 0) (i32.const 3))
    (call $want (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 76) (i32.const 4))
    (call $want (call $stat (local.get $fd) (i32.const 32)) (i32.const 0) (i32.const 5))
    (call $want (i32.wrap_i64 (i64.load (i32.const 40))) (i32.const 2) (i32.const 6))
    ;; asking for fd_write again is notcapable
    (call $want (call $setrights (local.get $fd) (i64.const 66) (i64.const 0)) (i32.const 76) (i32.const 7)))
)`
	code, _ := runWAT(t, src, RunConfig{Mounts: []Mount{{Host: t.TempDir(), Guest: "/"}}})
	if code != 0 {
		t.Errorf("exit code %d: check %d failed (see the module)", code, code)
	}
}

// TestNoMemory: a module without memory still gets wazero's answers where
// Keep's corrections need memory to ask wazero with (fd_renumber of stdout
// onto stderr: wazero's NOTSUP for stdio, not a BADF from a failed check).
func TestNoMemory(t *testing.T) {
	const src = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_renumber" (func $renumber (param i32 i32) (result i32)))
  (func (export "_start") (call $exit (call $renumber (i32.const 1) (i32.const 2)))))`
	if code, _ := runWAT(t, src, RunConfig{}); code != 58 {
		t.Errorf("fd_renumber(1, 2) = errno %d, want 58 (notsup)", code)
	}
}
