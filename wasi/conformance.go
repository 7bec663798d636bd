package wasi

import (
	"context"
	"reflect"

	"github.com/tetratelabs/wazero/api"
)

// Corrections to wazero v1.12.0's WASI preview1 functions where they
// differ from the specification (the "witx" docs of snapshot-01) and from
// wasmtime, found by wasi-testsuite (tests/testdata in the repository
// lists what still differs). Each wraps wazero's own function and changes
// only the case it corrects; see docs/RATIONALE.md, "WASI conformance".
//
// Some need to know what wazero knows of an fd (is it open, how long is a
// preopen's name). wazero's functions answer only into guest memory, so
// they are asked with a scratch area of guest memory that is saved first
// and restored after: the guest is single-threaded and waits in the host
// call, so it never sees the scratch bytes.

// wazeroFns are wazero's own WASI functions, by name.
type wazeroFns map[string]hostFn

// call runs wazero's name with params and returns its errno.
func (w wazeroFns) call(ctx context.Context, mod api.Module, name string, params ...uint64) uint64 {
	stack := make([]uint64, max(len(params), len(w[name].results)))
	copy(stack, params)
	w[name].fn.Call(ctx, mod, stack)
	return stack[0]
}

// hasMemory reports whether mem is a memory: wazero's Module.Memory gives
// a typed nil for a module without one.
func hasMemory(mem api.Memory) bool {
	v := reflect.ValueOf(mem)
	return v.IsValid() && !(v.Kind() == reflect.Pointer && v.IsNil())
}

// withScratch lends fn n bytes of guest memory that overlap none of the
// avoid ranges ({offset, length}), restoring them afterwards. It reports
// false if memory has no such place.
func withScratch(mem api.Memory, n uint32, avoid [][2]uint32, fn func(ptr uint32)) bool {
	if !hasMemory(mem) || mem.Size() < n {
		return false
	}
	overlaps := func(p uint32) bool {
		for _, a := range avoid {
			if uint64(p) < uint64(a[0])+uint64(a[1]) && uint64(a[0]) < uint64(p)+uint64(n) {
				return true
			}
		}
		return false
	}
	for _, p := range []uint32{0, mem.Size() - n, mem.Size() / 2} {
		if overlaps(p) {
			continue
		}
		saved, ok := mem.Read(p, n)
		if !ok {
			return false
		}
		saved = append([]byte(nil), saved...)
		fn(p)
		mem.Write(p, saved)
		return true
	}
	return false
}

// errnoUnknown is fdstat's answer when the module has no memory to ask
// wazero with; callers then leave the call to wazero.
const errnoUnknown = ^uint64(0)

// fdstat asks wazero's fd_fdstat_get about fd: its errno (BADF if fd is
// not open, errnoUnknown if it cannot ask) and the 24-byte fdstat.
func (w wazeroFns) fdstat(ctx context.Context, mod api.Module, fd uint64) (errno uint64, st [24]byte) {
	errno = errnoUnknown
	withScratch(mod.Memory(), 24, nil, func(p uint32) {
		if errno = w.call(ctx, mod, "fd_fdstat_get", fd, uint64(p)); errno == errnoSuccess {
			b, _ := mod.Memory().Read(p, 24)
			copy(st[:], b)
		}
	})
	return errno, st
}

// notSocket answers sock_accept, sock_recv, sock_send and sock_shutdown on
// an fd that is not one of Keep's sockets: NOTSOCK if wazero has it open
// (a file, a directory, stdio), else BADF. wazero answers BADF for both.
func (w wazeroFns) notSocket(ctx context.Context, mod api.Module, fd uint64) uint64 {
	if errno, _ := w.fdstat(ctx, mod, fd); errno != errnoSuccess {
		return errnoBadf
	}
	return errnoNotsock
}

// fdRenumber: renumbering onto an fd that is not open is BADF (wazero
// opens the destination instead).
func (w wazeroFns) fdRenumber(ctx context.Context, mod api.Module, stack []uint64) {
	if errno, _ := w.fdstat(ctx, mod, uint64(uint32(stack[1]))); errno != errnoSuccess && errno != errnoUnknown {
		stack[0] = errnoBadf
		return
	}
	w["fd_renumber"].fn.Call(ctx, mod, stack)
}

// fdPrestatDirName(fd, path, path_len): a buffer shorter than the name is
// NAMETOOLONG and a longer one gets the name (wazero has both the other
// way round: it truncates into a short buffer and refuses a long one).
func (w wazeroFns) fdPrestatDirName(ctx context.Context, mod api.Module, stack []uint64) {
	fd, bufLen := uint64(uint32(stack[0])), uint32(stack[2])
	var errno uint64 = errnoFault
	var nameLen uint32
	withScratch(mod.Memory(), 8, nil, func(p uint32) {
		if errno = w.call(ctx, mod, "fd_prestat_get", fd, uint64(p)); errno == errnoSuccess {
			nameLen, _ = mod.Memory().ReadUint32Le(p + 4)
		}
	})
	switch {
	case errno != errnoSuccess:
		stack[0] = errno
	case bufLen < nameLen:
		stack[0] = errnoNametoolong
	default:
		stack[2] = uint64(nameLen)
		w["fd_prestat_dir_name"].fn.Call(ctx, mod, stack)
	}
}

// maxLink bounds the link a truncated path_readlink reads whole.
const maxLink = 64 << 10

// pathReadlink(fd, path, path_len, buf, buf_len, result.bufused): a link
// longer than the buffer fills it, as readlink(2) does (wazero returns
// RANGE).
func (w wazeroFns) pathReadlink(ctx context.Context, mod api.Module, stack []uint64) {
	params := append([]uint64(nil), stack[:6]...)
	for i := range params {
		params[i] = uint64(uint32(params[i])) // all i32
	}
	w["path_readlink"].fn.Call(ctx, mod, stack)
	if stack[0] != errnoRange {
		return
	}
	buf, bufLen, result := uint32(params[3]), uint32(params[4]), uint32(params[5])
	avoid := [][2]uint32{{uint32(params[1]), uint32(params[2])}}
	for size := uint32(4096); size <= maxLink; size *= 4 {
		var errno uint64 = errnoFault
		var link []byte
		withScratch(mod.Memory(), 4+size, avoid, func(p uint32) {
			errno = w.call(ctx, mod, "path_readlink", params[0], params[1], params[2], uint64(p+4), uint64(size), uint64(p))
			if errno == errnoSuccess {
				n, _ := mod.Memory().ReadUint32Le(p)
				b, _ := mod.Memory().Read(p+4, n)
				link = append([]byte(nil), b...)
			}
		})
		if errno == errnoRange {
			continue
		}
		if errno != errnoSuccess {
			stack[0] = errno
			return
		}
		n := min(uint32(len(link)), bufLen)
		if !mod.Memory().Write(buf, link[:n]) || !mod.Memory().WriteUint32Le(result, n) {
			stack[0] = errnoFault
			return
		}
		stack[0] = errnoSuccess
		return
	}
}

// pathLink(old_fd, old_flags, old_path, old_path_len, new_fd, new_path,
// new_path_len): with symlink_follow, the link is made to what old_path
// resolves to, so a dangling symlink or a loop is an error (NOENT, LOOP).
// wazero ignores the flag and links the symlink itself; Keep cannot link
// a symlink's target through wazero, so for a symlink that resolves it
// answers NOTSUP rather than make the wrong link.
func (w wazeroFns) pathLink(ctx context.Context, mod api.Module, stack []uint64) {
	if uint32(stack[1])&lookupflagSymlinkFollow == 0 {
		w["path_link"].fn.Call(ctx, mod, stack)
		return
	}
	avoid := [][2]uint32{{uint32(stack[2]), uint32(stack[3])}, {uint32(stack[5]), uint32(stack[6])}}
	stat := func(flags uint64) (errno uint64, filetype byte) {
		errno = errnoFault
		withScratch(mod.Memory(), 64, avoid, func(p uint32) {
			if errno = w.call(ctx, mod, "path_filestat_get", uint64(uint32(stack[0])), flags, uint64(uint32(stack[2])), uint64(uint32(stack[3])), uint64(p)); errno == errnoSuccess {
				b, _ := mod.Memory().Read(p+16, 1)
				filetype = b[0]
			}
		})
		return errno, filetype
	}
	if errno, _ := stat(lookupflagSymlinkFollow); errno != errnoSuccess {
		stack[0] = errno
		return
	}
	if errno, ft := stat(0); errno != errnoSuccess || ft == filetypeSymlink {
		stack[0] = errnoNotsup
		if errno != errnoSuccess {
			stack[0] = errno
		}
		return
	}
	w["path_link"].fn.Call(ctx, mod, stack)
}

// pollStdin reports whether a poll_oneoff subscription set waits to read
// stdin (fd 0), which wazero's poll_oneoff polls for real; every other set
// goes to Keep's (Sockets.pollOneoff), which reports files and stdout and
// stderr ready at once, without a clock event beside them, and waits for
// the earliest clock when nothing is ready (wazero answers fd_write
// subscriptions with NOTSUP, reports every clock subscription at once, and
// sleeps for the timeout even when fds are ready).
func pollStdin(mod api.Module, stack []uint64) bool {
	in, n := uint32(stack[0]), uint32(stack[2])
	if n == 0 || n > maxSubscriptions {
		return true // wazero's answer (EINVAL) stands
	}
	subs, ok := readSubscriptions(mod.Memory(), in, n)
	if !ok {
		return true
	}
	for _, sub := range subs {
		if sub.tag == eventtypeFdRead && sub.fd == 0 {
			return true
		}
	}
	return false
}

// fdAllocate(fd, offset, len): a directory is ISDIR (wazero succeeds).
func (w wazeroFns) fdAllocate(ctx context.Context, mod api.Module, stack []uint64) {
	if errno, st := w.fdstat(ctx, mod, uint64(uint32(stack[0]))); errno == errnoSuccess && st[0] == filetypeDirectory {
		stack[0] = errnoIsdir
		return
	}
	w["fd_allocate"].fn.Call(ctx, mod, stack)
}

// direntSize is the size of a "dirent" header (d_next, d_ino, d_namlen,
// d_type), before its name.
const direntSize = 24

// fdReaddir(fd, buf, buf_len, cookie, result.bufused): a buffer shorter
// than a dirent header gets as many bytes of the next entry's header as
// fit and bufused = buf_len (the buffer is full: more entries follow), as
// wasmtime answers; at the end of the directory bufused is 0. wazero
// returns INVAL for any buffer shorter than a header. Keep asks wazero for
// the next entry with a header-sized scratch buffer, whose header wazero
// writes when the name does not fit (its bufused is then 24), and copies
// what fits into the guest's buffer.
func (w wazeroFns) fdReaddir(ctx context.Context, mod api.Module, stack []uint64) {
	buf, bufLen, result := uint32(stack[1]), uint32(stack[2]), uint32(stack[4])
	if bufLen >= direntSize {
		w["fd_readdir"].fn.Call(ctx, mod, stack)
		return
	}
	fd, cookie := stack[0], stack[3]
	avoid := [][2]uint32{{buf, bufLen}, {result, 4}}
	var errno uint64 = errnoFault
	var head []byte
	ok := withScratch(mod.Memory(), 4+direntSize, avoid, func(p uint32) {
		errno = w.call(ctx, mod, "fd_readdir", fd, uint64(p+4), direntSize, cookie, uint64(p))
		if errno == errnoSuccess {
			n, _ := mod.Memory().ReadUint32Le(p)
			b, _ := mod.Memory().Read(p+4, min(n, direntSize))
			head = append([]byte(nil), b...)
		}
	})
	switch {
	case !ok:
		w["fd_readdir"].fn.Call(ctx, mod, stack) // no memory to ask with: wazero's answer
		return
	case errno != errnoSuccess:
		stack[0] = errno
		return
	}
	n := min(uint32(len(head)), bufLen)
	if !mod.Memory().Write(buf, head[:n]) || !mod.Memory().WriteUint32Le(result, n) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}
