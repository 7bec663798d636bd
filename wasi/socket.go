package wasi

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/keepwasm/keep/metrics"
)

// Defaults for listeners.
const (
	// DefaultMaxConns bounds a listener's concurrent connections.
	DefaultMaxConns = 1024
	// DefaultHandshakeTimeout bounds a TLS handshake on a listener.
	DefaultHandshakeTimeout = 10 * time.Second
	// acceptBacklog is how many ready connections wait for sock_accept.
	acceptBacklog = 128
)

// sock is a socket fd Keep owns.
type sock interface {
	readable() bool // data, a connection, EOF or an error is waiting
	setNonblock(bool)
	nonblocking() bool
	close() error
}

// listenSock is a listening socket. A goroutine accepts connections (and
// completes TLS handshakes, under a timeout) ahead of the guest, up to the
// listener's connection limit, and queues them for sock_accept.
type listenSock struct {
	ln        net.Listener
	name      string
	identify  func(net.Conn) []byte
	queue     chan admitted
	slots     chan struct{} // one token per open connection
	hsTimeout time.Duration
	wake      func()
	log       *slog.Logger
	metrics   metrics.Sink
	done      chan struct{}

	mu       sync.Mutex
	nonblock bool
	err      error // accept failed for good
	closed   bool
}

// admitted is a connection ready for the guest, with its peer's verified
// identity (nil if none).
type admitted struct {
	conn net.Conn
	peer []byte
}

func newListenSock(ln net.Listener, name string, maxConns int, hsTimeout time.Duration, identify func(net.Conn) []byte, wake func(), log *slog.Logger, sink metrics.Sink) *listenSock {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if hsTimeout <= 0 {
		hsTimeout = DefaultHandshakeTimeout
	}
	l := &listenSock{
		ln: ln, name: name, identify: identify, queue: make(chan admitted, acceptBacklog),
		slots: make(chan struct{}, maxConns), hsTimeout: hsTimeout,
		wake: wake, log: log, metrics: metrics.Or(sink), done: make(chan struct{}),
		nonblock: true, // see Sockets: fds Keep hands over start non-blocking
	}
	go l.loop()
	return l
}

func (l *listenSock) loop() {
	for {
		select {
		case l.slots <- struct{}{}:
		default:
			l.metrics.ConnLimitReached(l.name)
			select {
			case l.slots <- struct{}{}:
			case <-l.done:
				return
			}
		}
		c, err := l.ln.Accept()
		if err != nil {
			<-l.slots
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.mu.Lock()
			if !l.closed {
				l.err = err
				l.log.Warn("accept failed", "listener", l.name, "err", err)
			}
			l.mu.Unlock()
			l.wake()
			return
		}
		go l.admit(c)
	}
}

// admit completes a TLS handshake, if any, and queues the connection.
func (l *listenSock) admit(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		// A deadline, not HandshakeContext with a timeout: that costs a
		// context, a timer and a goroutine per connection.
		start := time.Now()
		err := c.SetDeadline(start.Add(l.hsTimeout))
		if err == nil {
			err = tc.Handshake()
		}
		if err == nil {
			err = c.SetDeadline(time.Time{})
		}
		l.metrics.Handshake(l.name, err == nil, time.Since(start))
		if err != nil {
			l.log.Info("TLS handshake failed", "listener", l.name, "remote", c.RemoteAddr().String(), "err", err)
			c.Close()
			<-l.slots
			return
		}
	}
	var peer []byte
	if l.identify != nil {
		peer = l.identify(c)
	}
	select {
	case l.queue <- admitted{c, peer}:
		l.wake()
	case <-l.done:
		c.Close()
		<-l.slots
	}
}

// accept returns a queued connection, or nil if none is waiting.
func (l *listenSock) accept() (*admitted, error) {
	select {
	case a := <-l.queue:
		return &a, nil
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return nil, l.err
}

func (l *listenSock) release() { <-l.slots }

func (l *listenSock) readable() bool {
	if len(l.queue) > 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil
}

func (l *listenSock) setNonblock(b bool) { l.mu.Lock(); l.nonblock = b; l.mu.Unlock() }
func (l *listenSock) nonblocking() bool  { l.mu.Lock(); defer l.mu.Unlock(); return l.nonblock }

func (l *listenSock) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.done)
	err := l.ln.Close()
	for {
		select {
		case a := <-l.queue:
			a.conn.Close()
			<-l.slots
		default:
			return err
		}
	}
}

// connSock is a connected stream. A goroutine (pump) reads ahead into a
// bounded buffer (readBuf, up to readAheadMax) while the guest consumes it,
// and wakes the guest when data, EOF or an error arrives; EOF and errors
// reach the guest after the data before them. Writes go straight to the
// connection, on the guest's thread.
type connSock struct {
	conn    net.Conn
	peer    []byte // the peer's verified identity (JSON), if any
	wake    func()
	release func() // frees the listener's connection slot, if any
	in      *readBuf
	pumped  chan struct{} // closed when pump returns

	mu       sync.Mutex
	nonblock bool
	closed   bool
	rdShut   bool
}

func newConnSock(c net.Conn, wake, release func()) *connSock {
	s := &connSock{conn: c, wake: wake, release: release, in: newReadBuf(readAheadMax), pumped: make(chan struct{})}
	go s.pump()
	return s
}

// pump reads ahead until the connection ends or the socket is closed.
func (s *connSock) pump() {
	defer close(s.pumped)
	s.in.fill(s.conn, s.wake)
}

// read copies waiting data into bufs. It returns n > 0, or (0, io.EOF) at
// the end, or (0, err), or (0, nil) when nothing is waiting yet.
func (s *connSock) read(bufs [][]byte, peek bool) (int, error) {
	if s.readShut() {
		return 0, io.EOF
	}
	return s.in.read(bufs, peek)
}

// pending returns the bytes waiting for the guest and whether the stream
// has ended with nothing left (poll_oneoff's nbytes and hangup flag).
func (s *connSock) pending() (n int, hup bool) { return s.in.buffered() }

func (s *connSock) readable() bool { return s.readShut() || s.in.readable() }

func (s *connSock) readShut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rdShut
}

func (s *connSock) write(b []byte) (int, error) { return s.conn.Write(b) }

func (s *connSock) shutdown(rd, wr bool) error {
	if rd {
		s.mu.Lock()
		s.rdShut = true
		s.mu.Unlock()
	}
	if wr {
		if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
	}
	return nil
}

func (s *connSock) setNonblock(b bool) { s.mu.Lock(); s.nonblock = b; s.mu.Unlock() }
func (s *connSock) nonblocking() bool  { s.mu.Lock(); defer s.mu.Unlock(); return s.nonblock }

func (s *connSock) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.in.close()
	err := s.conn.Close()
	if s.release != nil {
		s.release()
	}
	return err
}
