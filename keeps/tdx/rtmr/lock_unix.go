//go:build unix

package rtmr

import (
	"os"
	"syscall"
)

func lock(f *os.File) error       { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func lockShared(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_SH) }
func unlock(f *os.File) error     { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
