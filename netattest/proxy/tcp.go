package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ServeTCP bridges each connection accepted on ln to the keep, byte for
// byte, at most Options.MaxConns at once. A connection whose keep is
// refused (or unreachable) is closed without a byte exchanged. Half-closes
// pass through: a client's FIN becomes a TLS close_notify to the keep, and
// the keep's end of stream a FIN to the client. It returns ErrClosed after
// Close.
func (p *Proxy) ServeTCP(ln net.Listener) error {
	p.init()
	ll := newLimitListener(ln, p.maxConns())
	if !p.track(ll) {
		return ErrClosed
	}
	defer p.untrack(ll)
	var delay time.Duration
	for {
		c, err := ll.Accept()
		if err != nil {
			if p.isClosed() {
				return ErrClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() { // EMFILE and the like: back off, as net/http does
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				p.Log.Warn("accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !p.startBridge(c) {
			return ErrClosed
		}
	}
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// startBridge tracks c and bridges it in a goroutine; false if closed.
func (p *Proxy) startBridge(c net.Conn) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1) // under mu, so that Close's Wait sees it
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer p.untrack(c)
		defer c.Close()
		p.bridge(c)
	}()
	return true
}

func (p *Proxy) bridge(c net.Conn) {
	kc, _, err := p.Dial(p.ctx)
	if err != nil {
		// Refusals are logged once per verification; this is per connection.
		p.Log.Debug("connection closed unforwarded", "client", c.RemoteAddr().String(), "err", err)
		var ue *UnreachableError
		if errors.As(err, &ue) {
			p.Log.Warn("cannot reach the keep", "keep", p.KeepAddr, "err", ue.Err)
		}
		return
	}
	if !p.track(kc) {
		return
	}
	defer p.untrack(kc)
	defer kc.Close()
	p.Log.Debug("bridging", "client", c.RemoteAddr().String(), "keep", p.KeepAddr)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pipe(kc, c)
	}()
	pipe(c, kc)
	wg.Wait()
}

// pipe copies src to dst; at src's end of stream it half-closes dst, and
// on an error it closes both, so the other direction ends too.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	src.Close()
}

// limitListener accepts at most n connections at once, like
// golang.org/x/net/netutil.LimitListener; the rest wait in the kernel's
// listen queue.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("proxy: connection cannot half-close")
}
