//go:build unix

package runtime

import (
	"os"
	"syscall"
)

// withFileBytes calls fn with the first n bytes of f mapped read-only into
// memory (f is Keep's private copy of a cache entry's file). On Linux the
// mapping is populated as it is made (mapPopulate): fn reads every byte,
// and one mmap that maps the whole file costs less than a page fault per
// few pages, which is most of the check's time on a virtual machine.
func withFileBytes(f *os.File, n int, fn func([]byte) error) error {
	b, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED|mapPopulate)
	if err != nil {
		return err
	}
	defer syscall.Munmap(b)
	return fn(b)
}
