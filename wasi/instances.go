package wasi

import (
	"log/slog"
	"sync"
)

// NewSharedSockets returns the socket state of n instances of one module
// that serve the same listeners (n >= 1; n == 1 is NewSockets(ls, nil,
// log)). Each instance's fd for a listener is its own view of one shared
// listening socket: the accept queue is shared, so whichever instance
// accepts first takes the next connection, and an instance that is busy
// in a request takes none; each view has its own mode (nonblock) and its
// own open/closed state, and a connection arriving wakes every instance
// waiting in poll_oneoff or sock_accept. The listener closes when the last
// view does. Connected sockets cannot be shared and are not accepted here.
// Close every returned Sockets when its instance ends.
func NewSharedSockets(ls []Listener, n int, log *slog.Logger) []*Sockets {
	if n <= 1 {
		return []*Sockets{NewSockets(ls, nil, log)}
	}
	out := make([]*Sockets, n)
	for i := range out {
		out[i] = NewSockets(nil, nil, log)
	}
	wakeAll := func() {
		for _, s := range out {
			s.notify()
		}
	}
	for _, l := range ls {
		shared := newListenSock(l.Listener, l.Name, l.MaxConns, l.HandshakeTimeout, l.Identify, wakeAll, out[0].log, l.Metrics, l.ReadAhead)
		refs := &listenRefs{l: shared, n: n}
		for _, s := range out {
			v := &listenView{refs: refs, nonblock: l.Nonblock}
			s.fds[int32(l.FD)] = v
		}
	}
	return out
}

// listenRefs counts the views still open on a shared listener.
type listenRefs struct {
	l  *listenSock
	mu sync.Mutex
	n  int
}

// listenView is one instance's fd for a shared listener.
type listenView struct {
	refs *listenRefs

	mu       sync.Mutex
	nonblock bool
	closed   bool
}

func (v *listenView) readable() bool     { return v.refs.l.readable() }
func (v *listenView) setNonblock(b bool) { v.mu.Lock(); v.nonblock = b; v.mu.Unlock() }
func (v *listenView) nonblocking() bool  { v.mu.Lock(); defer v.mu.Unlock(); return v.nonblock }

// close closes the view, and the listener with the last one.
func (v *listenView) close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	v.mu.Unlock()
	r := v.refs
	r.mu.Lock()
	r.n--
	last := r.n == 0
	r.mu.Unlock()
	if last {
		return r.l.close()
	}
	return nil
}

// listenerOf returns the listening socket behind k, for sock_accept.
func listenerOf(k sock) (*listenSock, bool) {
	switch l := k.(type) {
	case *listenSock:
		return l, true
	case *listenView:
		return l.refs.l, true
	}
	return nil, false
}
