//go:build !unix

package rtmr

import "os"

// No TD runs these systems' kernels: the log needs no lock there.
func lock(*os.File) error       { return nil }
func lockShared(*os.File) error { return nil }
func unlock(*os.File) error     { return nil }
