package wasi

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// Reading a connection without holding a buffer while its peer is silent.
//
// A connection socket reads ahead of the guest (readbuf.go). Read on a
// net.Conn blocks until data arrives, holding the buffer it reads into, so
// every idle connection would hold one read chunk. A pollConn instead
// reads its socket with one non-blocking attempt (errWouldBlock if nothing
// is there) and waits for readability separately (waitReadable), holding
// no buffer; the read-ahead gives its empty chunk back in between.
//
// TLS sits on top: crypto/tls keeps a partial record in its own input
// buffer and does not record a net.Error whose Temporary() is true as the
// connection's error (that is how read deadlines behave), so tls.Conn.Read
// returns (0, errWouldBlock), or (n, errWouldBlock) after data when it
// looked ahead for a close_notify, and the next Read carries on where it
// stopped. Post-handshake messages (KeyUpdate, NewSessionTicket) split
// across records or TCP segments survive the same way: the fragment stays
// in crypto/tls's handshake buffer. A pollConn stays blocking until the
// connection socket takes it over (setNonblock), after the handshake: a
// handshake must never see errWouldBlock, which would end it.

// errWouldBlock is a pollConn's answer to a read that would block. It is a
// temporary net.Error so that crypto/tls passes it up without failing the
// connection; it never reaches the guest.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "read would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// pollConn is a TCP connection whose reads can be non-blocking. Everything
// but Read (Write, Close, deadlines, addresses) goes to the connection it
// wraps.
type pollConn struct {
	net.Conn
	raw      syscall.RawConn
	nonblock atomic.Bool
	peek     [1]byte // waitReadable's probe; only the reader uses it
	nread    int64   // bytes read without blocking; only the reader uses it (tests)
}

// Pollable returns c wrapped so that a connection socket can read it
// without holding a buffer while the peer is silent, or c itself if its
// descriptor is not one Go's poller manages (c must then implement
// syscall.Conn, as *net.TCPConn does). Wrap the TCP connection before
// TLS: tls.Server(Pollable(c), config). The wrapper reads blocking until
// a connection socket takes it over.
func Pollable(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &pollConn{Conn: c, raw: raw}
}

// PollableListener wraps ln so that every connection it accepts is
// Pollable. Put it under tls.NewListener.
func PollableListener(ln net.Listener) net.Listener { return pollListener{ln} }

type pollListener struct{ net.Listener }

func (l pollListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Pollable(c), nil
}

// CloseWrite half-closes the connection, when the one it wraps can.
func (p *pollConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// setNonblock switches Read to one non-blocking attempt.
func (p *pollConn) setNonblock() { p.nonblock.Store(true) }

// Read reads as the wrapped connection does until setNonblock; then it
// makes one attempt and answers errWouldBlock if nothing is waiting.
func (p *pollConn) Read(b []byte) (int, error) {
	if !p.nonblock.Load() {
		return p.Conn.Read(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno error
	err := p.raw.Read(func(fd uintptr) bool {
		for {
			n, errno = syscall.Read(int(fd), b)
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil: // closed, or a deadline passed
		return 0, p.opError("read", err)
	case errno == syscall.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, p.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	p.nread += int64(n)
	return n, nil
}

// waitReadable returns once the socket has data, EOF or an error waiting
// (or perhaps spuriously: the next Read then answers errWouldBlock again),
// or the connection is closed.
//
// It probes and waits within one RawConn.Read call. RawConn.Read first
// resets the poller's readiness for the descriptor, and Go's poller is
// edge-triggered: data that arrived between Read's EAGAIN and that reset
// would never be signalled again. The probe (recv with MSG_PEEK, after the
// reset) sees such data, and anything arriving after it is signalled.
func (p *pollConn) waitReadable() error {
	probed := false
	err := p.raw.Read(func(fd uintptr) bool {
		if probed {
			return true // woken by the poller
		}
		probed = true
		for {
			_, _, errno := syscall.Recvfrom(int(fd), p.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if errno != syscall.EINTR {
				return errno != syscall.EAGAIN // data, EOF (0) or an error: ready
			}
		}
	})
	if err != nil {
		return p.opError("read", err)
	}
	return nil
}

// writeOnce writes what the socket takes of b now, without waiting: (0,
// nil) means its send buffer is full.
func (p *pollConn) writeOnce(b []byte) (int, error) {
	var n int
	var errno error
	err := p.raw.Write(func(fd uintptr) bool {
		for {
			n, errno = syscall.Write(int(fd), b)
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, p.opError("write", err)
	case errno == syscall.EAGAIN:
		return 0, nil
	case errno != nil:
		return 0, p.opError("write", os.NewSyscallError("write", errno))
	}
	return max(n, 0), nil
}

func (p *pollConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err // RawConn's own, naming the addresses
	}
	return &net.OpError{Op: op, Net: p.LocalAddr().Network(), Source: p.LocalAddr(), Addr: p.RemoteAddr(), Err: err}
}

// pollableOf returns the pollConn under c: c itself, or the connection
// under a TLS connection whose handshake is complete. Anything else (a
// pipe, a handshake still to run) reads blocking, as before.
func pollableOf(c net.Conn) *pollConn {
	switch c := c.(type) {
	case *pollConn:
		return c
	case *tls.Conn:
		if p, ok := c.NetConn().(*pollConn); ok && c.ConnectionState().HandshakeComplete {
			return p
		}
	}
	return nil
}
