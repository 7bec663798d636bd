package wasi

import (
	"log/slog"
	"sync"
)

// NewSharedSockets returns the socket state of n instances of one module
// that serve the same listeners (n >= 1; n == 1 is NewSockets(ls, nil,
// log)). Each instance's fd for a listener is its own view of one shared
// listening socket, and each instance has its own accept queue on it:
// every established connection is given to the instance holding the
// fewest connections of that listener (accepted and not yet closed, plus
// queued; ties in turn), and only that instance is woken. A connection
// queued for an instance may be taken by any other once it has waited
// stealAfter, or at once while its instance waits in the host for
// something other than the listener, and an instance that closes its fd
// (or ends) hands its queue to the others, so a stuck or ended instance
// does not hold connections that another could serve.
// poll_oneoff reports a view readable when its instance's sock_accept
// would return a connection. Each view has its own mode (nonblock) and its
// own open/closed state; the listener closes when the last view does.
// Connected sockets cannot be shared and are not accepted here. Close
// every returned Sockets when its instance ends. See docs/RATIONALE.md,
// "Instances".
func NewSharedSockets(ls []Listener, n int, log *slog.Logger) []*Sockets {
	if n <= 1 {
		return []*Sockets{NewSockets(ls, nil, log)}
	}
	out := make([]*Sockets, n)
	wakes := make([]func(), n)
	for i := range out {
		out[i] = NewSockets(nil, nil, log)
		wakes[i] = out[i].notify
	}
	for _, l := range ls {
		shared := newSharedListenSock(l.Listener, l.Name, l.MaxConns, l.HandshakeTimeout, l.Identify, wakes, out[0].log, l.Metrics, l.ReadAhead)
		refs := &listenRefs{l: shared, n: n}
		for i, s := range out {
			v := &listenView{refs: refs, member: i, nonblock: l.Nonblock}
			s.fds[int32(l.FD)] = v
			s.shared = append(s.shared, listenMember{shared, i})
		}
	}
	return out
}

// listenMember is an instance's member number in a shared listener.
type listenMember struct {
	l      *listenSock
	member int
}

// listenRefs counts the views still open on a shared listener.
type listenRefs struct {
	l  *listenSock
	mu sync.Mutex
	n  int
}

// listenView is one instance's fd for a shared listener: member number
// member of it.
type listenView struct {
	refs   *listenRefs
	member int

	mu       sync.Mutex
	nonblock bool
	closed   bool
}

func (v *listenView) readable() bool     { return v.refs.l.readableBy(v.member) }
func (v *listenView) setNonblock(b bool) { v.mu.Lock(); v.nonblock = b; v.mu.Unlock() }
func (v *listenView) nonblocking() bool  { v.mu.Lock(); defer v.mu.Unlock(); return v.nonblock }

// close closes the view: its instance is given no more connections and
// its queue goes to the others; the listener closes with the last view.
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
	r.l.leave(v.member)
	return nil
}

// listenerOf returns the listening socket behind k and the member whose
// fd k is, for sock_accept.
func listenerOf(k sock) (*listenSock, int, bool) {
	switch l := k.(type) {
	case *listenSock:
		return l, 0, true
	case *listenView:
		return l.refs.l, l.member, true
	}
	return nil, 0, false
}
