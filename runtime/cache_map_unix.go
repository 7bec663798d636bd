//go:build unix

package runtime

import (
	"os"
	"syscall"
)

// withFileBytes calls fn with the first n bytes of f mapped read-only into
// memory (f is Keep's private copy of a cache entry's file).
func withFileBytes(f *os.File, n int, fn func([]byte) error) error {
	b, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	defer syscall.Munmap(b)
	return fn(b)
}
