// Package rootfs gives a guest a host directory that no path can leave.
//
// FS implements wazero's experimental sys.FS over an os.Root: every path a
// guest names is resolved beneath the directory one component at a time,
// from file descriptors the host holds, so "..", absolute paths, symlinks
// the guest made, symlinks the host left in the directory, and a symlink
// swapped in while a call runs all stay inside it (a path that would leave
// is EPERM). Operations that must not follow a final symlink (path_open
// without symlink_follow, unlink, rmdir, rename, symlink, mkdir) open the
// parent directory beneath the root and act on one name without a slash
// relative to that descriptor, so the kernel never follows a link for
// them either. A read-only FS refuses every write with EROFS (EBADF for
// writes to a descriptor, which is never open for writing) before it
// touches the directory.
//
// Files behave as wazero's own (its sysfs.DirFS): the same stat, readdir
// (with inodes), seek, sync, append and non-blocking answers, except that
// nothing is ever reopened by path, and fd_pwrite on an append-mode file
// writes as Linux does (at the end) instead of failing.
//
// See docs/RATIONALE.md, "Preopens that no path can leave".
//
// It imports wazero's experimental sys packages, golang.org/x/sys/unix
// and the standard library only; it must not import any other Keep
// package. It needs Linux (on other systems New returns an error).
package rootfs
