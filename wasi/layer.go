package wasi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/keepwasm/keep/metrics"
)

// AcceptedFDBase is the first fd number given to accepted connections (when
// no closed socket position is free for reuse).
const AcceptedFDBase = 1 << 16

// Listener is a listening socket for the guest at fd FD.
type Listener struct {
	FD       uint32
	Name     string
	Listener net.Listener
	// MaxConns bounds concurrent connections (default DefaultMaxConns).
	MaxConns int
	// HandshakeTimeout bounds each TLS handshake (default
	// DefaultHandshakeTimeout). It applies when Listener yields *tls.Conn.
	HandshakeTimeout time.Duration
	// Identify, if set, describes a connection's verified peer after its
	// handshake (JSON); the guest reads it with keep.peer_identity.
	Identify func(net.Conn) []byte
	// Metrics, if set, counts the listener's TLS handshakes and the times
	// it reaches MaxConns.
	Metrics metrics.Sink
	// Nonblock is the mode the fd starts in (see NewSockets).
	Nonblock bool
	// ReadAhead bounds how many bytes each accepted connection reads
	// ahead of the guest (0: DefaultReadAhead).
	ReadAhead int
}

// Conn is a connected socket for the guest at fd FD.
type Conn struct {
	FD   uint32
	Name string
	Conn net.Conn
	// Nonblock is the mode the fd starts in (see NewSockets).
	Nonblock bool
	// ReadAhead bounds how many bytes the connection reads ahead of the
	// guest (0: DefaultReadAhead).
	ReadAhead int
}

// Sockets is the socket state of one run: the fds Keep owns.
type Sockets struct {
	wake chan struct{}
	log  *slog.Logger

	// open counts connections not yet closed, including those the guest
	// closed whose data is still being flushed.
	open sync.WaitGroup

	// shared lists the listeners this instance shares with others, and
	// its member number in each (NewSharedSockets).
	shared []listenMember

	mu    sync.Mutex
	fds   map[int32]sock
	files map[int32]*fdInfo // Keep's rights table for wazero's fds (rights.go)
	free  []int32           // closed socket positions, reusable for accepted conns
	next  int32
}

// NewSockets returns the socket state for a run; it starts accepting and
// reading at once. Close it when the run ends.
//
// Each listen and connect fd starts in the mode its Listener or Conn
// says. Enarx hands them over blocking, which C, C++ and Rust programs
// written for it expect; Go's wasip1 runtime needs them non-blocking (its
// os.NewFile keeps the mode it finds, and only a non-blocking fd goes to
// its poller), so the runtime chooses by the module (docs/RATIONALE.md,
// "Socket start mode"). Accepted connections start blocking unless
// sock_accept asks for NONBLOCK. A blocking call waits in the host for
// its socket, and ends with the run.
func NewSockets(ls []Listener, cs []Conn, log *slog.Logger) *Sockets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sockets{wake: make(chan struct{}, 1), log: log, fds: map[int32]sock{}, files: map[int32]*fdInfo{}, next: AcceptedFDBase}
	for _, l := range ls {
		k := newListenSock(l.Listener, l.Name, l.MaxConns, l.HandshakeTimeout, l.Identify, s.notify, log, l.Metrics, l.ReadAhead)
		k.setNonblock(l.Nonblock)
		s.fds[int32(l.FD)] = k
	}
	for _, c := range cs {
		k := s.newConn(c.Conn, nil, c.ReadAhead)
		k.setNonblock(c.Nonblock)
		s.fds[int32(c.FD)] = k
	}
	return s
}

// newConn makes a connection socket whose closing Close waits for.
func (s *Sockets) newConn(c net.Conn, release func(), readAhead int) *connSock {
	s.open.Add(1)
	return newConnSock(c, s.notify, s.released(release), readAhead)
}

// accepted makes the socket of an accepted connection, whose read-ahead
// is already running; Close waits for it as for newConn's.
func (s *Sockets) accepted(a *admitted, release func()) *connSock {
	s.open.Add(1)
	return newConnSockAhead(a.conn, a.ahead, s.notify, s.released(release))
}

// released returns what a connection socket calls once it is closed:
// release (if any), then the count Close waits on.
func (s *Sockets) released(release func()) func() {
	return func() {
		if release != nil {
			release()
		}
		s.open.Done()
	}
}

func (s *Sockets) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close closes every socket. It returns once every connection is closed,
// those the guest closed before included: what the guest wrote is flushed
// first, for at most writeLinger.
func (s *Sockets) Close() error {
	s.mu.Lock()
	var errs []error
	for fd, k := range s.fds {
		errs = append(errs, k.close())
		delete(s.fds, fd)
	}
	s.mu.Unlock()
	s.open.Wait()
	return errors.Join(errs...)
}

func (s *Sockets) get(fd int32) sock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fds[fd]
}

func (s *Sockets) add(k sock) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var fd int32
	if n := len(s.free); n > 0 {
		fd, s.free = s.free[n-1], s.free[:n-1]
	} else {
		fd = s.next
		s.next++
	}
	s.fds[fd] = k
	return fd
}

// freed reports whether fd is a socket position the guest closed (and no
// socket holds again). Below AcceptedFDBase wazero still holds the
// placeholder that reserves the number, so a call on it must not reach
// wazero: it is BADF, as for any closed fd.
func (s *Sockets) freed(fd int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fds[fd] == nil && slices.Contains(s.free, fd)
}

func (s *Sockets) remove(fd int32) sock {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.fds[fd]
	delete(s.fds, fd)
	if k != nil {
		s.free = append(s.free, fd)
	}
	return k
}

// wait blocks until a socket wakes the guest, d passes (d < 0: no limit),
// or ctx ends; then the guest is stopped.
func (s *Sockets) wait(ctx context.Context, d time.Duration) { s.waitOn(ctx, d, nil) }

// waitOn is wait, by a call that waits for the listeners on among other
// things: a listener shared with other instances learns whether this
// instance is listening to it (see listenSock.stale).
func (s *Sockets) waitOn(ctx context.Context, d time.Duration, on []*listenSock) {
	for _, r := range s.shared {
		state := memberElsewhere
		if slices.Contains(on, r.l) {
			state = memberListening
		}
		r.l.setState(r.member, state)
	}
	if len(s.shared) > 0 {
		defer func() {
			for _, r := range s.shared {
				r.l.setState(r.member, memberRunning)
			}
		}()
	}
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-s.wake:
	case <-timer:
	case <-ctx.Done():
		Stop(ctx)
	}
}

// Stop ends the guest because its run's context ended. It must be called
// from a host function, with the context wazero passed to it, and does not
// return: wazero turns its panic into the module's exit, as proc_exit does,
// with sys.ExitCodeDeadlineExceeded or sys.ExitCodeContextCanceled.
func Stop(ctx context.Context) {
	code := sys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = sys.ExitCodeDeadlineExceeded
	}
	panic(sys.NewExitError(code))
}

// stopWhenDone wraps a host function so that a guest calling it after its
// run's context ended is stopped instead. Keep compiles guests without
// wazero's interrupt checks in loops (see runtime.EngineConfig.Interruptible),
// so host calls are where a running guest is stopped: Go guests call
// clock_time_get and poll_oneoff constantly. The check is one atomic load
// (context.cancelCtx.Err) per call.
func stopWhenDone(fn api.GoModuleFunction) api.GoModuleFunction {
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if ctx.Err() != nil {
			Stop(ctx)
		}
		fn.Call(ctx, mod, stack)
	})
}

type ctxKey struct{}

// WithSockets returns a context that gives the run's host functions s.
// Without it there are no sockets and no rights table (rights.go); the
// other corrections of wazero (conformance.go) apply either way.
func WithSockets(ctx context.Context, s *Sockets) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

func fromContext(ctx context.Context) *Sockets {
	s, _ := ctx.Value(ctxKey{}).(*Sockets)
	return s
}

// hostFn is one of wazero's WASI functions.
type hostFn struct {
	fn      api.GoModuleFunction
	params  []api.ValueType
	results []api.ValueType
	names   []string
}

// Instantiate registers Keep's "wasi_snapshot_preview1" in r: wazero's
// implementation, with the functions that take fds wrapped so that Keep's
// sockets are handled here, and every function wrapped so that it stops
// the guest once the context of its run has ended.
func Instantiate(ctx context.Context, r wazero.Runtime) (*Host, error) {
	// Compile wazero's own module to reach the Go implementation of each
	// function.
	b := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	compiled, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	orig := map[string]hostFn{}
	for name, def := range compiled.ExportedFunctions() {
		fn, ok := def.GoFunction().(api.GoModuleFunction)
		if !ok {
			return nil, fmt.Errorf("wazero's %s is not a GoModuleFunction", name)
		}
		orig[name] = hostFn{fn, def.ParamTypes(), def.ResultTypes(), def.ParamNames()}
	}
	compiled.Close(ctx)

	out := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	for name, h := range orig {
		fn := h.fn
		if w := wrap(name, wazeroFns(orig)); w != nil {
			fn = w
		}
		out.NewFunctionBuilder().WithGoModuleFunction(stopWhenDone(fn), h.params, h.results).WithParameterNames(h.names...).Export(name)
	}
	wasiMod, err := out.Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	keepMod, err := r.NewHostModuleBuilder(KeepModule).NewFunctionBuilder().
		WithGoModuleFunction(stopWhenDone(api.GoModuleFunc(peerIdentity)), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames("fd", "buf", "buf_len", "result.len").
		Export("peer_identity").
		NewFunctionBuilder().
		WithGoModuleFunction(stopWhenDone(api.GoModuleFunc(verifyCSR)), verifyCSRParams, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames(verifyCSRNames...).
		Export("verify_csr").Instantiate(ctx)
	if err != nil {
		wasiMod.Close(ctx)
		return nil, err
	}
	return &Host{WASI: wasiMod, Keep: keepMod}, nil
}

// Host is Keep's host modules in one runtime.
type Host struct {
	// WASI is "wasi_snapshot_preview1"; Keep is Keep's own functions.
	WASI, Keep api.Module
}

// Close closes both modules.
func (h *Host) Close(ctx context.Context) error {
	return errors.Join(h.WASI.Close(ctx), h.Keep.Close(ctx))
}

// KeepModule is the import module of Keep's own host functions.
const KeepModule = "keep"

// peerIdentity implements keep.peer_identity(fd, buf, buf_len, result.len)
// -> errno: it writes the verified identity of the peer of connection fd,
// as JSON, into buf, and its length into result.len. Errors: BADF if fd is
// not one of Keep's sockets; NOENT if the peer presented no verified
// identity (no client authentication, or a plain TCP socket); INVAL if
// buf_len is too small (result.len then holds the size needed).
func peerIdentity(ctx context.Context, mod api.Module, stack []uint64) {
	const errnoNoent = 44
	s := fromContext(ctx)
	if s == nil {
		stack[0] = errnoBadf
		return
	}
	c, ok := s.get(int32(uint32(stack[0]))).(*connSock)
	switch {
	case !ok:
		stack[0] = errnoBadf
	case c.peer == nil:
		stack[0] = errnoNoent
	case !mod.Memory().WriteUint32Le(uint32(stack[3]), uint32(len(c.peer))):
		stack[0] = errnoFault
	case uint32(stack[2]) < uint32(len(c.peer)):
		stack[0] = errnoInval
	case !mod.Memory().Write(uint32(stack[1]), c.peer):
		stack[0] = errnoFault
	default:
		stack[0] = errnoSuccess
	}
}

// fdParams gives, for each WASI function that takes fds, the index of each
// fd parameter and the errno it returns when an fd is a socket and the
// function has no meaning for sockets.
var fdParams = map[string]struct {
	idx   []int
	errno uint64
}{
	"fd_advise":               {[]int{0}, errnoNotsup},
	"fd_allocate":             {[]int{0}, errnoNotsup},
	"fd_datasync":             {[]int{0}, errnoInval},
	"fd_fdstat_set_rights":    {[]int{0}, errnoNotsup},
	"fd_filestat_set_size":    {[]int{0}, errnoInval},
	"fd_filestat_set_times":   {[]int{0}, errnoNotsup},
	"fd_pread":                {[]int{0}, errnoSpipe},
	"fd_pwrite":               {[]int{0}, errnoSpipe},
	"fd_prestat_get":          {[]int{0}, errnoBadf}, // a socket is not a preopened dir
	"fd_prestat_dir_name":     {[]int{0}, errnoBadf},
	"fd_readdir":              {[]int{0}, errnoNotdir},
	"fd_seek":                 {[]int{0}, errnoSpipe},
	"fd_sync":                 {[]int{0}, errnoInval},
	"fd_tell":                 {[]int{0}, errnoSpipe},
	"path_create_directory":   {[]int{0}, errnoNotdir},
	"path_filestat_get":       {[]int{0}, errnoNotdir},
	"path_filestat_set_times": {[]int{0}, errnoNotdir},
	"path_link":               {[]int{0, 4}, errnoNotdir},
	"path_open":               {[]int{0}, errnoNotdir},
	"path_readlink":           {[]int{0}, errnoNotdir},
	"path_remove_directory":   {[]int{0}, errnoNotdir},
	"path_rename":             {[]int{0, 3}, errnoNotdir},
	"path_symlink":            {[]int{2}, errnoNotdir},
	"path_unlink_file":        {[]int{0}, errnoNotdir},
}

const errnoSpipe = 70 // "errno": spipe (invalid seek)

// handlers are Keep's implementations for socket fds; they run only when
// the fd (the first parameter) is one of Keep's.
var handlers = map[string]func(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64{
	"fd_close":            fdClose,
	"fd_fdstat_get":       fdFdstatGet,
	"fd_fdstat_set_flags": fdFdstatSetFlags,
	"fd_filestat_get":     fdFilestatGet,
	"fd_read":             fdRead,
	"fd_write":            fdWrite,
	"sock_accept":         sockAccept,
	"sock_recv":           sockRecv,
	"sock_send":           sockSend,
	"sock_shutdown":       sockShutdown,
}

// noSockets stands in for the Sockets of a run that has none, so that
// Keep's poll_oneoff also serves it.
var noSockets = NewSockets(nil, nil, nil)

// wrap returns Keep's version of wazero's function name (w holds them
// all), or nil to use wazero's as it is. Keep's versions handle Keep's
// sockets and correct wazero where it differs from WASI (conformance.go).
func wrap(name string, w wazeroFns) api.GoModuleFunction {
	orig := w[name].fn
	switch {
	case name == "poll_oneoff":
		return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			if !pollFits(mod, uint32(stack[2])) {
				stack[0] = errnoInval
				return
			}
			s := fromContext(ctx)
			switch {
			case s != nil && s.pollInvolves(mod, stack):
			case pollStdin(mod, stack):
				orig.Call(ctx, mod, stack)
				return
			case s == nil:
				s = noSockets
			}
			stack[0] = s.pollOneoff(ctx, mod, stack, w)
		})
	case name == "fd_renumber":
		return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			s := fromContext(ctx)
			if s == nil {
				s = noSockets // for fd_renumber(x, x)
			}
			from, to := int32(uint32(stack[0])), int32(uint32(stack[1]))
			kf, kt := s.get(from), s.get(to)
			switch {
			case s.freed(from) || s.freed(to):
				stack[0] = errnoBadf // a closed socket position
			case from == to && kf != nil:
				stack[0] = errnoSuccess // renumbering a socket onto itself changes nothing
			case from == to:
				// The same for wazero's fds, which it would close: only
				// BADF if the fd is not open.
				stack[0] = errnoSuccess
				if errno, _ := w.fdstat(ctx, mod, uint64(uint32(from))); errno != errnoSuccess && errno != errnoUnknown {
					stack[0] = errnoBadf
				}
			case kf == nil && kt == nil:
				if w.fdRenumber(ctx, mod, stack); stack[0] == errnoSuccess {
					s.renumberFile(from, to)
				}
			case kf == nil || kt == nil:
				stack[0] = errnoNotsup // between a socket and a wazero fd
			default:
				stack[0] = s.renumber(from, to)
			}
		})
	case handlers[name] != nil:
		h := handlers[name]
		fallback := func(ctx context.Context, s *Sockets, mod api.Module, stack []uint64) {
			if s == nil {
				orig.Call(ctx, mod, stack)
				return
			}
			w.fileCall(ctx, s, name, mod, stack)
		}
		if strings.HasPrefix(name, "sock_") {
			fallback = func(ctx context.Context, _ *Sockets, mod api.Module, stack []uint64) {
				stack[0] = w.notSocket(ctx, mod, stack[0])
			}
		}
		return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			s := fromContext(ctx)
			if s != nil {
				if k := s.get(int32(uint32(stack[0]))); k != nil {
					stack[0] = h(ctx, s, k, mod, stack)
					return
				}
				if s.freed(int32(uint32(stack[0]))) {
					stack[0] = errnoBadf
					return
				}
			}
			fallback(ctx, s, mod, stack)
		})
	}
	p, ok := fdParams[name]
	if !ok {
		return nil
	}
	// For wazero's fds: a function that needs the run's Sockets (its
	// rights table), else one that does not.
	var withSockets func(context.Context, *Sockets, api.Module, []uint64)
	fallback := orig.Call
	switch {
	case name == "path_open":
		withSockets = w.fileOpen
	case name == "fd_fdstat_set_rights":
		withSockets = w.fdFdstatSetRights
	case rightsNeeded[name] != 0:
		withSockets = func(ctx context.Context, s *Sockets, mod api.Module, stack []uint64) {
			w.fileCall(ctx, s, name, mod, stack)
		}
	case name == "fd_allocate":
		fallback = w.fdAllocate
	case name == "fd_prestat_dir_name":
		fallback = w.fdPrestatDirName
	case name == "path_readlink":
		fallback = w.pathReadlink
	case name == "path_link":
		fallback = w.pathLink
	case name == "fd_readdir":
		fallback = w.fdReaddir
	}
	return api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		if s := fromContext(ctx); s != nil {
			for _, i := range p.idx {
				if s.get(int32(stack[i])) != nil {
					stack[0] = p.errno
					return
				}
				if s.freed(int32(stack[i])) {
					stack[0] = errnoBadf
					return
				}
			}
			if withSockets != nil {
				withSockets(ctx, s, mod, stack)
				return
			}
		}
		fallback(ctx, mod, stack)
	})
}

// pathOpen calls wazero's path_open and makes sure the fd it allocated is
// not one of Keep's (which cannot happen below AcceptedFDBase unless the
// guest holds tens of thousands of files open).
func (s *Sockets) pathOpen(ctx context.Context, orig, wazeroClose api.GoModuleFunction, mod api.Module, stack []uint64) {
	resultFD := uint32(stack[8])
	orig.Call(ctx, mod, stack)
	if stack[0] != errnoSuccess {
		return
	}
	fd, ok := mod.Memory().ReadUint32Le(resultFD)
	if ok && s.get(int32(fd)) != nil {
		s.log.Error("wazero allocated an fd Keep owns; refusing the open", "fd", fd)
		wazeroClose.Call(ctx, mod, []uint64{uint64(fd)})
		stack[0] = 33 // "errno": mfile
	}
}

func (s *Sockets) renumber(from, to int32) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.fds[from]
	if old := s.fds[to]; old != nil && old != k {
		old.close()
	}
	delete(s.fds, from)
	s.fds[to] = k
	s.free = append(s.free, from)
	return errnoSuccess
}

// ---- handlers ----

func fdClose(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	s.remove(int32(uint32(stack[0])))
	k.close()
	return errnoSuccess
}

// fd_fdstat_get(fd, result.fdstat): filetype, flags, rights.
func fdFdstatGet(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	var b [24]byte
	b[0] = filetypeSocketStream
	if k.nonblocking() {
		b[2] = fdflagNonblock
	}
	le64(b[8:], rightsSocket)
	le64(b[16:], rightsSocket)
	if !mod.Memory().Write(uint32(stack[1]), b[:]) {
		return errnoFault
	}
	return errnoSuccess
}

func fdFdstatSetFlags(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	flags := uint16(stack[1])
	if flags&^fdflagNonblock != 0 {
		return errnoNotsup // append, dsync, rsync, sync mean nothing for a socket
	}
	k.setNonblock(flags&fdflagNonblock != 0)
	return errnoSuccess
}

// fd_filestat_get(fd, result.filestat): 64 bytes, only the filetype set.
func fdFilestatGet(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	var b [64]byte
	b[16] = filetypeSocketStream
	if !mod.Memory().Write(uint32(stack[1]), b[:]) {
		return errnoFault
	}
	return errnoSuccess
}

// readIovecs returns the guest buffers an iovec array names.
func readIovecs(mem api.Memory, iovs, n uint32) ([][]byte, bool) {
	if n > 1024 {
		return nil, false
	}
	bufs := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		off, ok1 := mem.ReadUint32Le(iovs + 8*i)
		l, ok2 := mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			return nil, false
		}
		b, ok := mem.Read(off, l)
		if !ok {
			return nil, false
		}
		bufs = append(bufs, b)
	}
	return bufs, true
}

// recv reads into the guest's iovecs, blocking unless the socket is
// non-blocking.
func (s *Sockets) recv(ctx context.Context, k sock, mod api.Module, iovs, n uint32, peek bool) (uint32, uint64) {
	c, ok := k.(*connSock)
	if !ok {
		return 0, errnoNotconn // a listener
	}
	bufs, ok := readIovecs(mod.Memory(), iovs, n)
	if !ok {
		return 0, errnoFault
	}
	for {
		m, err := c.read(bufs, peek)
		switch {
		case m > 0:
			return uint32(m), errnoSuccess
		case errors.Is(err, io.EOF):
			return 0, errnoSuccess
		case err != nil:
			return 0, errnoConnreset
		case c.nonblocking():
			return 0, errnoAgain
		}
		s.wait(ctx, -1)
	}
}

// fd_read(fd, iovs, iovs_len, result.nread)
func fdRead(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	n, errno := s.recv(ctx, k, mod, uint32(stack[1]), uint32(stack[2]), false)
	if errno == errnoSuccess && !mod.Memory().WriteUint32Le(uint32(stack[3]), n) {
		return errnoFault
	}
	return errno
}

// sock_recv(fd, ri_data, ri_data_len, ri_flags, result.ro_datalen, result.ro_flags)
func sockRecv(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	flags := uint16(stack[3])
	if flags&^(riflagRecvPeek|riflagRecvWaitall) != 0 {
		return errnoNotsup
	}
	n, errno := s.recv(ctx, k, mod, uint32(stack[1]), uint32(stack[2]), flags&riflagRecvPeek != 0)
	if errno != errnoSuccess {
		return errno
	}
	mem := mod.Memory()
	if !mem.WriteUint32Le(uint32(stack[4]), n) || !mem.WriteUint16Le(uint32(stack[5]), 0) {
		return errnoFault
	}
	return errnoSuccess
}

// send copies the guest's iovecs into the connection's write-behind
// buffer. A non-blocking socket takes what fits (EAGAIN if nothing does);
// a blocking one waits for room until everything is taken or the run ends.
func (s *Sockets) send(ctx context.Context, k sock, mod api.Module, iovs, n uint32) (uint32, uint64) {
	c, ok := k.(*connSock)
	if !ok {
		return 0, errnoNotconn
	}
	bufs, ok := readIovecs(mod.Memory(), iovs, n)
	if !ok {
		return 0, errnoFault
	}
	total := uint32(0)
	for _, b := range bufs {
		for len(b) > 0 {
			m, err := c.write(b)
			total += uint32(m)
			b = b[m:]
			switch {
			case err != nil && total > 0:
				return total, errnoSuccess
			case err != nil:
				return 0, errnoPipe
			case m > 0:
			case c.nonblocking() && total > 0:
				return total, errnoSuccess
			case c.nonblocking():
				return 0, errnoAgain
			default:
				s.wait(ctx, -1)
			}
		}
	}
	return total, errnoSuccess
}

// fd_write(fd, iovs, iovs_len, result.nwritten)
func fdWrite(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	n, errno := s.send(ctx, k, mod, uint32(stack[1]), uint32(stack[2]))
	if errno == errnoSuccess && !mod.Memory().WriteUint32Le(uint32(stack[3]), n) {
		return errnoFault
	}
	return errno
}

// sock_send(fd, si_data, si_data_len, si_flags, result.so_datalen)
func sockSend(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	if uint32(stack[3]) != 0 { // si_flags: WASI defines none
		return errnoNotsup
	}
	n, errno := s.send(ctx, k, mod, uint32(stack[1]), uint32(stack[2]))
	if errno == errnoSuccess && !mod.Memory().WriteUint32Le(uint32(stack[4]), n) {
		return errnoFault
	}
	return errno
}

// sock_accept(fd, flags, result.fd)
func sockAccept(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	l, member, ok := listenerOf(k)
	if !ok {
		return errnoInval // not listening
	}
	flags := uint16(stack[1])
	if flags&^fdflagNonblock != 0 {
		return errnoNotsup
	}
	for {
		a, err := l.acceptBy(member)
		if a != nil {
			cs := s.accepted(a, a.release)
			cs.peer = a.peer
			cs.setNonblock(flags&fdflagNonblock != 0)
			fd := s.add(cs)
			if !mod.Memory().WriteUint32Le(uint32(stack[2]), uint32(fd)) {
				s.remove(fd)
				cs.close()
				return errnoFault
			}
			return errnoSuccess
		}
		if err != nil {
			return errnoIo
		}
		if k.nonblocking() {
			return errnoAgain
		}
		s.waitOn(ctx, -1, []*listenSock{l})
	}
}

// sock_shutdown(fd, how)
func sockShutdown(ctx context.Context, s *Sockets, k sock, mod api.Module, stack []uint64) uint64 {
	how := uint8(stack[1])
	if how == 0 || how&^(sdflagRd|sdflagWr) != 0 {
		return errnoInval
	}
	c, ok := k.(*connSock)
	if !ok {
		return errnoNotconn
	}
	if err := c.shutdown(how&sdflagRd != 0, how&sdflagWr != 0); err != nil {
		return errnoIo
	}
	return errnoSuccess
}

func le64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}
