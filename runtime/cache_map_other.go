//go:build !unix

package runtime

import (
	"io"
	"os"
)

// withFileBytes calls fn with the first n bytes of f (f is Keep's private
// copy of a cache entry's file), read into memory where Keep does not map
// files.
func withFileBytes(f *os.File, n int, fn func([]byte) error) error {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	return fn(b)
}
