package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// liveWriter records, at each write, how many guest memories are mapped.
type liveWriter struct {
	mu   sync.Mutex
	seen []int64
	out  strings.Builder
}

func (w *liveWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, mappedMemories.Load())
	return w.out.Write(b)
}

// TestGuestMemoryIsMapped checks that every instance's memory, with one
// instance or several, lives in its own reservation outside the Go heap
// while the guest runs, and that the reservation is gone once Run returns.
func TestGuestMemoryIsMapped(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("instances=%d", n), func(t *testing.T) {
			m := compile(t, newEngine(t, EngineConfig{}), "grow.wasm", wat(t, watGrowPages("1 16", 16)))
			live, total := mappedMemories.Load(), mappedTotal.Load()
			w := &liveWriter{}
			code, err := m.Run(context.Background(), RunConfig{Stdout: w, Instances: n})
			if err != nil || code != 0 {
				t.Fatalf("Run = %d, %v", code, err)
			}
			if got := w.out.String(); got != strings.Repeat("grown\n", n) {
				t.Fatalf("stdout %q", got)
			}
			for _, s := range w.seen {
				if s <= live {
					t.Errorf("%d memories mapped while a guest wrote, %d before the run: the guest's memory is not a reservation", s, live)
				}
			}
			if got := mappedTotal.Load() - total; got != int64(n) {
				t.Errorf("%d reservations for %d instances", got, n)
			}
			if got := mappedMemories.Load(); got != live {
				t.Errorf("%d memories mapped after the run, %d before: not freed", got, live)
			}
		})
	}
}

// mapping returns the /proc/self/maps lines of mappings that overlap
// [start, end).
func mapping(t *testing.T, start, end uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err != nil {
			t.Fatalf("/proc/self/maps: %q: %v", sc.Text(), err)
		}
		if lo < end && start < hi {
			lines = append(lines, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// vmFlags returns the VmFlags of the mapping that holds addr, from
// /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 && strings.Contains(strings.Fields(line)[0], "-") {
			in = lo <= addr && addr < hi
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no mapping of %#x in /proc/self/smaps", addr)
	return nil
}

func TestMappedMemory(t *testing.T) {
	const pages = 64
	m := reserveGuestMemory(pages * PageSize)
	if m == nil {
		t.Fatal("reserveGuestMemory(64 pages) = nil")
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.res)))
	end := base + pages*PageSize
	perms := func() string {
		var p []string
		for _, l := range mapping(t, base, end) {
			p = append(p, strings.Fields(l)[1])
		}
		return strings.Join(p, " ")
	}
	if got := perms(); got != "---p" {
		t.Fatalf("reserved: mappings %q, want one inaccessible mapping", got)
	}
	b := m.Reallocate(2 * PageSize)
	if len(b) != 2*PageSize || cap(b) != 2*PageSize {
		t.Fatalf("Reallocate(2 pages): len %d cap %d", len(b), cap(b))
	}
	if got := perms(); got != "rw-p ---p" {
		t.Fatalf("2 of 64 pages grown: mappings %q, want rw-p then ---p", got)
	}
	// A kernel without transparent huge pages refuses the advice (and
	// shows no hg): nothing to check there.
	_, thpErr := os.Stat("/sys/kernel/mm/transparent_hugepage")
	if thpErr == nil && !slices.Contains(vmFlags(t, base), "hg") {
		t.Error("the initial memory is not advised for huge pages (no hg in its VmFlags)")
	}
	m.Reallocate(3 * PageSize)
	if slices.Contains(vmFlags(t, base+2*PageSize), "hg") {
		t.Error("memory grown after the initial allocation is advised for huge pages")
	}
	b[0], b[len(b)-1] = 7, 9
	b2 := m.Reallocate(10 * PageSize)
	if unsafe.SliceData(b2) != unsafe.SliceData(b) || b2[0] != 7 || b2[2*PageSize-1] != 9 || b2[10*PageSize-1] != 0 {
		t.Fatal("growing moved the memory or lost its contents")
	}
	if got := m.Reallocate(5 * PageSize); len(got) != 5*PageSize {
		t.Fatalf("Reallocate(5 pages) after 10: len %d", len(got))
	}
	if got := m.Reallocate(pages*PageSize + 1); got != nil {
		t.Fatalf("Reallocate past the reservation: len %d, want nil", len(got))
	}
	if got := m.Reallocate(pages * PageSize); len(got) != pages*PageSize {
		t.Fatalf("Reallocate(all 64 pages): len %d", len(got))
	}
	m.Free()
	if got := mapping(t, base, end); len(got) != 0 {
		t.Fatalf("after Free: %q still mapped", got)
	}
	if got := m.Reallocate(PageSize); got != nil {
		t.Fatal("Reallocate after Free returned memory")
	}
	m.Free() // a second Free does nothing
}

func TestAllocateGuestMemoryFallsBack(t *testing.T) {
	for _, max := range []uint64{0, MaxPages*PageSize + PageSize} {
		lm := allocateGuestMemory(PageSize, max)
		if _, ok := lm.(*heapMemory); !ok {
			t.Errorf("allocateGuestMemory(max %d) = %T, want the heap fallback", max, lm)
		}
		lm.Free()
	}
	lm := allocateGuestMemory(PageSize, MaxPages*PageSize)
	if _, ok := lm.(*mappedMemory); !ok {
		t.Fatalf("allocateGuestMemory(4 GiB) = %T, want a reservation", lm)
	}
	lm.Free()
}

// gateReader is a stdin that says when it is first read and then gives
// data only once released.
type gateReader struct {
	reading, release chan struct{}
	once             sync.Once
}

func (g *gateReader) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.reading) })
	<-g.release
	return copy(p, "data"), nil
}

// TestGuestMemoryClosedWhileRunning closes the module while its guest
// waits in fd_read, then lets the read finish into grown memory and the
// guest touch every page: the memory must outlive the close until the
// guest has returned (unmapped at once, the host's copy or the guest's
// stores fault and kill the process), and be freed after.
func TestGuestMemoryClosedWhileRunning(t *testing.T) {
	src := `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1 4)
  (func (export "_start")
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 0) (i32.const 65636))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i64.store (i32.const 65536) (i64.const 1))
    (i64.store (i32.const 196600) (i64.const 1))
    (drop (i64.load (i32.const 131072)))
    (call $exit (i32.const 0))))`
	e := newEngine(t, EngineConfig{})
	m, err := e.Compile(context.Background(), "closed.wasm", wat(t, src))
	if err != nil {
		t.Fatal(err)
	}
	live := mappedMemories.Load()
	in := &gateReader{reading: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(context.Background(), RunConfig{Stdin: in})
		done <- err
	}()
	<-in.reading
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := mappedMemories.Load(); got != live+1 {
		t.Errorf("%d memories mapped after Close with the guest running, want %d", got, live+1)
	}
	close(in.release)
	<-done // the guest ran on; its result after the close does not matter
	if got := mappedMemories.Load(); got != live {
		t.Errorf("%d memories mapped after the run, %d before: not freed", got, live)
	}
}
