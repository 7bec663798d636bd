package runtime

import (
	"math"
	"os"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// newGuestMemory reserves each memory's maximum as address space (mmap,
// PROT_NONE, MAP_NORESERVE: no RAM and no commit charge until used) and
// grows it in place with mprotect. A reservation of a memory without a
// declared maximum is 4 GiB of address space, which a 64-bit Linux process
// has plenty of (128 TiB); where it has not, as under a small RLIMIT_AS or
// inside an SGX enclave whose library OS (Gramine) gives the process a
// fixed, small address space, the mmap fails and that memory falls back to
// a Go slice, as wazero's default would.
var newGuestMemory = allocateGuestMemory

// mappedMemories counts the reservations not yet freed, mappedTotal all
// that were made (tests read them).
var mappedMemories, mappedTotal atomic.Int64

// osPageSize is the host's page size; wasm pages (64 KiB) are a multiple of
// it on every Linux platform Go supports.
var osPageSize = uint64(os.Getpagesize())

func allocateGuestMemory(capHint, maxBytes uint64) experimental.LinearMemory {
	if m := reserveGuestMemory(maxBytes); m != nil {
		return m
	}
	return &heapMemory{cap: capHint}
}

// reserveGuestMemory returns a reservation of maxBytes, or nil if the
// address space cannot be had.
func reserveGuestMemory(maxBytes uint64) *mappedMemory {
	// 32-bit platforms cannot map 4 GiB (maxBytes > MaxInt): a Go slice.
	if maxBytes == 0 || PageSize%osPageSize != 0 || maxBytes > uint64(MaxPages)*PageSize || maxBytes > math.MaxInt {
		return nil
	}
	b, err := unix.Mmap(-1, 0, int(maxBytes), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	mappedMemories.Add(1)
	mappedTotal.Add(1)
	return &mappedMemory{res: b}
}

// mappedMemory is a linear memory in its own reservation: res is the whole
// reservation, of which the first used bytes are readable and writable.
// Its pages start zeroed (anonymous memory), and memory never shrinks, so
// every page made accessible is a fresh, zero page, as a grown wasm memory
// must be. The slices it returns have no capacity past their length.
type mappedMemory struct {
	res  []byte
	used uint64
}

// Reallocate makes the first size bytes accessible and returns them; nil
// (memory.grow returns -1) past the reservation, after Free, or if the
// kernel refuses the pages (out of memory or commit limit).
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if m.res == nil || size > uint64(len(m.res)) {
		return nil
	}
	if size > m.used {
		// Grown by whole wasm pages, which are whole OS pages.
		if err := unix.Mprotect(m.res[m.used:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		if m.used == 0 {
			// The initial memory (a module's data and, for a Go guest, the
			// start of its heap) is written at once as the instance starts:
			// in transparent huge pages where the system allows them
			// (THP "madvise" or "always"), that is a fault per 2 MiB rather
			// than per 4 KiB (hello: instantiation 11.5 -> 6.9 ms, its run
			// 5.2 -> 3.5 ms). Pages grown later stay small, so idle memory
			// is not rounded up to 2 MiB. Advice only: its failure changes
			// nothing.
			_ = unix.Madvise(m.res[:size], unix.MADV_HUGEPAGE)
		}
		m.used = size
	}
	return m.res[:size:size]
}

// Free releases the reservation. wazero calls it once, when the memory's
// instance is closed.
func (m *mappedMemory) Free() {
	if m.res != nil {
		_ = unix.Munmap(m.res)
		m.res, m.used = nil, 0
		mappedMemories.Add(-1)
	}
}
