package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// watGrowPages is a guest that grows its memory one page at a time up to
// pages, stamping each new page's first and last words and checking, after
// every grow, that every earlier stamp survived and that the new page's
// middle is zero. At pages, a further grow must give -1 and leave the size
// alone. It then copies "grown\n" to the end of the last page and writes it
// to stdout from there. The exit code names the check that failed.
func watGrowPages(memDecl string, pages int) string {
	return fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") %s)
  (data (i32.const 16) "grown\n")
  (func $first (param $p i32) (result i32) (i32.mul (local.get $p) (i32.const 65536)))
  (func $last (param $p i32) (result i32) (i32.sub (call $first (i32.add (local.get $p) (i32.const 1))) (i32.const 4)))
  (func (export "_start")
    (local $p i32) (local $q i32) (local $end i32)
    (local.set $p (i32.const 1))
    (block $done (loop $grow
      (br_if $done (i32.ge_u (local.get $p) (i32.const %[2]d)))
      (if (i32.ne (memory.grow (i32.const 1)) (local.get $p)) (then (call $exit (i32.const 1))))
      (i32.store (call $first (local.get $p)) (i32.add (local.get $p) (i32.const 1000)))
      (i32.store (call $last (local.get $p)) (local.get $p))
      (local.set $q (i32.const 1))
      (block $checked (loop $check
        (br_if $checked (i32.gt_u (local.get $q) (local.get $p)))
        (if (i32.ne (i32.load (call $first (local.get $q))) (i32.add (local.get $q) (i32.const 1000)))
          (then (call $exit (i32.const 2))))
        (if (i32.ne (i32.load (call $last (local.get $q))) (local.get $q))
          (then (call $exit (i32.const 2))))
        (if (i64.ne (i64.load (i32.add (call $first (local.get $q)) (i32.const 32768))) (i64.const 0))
          (then (call $exit (i32.const 3))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $check)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $grow)))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then (call $exit (i32.const 4))))
    (if (i32.ne (memory.size) (i32.const %[2]d)) (then (call $exit (i32.const 5))))
    (if (i32.ne (memory.grow (i32.const 0)) (i32.const %[2]d)) (then (call $exit (i32.const 6))))
    (local.set $end (i32.sub (call $first (i32.const %[2]d)) (i32.const 6)))
    (memory.copy (local.get $end) (i32.const 16) (i32.const 6))
    (i32.store (i32.const 0) (local.get $end))
    (i32.store (i32.const 4) (i32.const 6))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then (call $exit (i32.const 7))))
    (call $exit (i32.const 0))))`, memDecl, pages)
}

func TestGuestMemoryGrows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		memDecl  string
		maxPages uint32 // EngineConfig.MaxMemoryPages
		pages    int    // the memory's effective maximum
	}{
		{"module max", "1 64", 0, 64},
		{"module max under the engine limit", "1 48", 100, 48},
		{"engine limit, no module max", "1", 40, 40},
		{"one page only", "1 1", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := compile(t, newEngine(t, EngineConfig{MaxMemoryPages: tc.maxPages}), "grow.wasm", wat(t, watGrowPages(tc.memDecl, tc.pages)))
			var out bytes.Buffer
			code, err := m.Run(context.Background(), RunConfig{Stdout: &out})
			if err != nil || code != 0 {
				t.Fatalf("Run = %d, %v; want 0 (exit codes: 1 grow, 2 contents lost, 3 new page not zero, 4 grow past max, 5 size, 6 grow 0, 7 write)", code, err)
			}
			if out.String() != "grown\n" {
				t.Errorf("stdout = %q, want %q (written from the last page)", out.String(), "grown\n")
			}
		})
	}
}

// TestGuestMemoryOutOfBoundsTraps checks that accesses past the memory's
// length trap cleanly (a *TrapError, the process goes on), including
// accesses into address space Keep has reserved for the memory but not
// yet made accessible.
func TestGuestMemoryOutOfBoundsTraps(t *testing.T) {
	for _, tc := range []struct{ name, memDecl, body string }{
		{"load straddling the end", "1 4", `(drop (memory.grow (i32.const 1))) (drop (i32.load (i32.const 131070)))`},
		{"load at the end", "1 4", `(drop (memory.grow (i32.const 1))) (drop (i32.load8_u (i32.const 131072)))`},
		{"load in the reserved, ungrown part", "1", `(drop (i64.load (i32.const 655360)))`},
		{"store in the reserved, ungrown part", "1 100", `(i32.store (i32.const 65536) (i32.const 1))`},
		{"load with a large offset", "1", `(drop (i32.load offset=4294967280 (i32.const 255)))`},
		{"load at the 4 GiB edge", "1", `(drop (i32.load (i32.const -2)))`},
		{"fill past the end", "1 4", `(memory.fill (i32.const 65000) (i32.const 7) (i32.const 1000))`},
		{"after a refused grow", "1 2", `(drop (memory.grow (i32.const 5))) (drop (i32.load (i32.const 65536)))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(`(module (memory %s) (func (export "_start") %s))`, tc.memDecl, tc.body)
			m := compile(t, newEngine(t, EngineConfig{}), "oob.wasm", wat(t, src))
			code, err := m.Run(context.Background(), RunConfig{})
			var te *TrapError
			if !errors.As(err, &te) {
				t.Fatalf("Run = %d, %v (%T); want a *TrapError", code, err, err)
			}
			if !strings.Contains(te.Reason, "out of bounds memory access") {
				t.Errorf("trap reason %q, want out of bounds memory access", te.Reason)
			}
		})
	}
}

func TestHeapMemory(t *testing.T) {
	h := &heapMemory{cap: 2 * PageSize}
	b := h.Reallocate(PageSize)
	if len(b) != PageSize {
		t.Fatalf("len = %d, want %d", len(b), PageSize)
	}
	b[0], b[PageSize-1] = 1, 2
	for _, size := range []uint64{2 * PageSize, 5 * PageSize, 5 * PageSize, 9 * PageSize} {
		b = h.Reallocate(size)
		if uint64(len(b)) != size || b[0] != 1 || b[PageSize-1] != 2 || b[size-1] != 0 {
			t.Fatalf("Reallocate(%d): len %d, contents %d %d %d", size, len(b), b[0], b[PageSize-1], b[size-1])
		}
	}
}
