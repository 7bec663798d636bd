//go:build !unix

package runtime

// Where open has no O_NOFOLLOW or O_NONBLOCK, openRegular relies on its
// fstat check alone.
const (
	oNoFollow = 0
	oNonblock = 0
)

func isSymlinkErr(error) bool { return false }
