package wasi

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// WASI preview1 rights ("rights" flags, snapshot-01 witx) and flags that
// Keep's rights table uses.
const (
	rightFdRead              = 1 << 1
	rightFdSeek              = 1 << 2
	rightFdTell              = 1 << 5
	rightFdWrite             = 1 << 6
	rightPathCreateFile      = 1 << 10
	rightPathOpen            = 1 << 13
	rightPathFilestatSetSize = 1 << 19
	rightFdFilestatSetSize   = 1 << 22
	oflagCreat               = 1 << 0             // "oflags": creat
	oflagTrunc               = 1 << 3             // "oflags": trunc
	fdflagsSync              = 1<<1 | 1<<3 | 1<<4 // "fdflags": dsync, rsync, sync
)

// fdInfo is what Keep keeps of one of wazero's fds beside what wazero
// reports of it. wazero reports fixed rights per file type, cannot drop
// rights (its fd_fdstat_set_rights answers NOSYS) and does not report the
// sync fdflags a file was opened with; Keep records what path_open asked
// and what fd_fdstat_set_rights dropped, reports them in fd_fdstat_get, and
// refuses with NOTCAPABLE the calls that need a dropped right. Rights that
// were only not asked for are reported, not enforced: wazero and the
// operating system already refuse, say, writes to a file opened read-only.
type fdInfo struct {
	base, inheriting  uint64 // asked at path_open (both 0: not asked)
	denied, deniedInh uint64 // dropped by fd_fdstat_set_rights
	flags             uint16 // sync fdflags asked at path_open
}

// effective returns the rights of an fd that wazero reports as base and
// inheriting, as Keep reports them.
func (f *fdInfo) effective(base, inheriting uint64) (uint64, uint64) {
	if f == nil {
		return base, inheriting
	}
	if f.base != 0 || f.inheriting != 0 {
		base, inheriting = base&f.base, inheriting&f.inheriting
	}
	return base &^ f.denied, inheriting &^ f.deniedInh
}

func (s *Sockets) fileInfo(fd int32) *fdInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[fd]
}

// denies reports whether fd's dropped rights include any of rights.
func (s *Sockets) denies(fd int32, rights uint64) bool {
	f := s.fileInfo(fd)
	return f != nil && f.denied&rights != 0
}

// rightsNeeded gives, for the calls on wazero's fds that Keep checks, the
// right each needs of its fd (the first parameter).
var rightsNeeded = map[string]uint64{
	"fd_read":              rightFdRead,
	"fd_pread":             rightFdRead,
	"fd_write":             rightFdWrite,
	"fd_pwrite":            rightFdWrite,
	"fd_seek":              rightFdSeek,
	"fd_tell":              rightFdTell,
	"fd_filestat_set_size": rightFdFilestatSetSize,
}

// fileCall runs wazero's name for one of its fds, with Keep's rights
// table: a dropped right is NOTCAPABLE; fd_fdstat_get reports the table;
// fd_close forgets the fd.
func (w wazeroFns) fileCall(ctx context.Context, s *Sockets, name string, mod api.Module, stack []uint64) {
	fd := int32(uint32(stack[0]))
	if need := rightsNeeded[name]; need != 0 && s.denies(fd, need) {
		stack[0] = errnoNotcapable
		return
	}
	var result uint32
	if name == "fd_fdstat_get" {
		result = uint32(stack[1])
	}
	w[name].fn.Call(ctx, mod, stack)
	if stack[0] != errnoSuccess {
		return
	}
	switch name {
	case "fd_close":
		s.mu.Lock()
		delete(s.files, fd)
		s.mu.Unlock()
	case "fd_fdstat_get":
		f := s.fileInfo(fd)
		if f == nil {
			return
		}
		mem := mod.Memory()
		flags, _ := mem.ReadUint16Le(result + 2)
		base, _ := mem.ReadUint64Le(result + 8)
		inh, _ := mem.ReadUint64Le(result + 16)
		base, inh = f.effective(base, inh)
		if !mem.WriteUint16Le(result+2, flags|f.flags) || !mem.WriteUint64Le(result+8, base) || !mem.WriteUint64Le(result+16, inh) {
			stack[0] = errnoFault
		}
	}
}

// fdFdstatSetRights(fd, fs_rights_base, fs_rights_inheriting) drops rights
// of one of wazero's fds; asking for a right the fd does not have is
// NOTCAPABLE.
func (w wazeroFns) fdFdstatSetRights(ctx context.Context, s *Sockets, mod api.Module, stack []uint64) {
	fd, base, inh := int32(uint32(stack[0])), stack[1], stack[2]
	errno, st := w.fdstat(ctx, mod, uint64(uint32(fd)))
	switch errno {
	case errnoSuccess:
	case errnoUnknown:
		stack[0] = errnoNotsup // no memory to learn the fd's rights with
		return
	default:
		stack[0] = errno
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[fd]
	curBase, curInh := f.effective(binary.LittleEndian.Uint64(st[8:]), binary.LittleEndian.Uint64(st[16:]))
	if base&^curBase != 0 || inh&^curInh != 0 {
		stack[0] = errnoNotcapable
		return
	}
	if f == nil {
		f = &fdInfo{}
		s.files[fd] = f
	}
	f.denied |= curBase &^ base
	f.deniedInh |= curInh &^ inh
	stack[0] = errnoSuccess
}

// fileOpen is path_open(fd, dirflags, path, path_len, oflags,
// fs_rights_base, fs_rights_inheriting, fdflags, result.opened_fd) with
// Keep's rights table: the directory's dropped rights refuse the open
// (path_open, path_create_file for creat, path_filestat_set_size for
// trunc), and the new fd is recorded with the rights and sync flags asked
// and the directory's dropped inheriting rights.
func (w wazeroFns) fileOpen(ctx context.Context, s *Sockets, mod api.Module, stack []uint64) {
	dir, oflags := int32(uint32(stack[0])), uint16(stack[4])
	base, inh, fdflags := stack[5], stack[6], uint16(stack[7])
	need := uint64(rightPathOpen)
	if oflags&oflagCreat != 0 {
		need |= rightPathCreateFile
	}
	if oflags&oflagTrunc != 0 {
		need |= rightPathFilestatSetSize
	}
	if s.denies(dir, need) {
		stack[0] = errnoNotcapable
		return
	}
	resultFD := uint32(stack[8])
	s.pathOpen(ctx, w["path_open"].fn, w["fd_close"].fn, mod, stack)
	if stack[0] != errnoSuccess {
		return
	}
	fd, ok := mod.Memory().ReadUint32Le(resultFD)
	if !ok {
		return
	}
	f := &fdInfo{base: base, inheriting: inh, flags: fdflags & fdflagsSync}
	s.mu.Lock()
	if d := s.files[dir]; d != nil {
		f.denied, f.deniedInh = d.deniedInh, d.deniedInh
	}
	if f.base == 0 && f.inheriting == 0 && f.denied == 0 && f.flags == 0 {
		delete(s.files, int32(fd))
	} else {
		s.files[int32(fd)] = f
	}
	s.mu.Unlock()
}

// renumberFile moves fd from's entry in the rights table to to, after
// wazero renumbered it.
func (s *Sockets) renumberFile(from, to int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.files[from]; ok {
		s.files[to] = f
	} else {
		delete(s.files, to)
	}
	delete(s.files, from)
}
