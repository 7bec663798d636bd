package wasi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/keepwasm/keep/metrics"
)

// recSink records a listener's metric events; limit is signalled each
// time the connection limit is reached.
type recSink struct {
	metrics.Sink
	limit chan struct{}

	mu         sync.Mutex
	handshakes []bool
}

func newRecSink() *recSink {
	return &recSink{Sink: metrics.Discard(), limit: make(chan struct{}, 8)}
}

func (r *recSink) ConnLimitReached(string) { r.limit <- struct{}{} }
func (r *recSink) Handshake(_ string, ok bool, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handshakes = append(r.handshakes, ok)
}

// waker returns a wake func and the channel it signals.
func waker() (func(), chan struct{}) {
	ch := make(chan struct{}, 1)
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// waitFor blocks on wake until cond holds (a hang guard fails the test).
func waitFor(t *testing.T, wake chan struct{}, cond func() bool) {
	t.Helper()
	guard := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-wake:
		case <-guard:
			t.Fatal("condition never held")
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// A listener admits at most MaxConns connections, and reports reaching
// the limit; closing one admits the next.
func TestListenerMaxConns(t *testing.T) {
	wake, woke := waker()
	ln := listen(t)
	sink := newRecSink()
	l := newListenSock(ln, "l", 2, time.Second, nil, wake, discard, sink, 0)
	defer l.close()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	waitFor(t, woke, func() bool { return l.queued() == 2 })
	if l.established() != 2 {
		t.Fatalf("%d connections established, want 2", l.established())
	}
	select {
	case <-sink.limit:
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("reaching max_connections was not reported")
	}
	aa, _ := l.accept()
	ab, _ := l.accept()
	if aa == nil || ab == nil {
		t.Fatal("two connections were queued but accept did not return them")
	}
	a, b := aa.conn, ab.conn
	if c, _ := l.accept(); c != nil {
		t.Fatal("a third connection was admitted beyond max_connections")
	}
	// The guest closes one: its slot frees, and the third is admitted.
	cs := newConnSockAhead(a, aa.ahead, wake, l.release)
	cs.close()
	waitFor(t, woke, func() bool { return l.queued() == 1 })
	b.Close()
}

// A TLS client that never completes its handshake is dropped after the
// handshake timeout and never reaches the guest; the failed handshake is
// reported.
func TestListenerHandshakeTimeout(t *testing.T) {
	wake, _ := waker()
	ln := listen(t)
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{testCert(t)}})
	sink := newRecSink()
	l := newListenSock(tl, "l", 4, 50*time.Millisecond, nil, wake, discard, sink, 0)
	defer l.close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // hang guard
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the silent client got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the keep never dropped the silent client")
	}
	if l.queued() != 0 {
		t.Fatal("a connection that never finished its handshake was queued")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.handshakes) != 1 || sink.handshakes[0] {
		t.Fatalf("handshakes reported: %v, want one failed", sink.handshakes)
	}
}

// A connection reads ahead; peek does not consume; EOF follows the data.
func TestConnReadAheadPeekEOF(t *testing.T) {
	wake, woke := waker()
	a, b := net.Pipe()
	c := newConnSock(a, wake, nil, 0)
	defer c.close()
	go func() {
		b.Write([]byte("hello"))
		b.Close()
	}()
	waitFor(t, woke, c.readable)
	buf := make([]byte, 3)
	if n, err := c.read([][]byte{buf}, true); n != 3 || err != nil || string(buf) != "hel" {
		t.Fatalf("peek = %d %q %v", n, buf, err)
	}
	b1, b2 := make([]byte, 2), make([]byte, 10)
	if n, err := c.read([][]byte{b1, b2}, false); n != 5 || err != nil || string(b1)+string(b2[:3]) != "hello" {
		t.Fatalf("read = %d %q %q %v", n, b1, b2, err)
	}
	waitFor(t, woke, c.readable)
	if n, err := c.read([][]byte{buf}, false); n != 0 || err != io.EOF {
		t.Fatalf("after the peer closed: %d, %v; want EOF", n, err)
	}
}

// Sockets hands out closed positions again before the accepted range.
func TestSocketsFDAllocation(t *testing.T) {
	s := NewSockets(nil, nil, nil)
	defer s.Close()
	a, _ := net.Pipe()
	fd1 := s.add(newConnSock(a, s.notify, nil, 0))
	if fd1 != AcceptedFDBase {
		t.Fatalf("first accepted fd %d, want %d", fd1, AcceptedFDBase)
	}
	k := s.remove(fd1)
	k.close()
	b, _ := net.Pipe()
	if fd2 := s.add(newConnSock(b, s.notify, nil, 0)); fd2 != fd1 {
		t.Fatalf("a freed fd was not reused: %d", fd2)
	}
}

func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var discard = slogDiscard()

// A connection's read-ahead starts when the listener admits it, not when
// the guest accepts it: what the client sends with (or right after) its
// handshake is buffered before any socket exists for it, so the guest's
// first read finds it. Data arriving afterwards wakes the guest that took
// the connection.
func TestReadAheadStartsAtAdmission(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"tcp", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			wake, woke := waker()
			ln := listen(t)
			var sl net.Listener = PollableListener(ln)
			if tc.tls {
				sl = tls.NewListener(sl, &tls.Config{Certificates: []tls.Certificate{testCert(t)}})
			}
			l := newListenSock(sl, "l", 4, 30*time.Second, nil, wake, discard, nil, 0)
			defer l.close()
			var c net.Conn
			var err error
			if tc.tls {
				c, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			} else {
				c, err = net.Dial("tcp", ln.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, woke, func() bool { return l.queued() == 1 })
			a, _ := l.accept()
			// No socket yet: only the read-ahead started at admission can
			// buffer the request.
			early, got := waker()
			a.ahead.wake.Store(&early)
			waitFor(t, got, func() bool { n, _ := a.ahead.in.buffered(); return n == 18 })
			cs := newConnSockAhead(a.conn, a.ahead, wake, l.release)
			defer cs.close()
			buf := make([]byte, 64)
			if n, err := cs.read([][]byte{buf}, false); n != 18 || err != nil {
				t.Fatalf("first read = %d, %v; want the 18 bytes sent with the handshake", n, err)
			}
			if _, err := c.Write([]byte("more")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, woke, cs.readable)
			if n, err := cs.read([][]byte{buf}, false); n != 4 || err != nil || string(buf[:4]) != "more" {
				t.Fatalf("second read = %d %q, %v", n, buf[:n], err)
			}
		})
	}
}
