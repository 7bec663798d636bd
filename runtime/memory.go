package runtime

import (
	"context"

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
// in memory_test.go:
//   - compiled code bounds-checks every access against the slice's length
//     (it does not rely on guard pages), so the inaccessible pages past the
//     length are never touched: an access there traps as out of bounds;
//   - memory.grow past the memory's max is refused by wazero before the
//     allocator is asked, and the allocator reserves that max, so a grow
//     within it never needs to move the memory;
//   - wazero frees a memory only when its module instance is closed, after
//     which no guest code and no host function of that instance runs, and
//     Keep's host functions touch guest memory only during the guest's own
//     host calls (no other goroutine keeps a slice of it).

// withGuestMemory returns ctx carrying the allocator every instance's
// memory comes from (nil on platforms without one: wazero's default).
func withGuestMemory(ctx context.Context) context.Context {
	if guestMemory == nil {
		return ctx
	}
	return experimental.WithMemoryAllocator(ctx, guestMemory)
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
