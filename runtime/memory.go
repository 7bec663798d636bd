package runtime

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Guest linear memory. wazero's default keeps a guest's memory in a Go
// slice: every memory.grow past its capacity allocates a larger slice and
// copies the old one, which the Go GC must then collect, and until it does
// the process holds both. Where the platform allows (memory_linux.go), Keep
// instead reserves the memory's whole maximum as inaccessible address space
// once, and memory.grow makes the next pages readable and writable in place:
// no copy, no garbage, and the Go heap (and its GC pacing) never sees guest
// memory. See docs/RATIONALE.md, "Guest memory outside the Go heap".
//
// Safety rests on three facts about wazero v1.12.0, each checked by tests
// in memory_test.go and memory_linux_test.go:
//   - compiled code bounds-checks every access against the slice's length
//     (it does not rely on guard pages), so the inaccessible pages past the
//     length are never touched: an access there traps as out of bounds;
//   - memory.grow past the memory's max is refused by wazero before the
//     allocator is asked, and the allocator reserves that max, so a grow
//     within it never needs to move the memory;
//   - wazero frees a memory when its instance is closed, which can happen
//     while the guest still runs (Module.Close from another goroutine, a
//     runtime closed under a running guest): so each instance's allocator
//     (instanceMemory) holds a free asked for while the instance's guest
//     may run until the guest has returned. Keep's host functions touch
//     guest memory only during the guest's own host calls (no other
//     goroutine keeps a slice of it), so after that nothing uses it.

// instanceMemory allocates one instance's memory and frees it no earlier
// than the end of the instance's run (enter to leave).
type instanceMemory struct {
	mu      sync.Mutex
	running bool
	pending []experimental.LinearMemory // freed by leave
}

// newInstanceMemory returns the allocator of one instance, or nil where
// wazero's default is used (no newGuestMemory on this platform).
func newInstanceMemory() *instanceMemory {
	if newGuestMemory == nil {
		return nil
	}
	return &instanceMemory{}
}

// context returns ctx carrying the allocator, for InstantiateModule.
func (im *instanceMemory) context(ctx context.Context) context.Context {
	if im == nil {
		return ctx
	}
	return experimental.WithMemoryAllocator(ctx, im)
}

// Allocate implements experimental.MemoryAllocator.
func (im *instanceMemory) Allocate(capHint, maxBytes uint64) experimental.LinearMemory {
	return &heldMemory{LinearMemory: newGuestMemory(capHint, maxBytes), im: im}
}

// enter marks the instance running: frees wait for leave.
func (im *instanceMemory) enter() {
	if im == nil {
		return
	}
	im.mu.Lock()
	im.running = true
	im.mu.Unlock()
}

// leave marks the instance's run over and frees what was freed meanwhile.
func (im *instanceMemory) leave() {
	if im == nil {
		return
	}
	im.mu.Lock()
	pending := im.pending
	im.running, im.pending = false, nil
	im.mu.Unlock()
	for _, lm := range pending {
		lm.Free()
	}
}

// heldMemory is a memory whose Free waits for its instance's run to end.
type heldMemory struct {
	experimental.LinearMemory
	im *instanceMemory
}

func (h *heldMemory) Free() {
	h.im.mu.Lock()
	if h.im.running {
		h.im.pending = append(h.im.pending, h.LinearMemory)
		h.im.mu.Unlock()
		return
	}
	h.im.mu.Unlock()
	h.LinearMemory.Free()
}

// heapMemory is a linear memory in a Go slice, grown as wazero grows its
// own (append, which copies): the fallback where address space cannot be
// reserved.
type heapMemory struct {
	buf []byte
	cap uint64 // the capacity wazero suggests for the first allocation
}

func (h *heapMemory) Reallocate(size uint64) []byte {
	if h.buf == nil {
		h.buf = make([]byte, 0, max(size, h.cap))
	}
	if size > uint64(cap(h.buf)) {
		h.buf = append(h.buf[:cap(h.buf)], make([]byte, size-uint64(cap(h.buf)))...)
	}
	h.buf = h.buf[:size]
	return h.buf
}

func (h *heapMemory) Free() { h.buf = nil }
