//go:build !linux

package rootfs

import (
	"errors"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// FS is a host directory as a guest sees it; on this system there is
// none (see New).
type FS struct {
	experimentalsys.UnimplementedFS
}

// New refuses: rootfs resolves paths with Linux system calls.
func New(dir string, readOnly bool) (*FS, error) {
	return nil, errors.New("directories for guests (--dir) need Linux")
}

// Close does nothing.
func (f *FS) Close() error { return nil }
