//go:build linux

package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// FS is a host directory as a guest sees it. Its zero value is not
// usable; make one with New and Close it when the guest is done.
type FS struct {
	// UnimplementedFS is embedded only so that FS keeps compiling if
	// wazero adds methods to sys.FS; every method it has today is
	// implemented below.
	experimentalsys.UnimplementedFS

	root     *os.Root
	readOnly bool
}

// New opens dir (the host may name it through symlinks of its own) as
// the root of an FS. A readOnly FS refuses every write.
func New(dir string, readOnly bool) (*FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{root: r, readOnly: readOnly}, nil
}

// Close releases the directory. Files opened from the FS stay usable.
func (f *FS) Close() error { return f.root.Close() }

// String names the host directory, for wazero's messages.
func (f *FS) String() string { return f.root.Name() }

// ReadOnly reports whether the FS refuses writes.
func (f *FS) ReadOnly() bool { return f.readOnly }

// name checks a path from wazero and returns it as os.Root takes it: "."
// for the root itself. wazero passes paths relative to the root, cleaned,
// with any trailing slash kept; it refuses a guest's absolute path and
// ".." above the directory fd itself (EPERM), but names a file under a
// directory fd opened as "." with a leading slash ("/" + name), so a
// leading slash means the root here too. A NUL is EINVAL. os.Root refuses
// ".." that would climb above the root, and any symlink that leads out,
// with its own error, which errno turns into EPERM.
func name(p string) (string, experimentalsys.Errno) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", experimentalsys.EINVAL
	}
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ".", 0
	}
	return p, 0
}

// split parses p into the directory that holds its last component, that
// component (never empty, ".", ".." or containing a slash) and whether p
// ended in a slash. root is true when p names the root itself.
func split(p string) (dir, base string, slash, root bool, errno experimentalsys.Errno) {
	p, errno = name(p)
	if errno != 0 {
		return
	}
	slash = strings.HasSuffix(p, "/")
	c := path.Clean(p)
	switch {
	case c == ".":
		return ".", ".", slash, true, 0
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", "", false, false, experimentalsys.EPERM
	}
	dir, base = path.Split(c)
	if dir == "" {
		dir = "."
	}
	return dir, base, slash, false, 0
}

// errno converts an error from os.Root or a system call. os.Root reports
// a path that leaves the root with an error of its own (not exported), so
// anything that is not an operating system error is EPERM, WASI's answer
// for a path outside the preopen.
func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	switch {
	case errors.As(err, &en):
		return experimentalsys.UnwrapOSError(en)
	case errors.Is(err, os.ErrClosed):
		return experimentalsys.EBADF
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	}
	return experimentalsys.EPERM
}

// parent opens the directory that holds p's last component, beneath the
// root, and calls fn with its descriptor and that component.
func (f *FS) parent(p string, fn func(dirfd int, base string, slash bool) experimentalsys.Errno) experimentalsys.Errno {
	dir, base, slash, root, e := split(p)
	if e != 0 {
		return e
	}
	if root {
		// The root's own entry lives in a directory the guest cannot
		// reach; no operation on it by name is allowed.
		return experimentalsys.EINVAL
	}
	d, err := f.root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return errno(err)
	}
	defer d.Close()
	sc, err := d.SyscallConn()
	if err != nil {
		return errno(err)
	}
	e = 0
	if err := sc.Control(func(fd uintptr) { e = fn(int(fd), base, slash) }); err != nil {
		return errno(err)
	}
	return e
}

// lstatAt is fstatat without following base.
func lstatAt(dirfd int, base string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// OpenFile implements sys.FS. Without O_NOFOLLOW, symlinks are followed
// beneath the root; with it, a symlink as the last component is ELOOP, as
// open(2) answers.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	n, e := name(p)
	if e != 0 {
		return nil, e
	}
	access := flag & (experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR)
	if flag&experimentalsys.O_DIRECTORY != 0 && access != experimentalsys.O_RDONLY {
		return nil, experimentalsys.EISDIR // a directory is never open for writing
	}
	creat := flag&experimentalsys.O_CREAT != 0
	if f.readOnly {
		if access != experimentalsys.O_RDONLY || flag&experimentalsys.O_TRUNC != 0 {
			return nil, experimentalsys.EROFS
		}
		// Open without O_CREAT, so nothing can be created: an existing
		// file opens as it would on a read-only mount, a missing one
		// is EROFS.
		flag &^= experimentalsys.O_CREAT
	}
	osflag := openFlag(flag)
	var file *os.File
	var err error
	_, base, slash, root, e := split(p)
	if e != 0 {
		return nil, e
	}
	if flag&experimentalsys.O_NOFOLLOW == 0 || slash || root {
		// os.Root follows symlinks beneath the root. A trailing slash
		// makes the kernel follow the last component even under
		// O_NOFOLLOW, and so does this.
		file, err = f.root.OpenFile(n, osflag&^syscall.O_NOFOLLOW, perm)
	} else {
		e = f.parent(p, func(dirfd int, _ string, _ bool) experimentalsys.Errno {
			fd, err := unix.Openat(dirfd, base, osflag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
			if err != nil {
				return errno(err)
			}
			file = os.NewFile(uintptr(fd), path.Join(f.root.Name(), n))
			return 0
		})
	}
	if err != nil {
		e = errno(err)
	}
	if e != 0 {
		if f.readOnly && creat && e == experimentalsys.ENOENT {
			e = experimentalsys.EROFS
		}
		return nil, e
	}
	if f.readOnly && creat && flag&experimentalsys.O_EXCL != 0 {
		file.Close()
		return nil, experimentalsys.EEXIST
	}
	return newFile(file, flag, f.readOnly), 0
}

// openFlag converts wazero's open flags to the system's, as its
// sysfs.DirFS does on Linux.
func openFlag(oflag experimentalsys.Oflag) int {
	var flag int
	switch oflag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag |= os.O_RDWR
	case experimentalsys.O_WRONLY:
		flag |= os.O_WRONLY
	}
	for _, m := range []struct {
		w experimentalsys.Oflag
		o int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_SYNC, os.O_SYNC},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
		{experimentalsys.O_DSYNC, syscall.O_DSYNC},
		{experimentalsys.O_NOFOLLOW, syscall.O_NOFOLLOW},
		{experimentalsys.O_NONBLOCK, syscall.O_NONBLOCK},
		{experimentalsys.O_RSYNC, syscall.O_RSYNC},
	} {
		if oflag&m.w != 0 {
			flag |= m.o
		}
	}
	return flag
}

// Lstat implements sys.FS.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	n, e := name(p)
	if e != 0 {
		return sys.Stat_t{}, e
	}
	fi, err := f.root.Lstat(n)
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements sys.FS.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	n, e := name(p)
	if e != 0 {
		return sys.Stat_t{}, e
	}
	fi, err := f.root.Stat(n)
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements sys.FS.
func (f *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	e := f.parent(p, func(dirfd int, base string, _ bool) experimentalsys.Errno {
		return errno(unix.Mkdirat(dirfd, base, uint32(perm.Perm())))
	})
	if e == experimentalsys.ENOTDIR {
		e = experimentalsys.ENOENT // as wazero's DirFS answers
	}
	return e
}

// Chmod implements sys.FS.
func (f *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	n, e := name(p)
	if e != 0 {
		return e
	}
	return errno(f.root.Chmod(n, perm))
}

// Rename implements sys.FS. Neither name's last component is followed.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if from == to {
		return 0 // as wazero's DirFS answers
	}
	return f.parent(from, func(fromfd int, fromBase string, fromSlash bool) experimentalsys.Errno {
		return f.parent(to, func(tofd int, toBase string, toSlash bool) experimentalsys.Errno {
			if fromSlash || toSlash {
				// A trailing slash on either name is allowed only
				// when a directory is moved, as rename(2) has it.
				st, err := lstatAt(fromfd, fromBase)
				if err != nil {
					return errno(err)
				}
				if st.Mode&unix.S_IFMT != unix.S_IFDIR {
					return experimentalsys.ENOTDIR
				}
			}
			return errno(unix.Renameat(fromfd, fromBase, tofd, toBase))
		})
	})
}

// Rmdir implements sys.FS. A symlink is not followed (ENOTDIR).
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.parent(p, func(dirfd int, base string, _ bool) experimentalsys.Errno {
		return errno(unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR))
	})
}

// Unlink implements sys.FS. A directory is EISDIR; a name with a
// trailing slash is never removed (EISDIR for a directory, else ENOTDIR).
func (f *FS) Unlink(p string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.parent(p, func(dirfd int, base string, slash bool) experimentalsys.Errno {
		if slash {
			st, err := lstatAt(dirfd, base)
			switch {
			case err != nil:
				return errno(err)
			case st.Mode&unix.S_IFMT == unix.S_IFDIR:
				return experimentalsys.EISDIR
			}
			return experimentalsys.ENOTDIR
		}
		e := errno(unix.Unlinkat(dirfd, base, 0))
		if e == experimentalsys.EPERM {
			e = experimentalsys.EISDIR // as wazero's DirFS answers
		}
		return e
	})
}

// Link implements sys.FS: a hard link to oldPath itself (a symlink is
// linked, not followed), as wazero's DirFS makes it.
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	return f.parent(oldPath, func(oldfd int, oldBase string, oldSlash bool) experimentalsys.Errno {
		return f.parent(newPath, func(newfd int, newBase string, newSlash bool) experimentalsys.Errno {
			if oldSlash {
				// link(2) would follow the last component: refuse
				// the name as link(2) refuses a directory or a
				// file named with a slash.
				if fi, err := f.root.Stat(strings.TrimRight(oldPath, "/")); err != nil {
					return errno(err)
				} else if fi.IsDir() {
					return experimentalsys.EPERM
				}
				return experimentalsys.ENOTDIR
			}
			if newSlash {
				if _, err := lstatAt(newfd, newBase); err == nil {
					return experimentalsys.EEXIST
				}
				return experimentalsys.ENOENT
			}
			return errno(unix.Linkat(oldfd, oldBase, newfd, newBase, 0))
		})
	})
}

// Symlink implements sys.FS: linkName, holding the text target. A target
// that is absolute, or that climbs above the root from the link's
// directory (read as text), is EPERM: such a link could never be
// followed from inside, and the host may one day follow it from outside.
func (f *FS) Symlink(target, linkName string) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return experimentalsys.EINVAL
	}
	if path.IsAbs(target) {
		return experimentalsys.EPERM
	}
	dir, _, _, _, e := split(linkName)
	if e != 0 {
		return e
	}
	if c := path.Join(dir, target); c == ".." || strings.HasPrefix(c, "../") {
		return experimentalsys.EPERM
	}
	return f.parent(linkName, func(dirfd int, base string, slash bool) experimentalsys.Errno {
		if slash {
			// symlink(2) with a trailing slash: EEXIST if the name
			// exists, else ENOENT.
			if _, err := lstatAt(dirfd, base); err == nil {
				return experimentalsys.EEXIST
			}
			return experimentalsys.ENOENT
		}
		return errno(unix.Symlinkat(target, dirfd, base))
	})
}

// Readlink implements sys.FS: the link's text, as it was written.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	n, e := name(p)
	if e != 0 {
		return "", e
	}
	s, err := f.root.Readlink(n)
	if err != nil {
		return "", errno(err)
	}
	return s, 0
}

// Utimens implements sys.FS: the times of what p names, a symlink
// followed beneath the root. UTIME_OMIT leaves a time as it is.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if f.readOnly {
		return experimentalsys.EROFS
	}
	n, e := name(p)
	if e != 0 {
		return e
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	t := func(ns int64) time.Time {
		if ns == experimentalsys.UTIME_OMIT {
			return time.Time{} // os.Root.Chtimes leaves a zero time unchanged
		}
		return time.Unix(0, ns)
	}
	return errno(f.root.Chtimes(n, t(atim), t(mtim)))
}
