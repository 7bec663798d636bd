//go:build unix

package runtime

import (
	"errors"
	"syscall"
)

// Flags of openRegular: do not follow a symlink, do not wait.
const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonblock = syscall.O_NONBLOCK
)

// isSymlinkErr reports whether err is open(2)'s answer for a symlink
// opened with O_NOFOLLOW.
func isSymlinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }
