package wasi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// tcpPair returns the two ends of a loopback TCP connection, the
// server's made Pollable.
func tcpPair(t *testing.T) (srv net.Conn, peer *net.TCPConn) {
	t.Helper()
	ln := listen(t)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		acc <- c
	}()
	pc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := await(t, acc, "accept")
	if c == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); pc.Close() })
	return Pollable(c), pc.(*net.TCPConn)
}

// captureConn is a client's TCP connection that, once capturing, keeps
// what the client writes instead of sending it, so that a test can send
// the TLS records in pieces of its choosing.
type captureConn struct {
	net.Conn
	mu  sync.Mutex
	on  bool
	buf bytes.Buffer
}

func (c *captureConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		return c.buf.Write(b)
	}
	return c.Conn.Write(b)
}

// take starts capturing and returns what was captured so far.
func (c *captureConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = true
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

// tlsPair is a TLS 1.3 connection over loopback TCP whose handshake is
// complete: srv is the server's end (tls.Server over a Pollable
// connection, as a Keep listener makes it), client the client's, over cap.
type tlsPair struct {
	srv    *tls.Conn
	client *tls.Conn
	cap    *captureConn
	raw    *net.TCPConn // the client's TCP connection
	secret []byte       // the client's application traffic secret
}

func newTLSPair(t *testing.T) *tlsPair {
	t.Helper()
	srvRaw, raw := tcpPair(t)
	srv := tls.Server(srvRaw, &tls.Config{Certificates: []tls.Certificate{testCert(t)}, MinVersion: tls.VersionTLS13})
	var keylog bytes.Buffer
	cc := &captureConn{Conn: raw}
	client := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, KeyLogWriter: &keylog, MinVersion: tls.VersionTLS13})
	hs := make(chan error, 1)
	go func() { hs <- srv.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := await(t, hs, "the server's handshake"); err != nil {
		t.Fatal(err)
	}
	p := &tlsPair{srv: srv, client: client, cap: cc, raw: raw}
	for _, l := range strings.Split(keylog.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "CLIENT_TRAFFIC_SECRET_0" {
			p.secret, _ = hex.DecodeString(f[2])
		}
	}
	if p.secret == nil {
		t.Fatal("no CLIENT_TRAFFIC_SECRET_0 in the key log")
	}
	return p
}

// guestReader reads a connection socket as a guest would, until the end
// of the stream, and yields the data and the error that ended it.
type readResult struct {
	data []byte
	err  error
}

func guestReader(c *connSock, woke chan struct{}) chan readResult {
	done := make(chan readResult, 1)
	go func() {
		var got []byte
		buf := make([]byte, 3000) // not a multiple of anything
		for {
			n, err := c.read([][]byte{buf}, false)
			switch {
			case n > 0:
				got = append(got, buf[:n]...)
			case err != nil:
				done <- readResult{got, err}
				return
			default:
				<-woke
			}
		}
	}()
	return done
}

// guestWrite writes all of data to a connection socket, waiting while
// its write-behind buffer is full.
func guestWrite(t *testing.T, c *connSock, woke chan struct{}, data []byte) {
	t.Helper()
	for len(data) > 0 {
		n, err := c.write(data)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		data = data[n:]
		if n == 0 {
			waitFor(t, woke, func() bool { ok, _ := c.writable(); return ok })
		}
	}
}

// lockstep makes c's read-ahead report, each time it goes back to waiting
// for the socket, how many bytes it has read from it.
func lockstep(c *connSock, p *pollConn) <-chan int64 {
	ch := make(chan int64, 1)
	c.in.mu.Lock()
	c.in.waiting = func() {
		select {
		case <-ch:
		default:
		}
		ch <- p.nread
	}
	c.in.mu.Unlock()
	return ch
}

// feed sends data to w in pieces of the sizes size(i) returns and, after
// each, waits until the read-ahead has read everything sent (*sent bytes
// in all) and found the socket empty, or has ended (which only the last
// piece may make it do): every piece is read on its own, so a record
// arrives in as many reads as pieces.
func feed(t *testing.T, w io.Writer, data []byte, size func(i int) int, progress <-chan int64, ended <-chan struct{}, sent *int64) {
	t.Helper()
	for i, off := 0, 0; off < len(data); i++ {
		n := min(size(i), len(data)-off)
		if _, err := w.Write(data[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
		*sent += int64(n)
	wait:
		for {
			select {
			case v := <-progress:
				if v >= *sent {
					break wait
				}
			case <-ended: // the piece ended the stream
				if off < len(data) {
					t.Fatalf("the read-ahead ended after %d bytes of %d", off, len(data))
				}
				break wait
			case <-time.After(30 * time.Second):
				t.Fatalf("the read-ahead never read the piece ending at byte %d", off)
			}
		}
	}
}

// An idle connection (the guest has read everything, the peer has read
// everything the guest wrote and is silent) holds no read chunk and no
// write buffer, over TCP and over TLS; closing it ends its read-ahead.
func TestIdleConnHoldsNoBuffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"tcp", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var srv, peer net.Conn
			if tc.tls {
				p := newTLSPair(t)
				srv, peer = p.srv, p.client
			} else {
				srv, peer = tcpPair(t)
			}
			wake, woke := waker()
			c := newConnSock(srv, wake, nil, 0)
			changed := make(chan struct{}, 1)
			note := func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			c.in.mu.Lock()
			c.in.waiting = note
			c.in.mu.Unlock()
			c.out.mu.Lock()
			c.out.idle = note
			c.out.mu.Unlock()

			in, out := pattern(0, 300<<10), pattern(5, 300<<10)
			sent := make(chan error, 1)
			go func() { _, err := peer.Write(in); sent <- err }()
			back := make(chan []byte, 1)
			go func() {
				b := make([]byte, len(out))
				n, _ := io.ReadFull(peer, b)
				back <- b[:n]
			}()
			var got []byte
			buf := make([]byte, 20000)
			for len(got) < len(in) {
				waitFor(t, woke, c.readable)
				n, err := c.read([][]byte{buf}, false)
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
				got = append(got, buf[:n]...)
			}
			if !bytes.Equal(got, in) {
				t.Fatal("the guest read other bytes than the peer sent")
			}
			if err := await(t, sent, "the peer's write"); err != nil {
				t.Fatal(err)
			}
			guestWrite(t, c, woke, out)
			if b := await(t, back, "the peer reading"); !bytes.Equal(b, out) {
				t.Fatalf("the peer read %d bytes, not the %d the guest wrote", len(b), len(out))
			}

			// Both goroutines settle in their waits, holding nothing.
			idle := func() bool {
				c.in.mu.Lock()
				r := c.in.parked && len(c.in.chunks) == 0 && c.in.n == 0
				c.in.mu.Unlock()
				c.out.mu.Lock()
				w := len(c.out.pend) == 0 && c.out.inflight == 0
				c.out.mu.Unlock()
				return r && w
			}
			waitFor(t, changed, idle)

			c.close()
			await(t, c.pumped, "the read-ahead's end after close")
			c.in.mu.Lock()
			held := len(c.in.chunks)
			c.in.mu.Unlock()
			if held != 0 {
				t.Errorf("closed: %d read chunks held", held)
			}
		})
	}
}

// TLS records that arrive in pieces, down to one byte at a time, each
// read on its own (the read-ahead finds the socket empty after each),
// reach the guest whole and in order, and the close_notify after them is
// EOF.
func TestTLSRecordsSplitAcrossWrites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []int // plaintext sizes, one Write each
		piece   func(i int) int
	}{
		{"one byte at a time", []int{1, 100, 1500}, func(int) int { return 1 }},
		{"pieces of 1 to 7 bytes, full records", []int{40 << 10}, func(i int) int { return 1 + i%7 }},
		{"pieces of 4000 bytes", []int{60 << 10, 3, 20 << 10}, func(int) int { return 4000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTLSPair(t)
			wake, woke := waker()
			c := newConnSock(p.srv, wake, nil, 0)
			defer c.close()
			progress := lockstep(c, p.srv.NetConn().(*pollConn))
			reader := guestReader(c, woke)
			p.cap.take()
			var want []byte
			for i, n := range tc.records {
				b := pattern(i*1000, n)
				want = append(want, b...)
				if _, err := p.client.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.client.CloseWrite(); err != nil { // close_notify
				t.Fatal(err)
			}
			wire := p.cap.take()
			p.raw.SetWriteDeadline(time.Time{}) // CloseWrite set one
			var sent int64
			feed(t, p.raw, wire, tc.piece, progress, c.pumped, &sent)
			r := await(t, reader, "the guest reading to the end")
			if !bytes.Equal(r.data, want) {
				t.Fatalf("the guest read %d bytes, not the %d sent (or not the same)", len(r.data), len(want))
			}
			if r.err != io.EOF {
				t.Fatalf("after the data: %v, want EOF", r.err)
			}
		})
	}
}

// recordSealer protects TLS 1.3 records (RFC 8446, section 5.2) as the
// client would, so that a test can send what crypto/tls's client has no
// API for: a KeyUpdate.
type recordSealer struct {
	t      *testing.T
	suite  uint16
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

func (s *recordSealer) hash() func() hash.Hash {
	if s.suite == tls.TLS_AES_256_GCM_SHA384 {
		return sha512.New384
	}
	return sha256.New
}

// expandLabel is HKDF-Expand-Label (RFC 8446, section 7.1), with an empty
// context.
func (s *recordSealer) expandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := append([]byte{byte(n >> 8), byte(n), byte(len(full))}, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(s.hash(), secret, string(info), n)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// keys derives the write key and IV from the current traffic secret.
func (s *recordSealer) keys() {
	var err error
	switch s.suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384:
		n := 16
		if s.suite == tls.TLS_AES_256_GCM_SHA384 {
			n = 32
		}
		block, _ := aes.NewCipher(s.expandLabel(s.secret, "key", n))
		s.aead, err = cipher.NewGCM(block)
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		s.aead, err = chacha20poly1305.New(s.expandLabel(s.secret, "key", chacha20poly1305.KeySize))
	default:
		s.t.Fatalf("cipher suite %x", s.suite)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.iv, s.seq = s.expandLabel(s.secret, "iv", 12), 0
}

// seal returns a record of type typ holding content.
func (s *recordSealer) seal(typ byte, content []byte) []byte {
	inner := append(bytes.Clone(content), typ)
	n := len(inner) + s.aead.Overhead()
	hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)} // opaque_type application_data, legacy version
	nonce := bytes.Clone(s.iv)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(s.seq >> (8 * i))
	}
	s.seq++
	return s.aead.Seal(hdr, nonce, inner, hdr)
}

// update moves to the next traffic secret, as after sending a KeyUpdate.
func (s *recordSealer) update() {
	s.secret = s.expandLabel(s.secret, "traffic upd", s.hash()().Size())
	s.keys()
}

// A KeyUpdate (asking the server to update too), fragmented across two
// records and sent one byte at a time, each byte read on its own, between
// data under the old and the new key: the guest gets all the data, the
// server answers with its own KeyUpdate, and what the guest writes next
// reaches the client under the server's new key.
func TestTLSKeyUpdateSplitAcrossWrites(t *testing.T) {
	p := newTLSPair(t)
	wake, woke := waker()
	c := newConnSock(p.srv, wake, nil, 0)
	defer c.close()
	progress := lockstep(c, p.srv.NetConn().(*pollConn))
	reader := guestReader(c, woke)

	s := &recordSealer{t: t, suite: p.client.ConnectionState().CipherSuite, secret: p.secret}
	s.keys()
	const (
		recordHandshake = 22
		recordAlert     = 21
		recordData      = 23
		typeKeyUpdate   = 24
	)
	keyUpdate := []byte{typeKeyUpdate, 0, 0, 1, 1} // update_requested
	var wire []byte
	wire = append(wire, s.seal(recordData, []byte("before the update;"))...)
	wire = append(wire, s.seal(recordHandshake, keyUpdate[:2])...)
	wire = append(wire, s.seal(recordHandshake, keyUpdate[2:])...)
	s.update()
	wire = append(wire, s.seal(recordData, []byte("after it"))...)
	wire = append(wire, s.seal(recordAlert, []byte{1, 0})...) // close_notify
	var sent int64
	feed(t, p.raw, wire, func(int) int { return 1 }, progress, c.pumped, &sent)

	r := await(t, reader, "the guest reading to the end")
	if string(r.data) != "before the update;after it" || r.err != io.EOF {
		t.Fatalf("the guest read %q, then %v; want both messages, then EOF", r.data, r.err)
	}
	guestWrite(t, c, woke, []byte("pong"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(p.client, got); err != nil || string(got) != "pong" {
		t.Fatalf("the client read %q, %v after the server's KeyUpdate", got, err)
	}
}

// The end of the stream reaches the guest after the data before it: EOF
// over TCP, and over TLS the error of a record that does not decrypt.
func TestPollConnEndAfterData(t *testing.T) {
	data := pattern(3, 100<<10)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) (net.Conn, func())
		eof  bool
	}{
		{"tcp EOF", func(t *testing.T) (net.Conn, func()) {
			srv, peer := tcpPair(t)
			return srv, func() {
				peer.Write(data)
				peer.CloseWrite()
			}
		}, true},
		{"tls bad record", func(t *testing.T) (net.Conn, func()) {
			p := newTLSPair(t)
			return p.srv, func() {
				p.client.Write(data)
				p.raw.Write([]byte{23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, send := tc.run(t)
			wake, woke := waker()
			c := newConnSock(srv, wake, nil, 0)
			defer c.close()
			reader := guestReader(c, woke)
			go send()
			r := await(t, reader, "the end of the stream")
			if !bytes.Equal(r.data, data) {
				t.Fatalf("the guest read %d bytes before the end, not the %d sent", len(r.data), len(data))
			}
			if (r.err == io.EOF) != tc.eof {
				t.Fatalf("end of the stream: %v", r.err)
			}
			if _, err := c.read([][]byte{make([]byte, 1)}, false); err != r.err {
				t.Fatalf("read after the end: %v, want %v again", err, r.err)
			}
		})
	}
}

// Plain TCP writes go to the socket directly while nothing is queued,
// and into the write-behind buffer only once the socket is full: a peer
// that does not read still fills it no further than writeBehindMax, and
// then gets every byte in order.
func TestDirectWrite(t *testing.T) {
	srv, peer := tcpPair(t)
	wake, woke := waker()
	c := newConnSock(srv, wake, nil, 0)
	if c.out.direct == nil {
		t.Fatal("a Pollable TCP connection has no direct write")
	}
	small := pattern(0, 1000)
	if n, err := c.write(small); n != len(small) || err != nil {
		t.Fatalf("write to an empty socket: %d, %v", n, err)
	}
	c.out.mu.Lock()
	queued := c.out.size() != 0
	c.out.mu.Unlock()
	if queued {
		t.Fatal("a write the socket took at once was buffered")
	}
	// The peer does not read: the socket fills, then the buffer, then
	// writes take nothing.
	var all []byte
	all = append(all, small...)
	for i := 0; ; i++ {
		b := pattern(len(all), 32<<10)
		n, err := c.write(b)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b[:n]...)
		if n == 0 {
			break
		}
		if i > 1<<16 { // 2 GiB: no bound
			t.Fatal("writes to a peer that does not read never stopped")
		}
	}
	if ok, _ := c.writable(); ok {
		t.Fatal("writable with a full buffer")
	}
	c.out.mu.Lock()
	size := c.out.size()
	c.out.mu.Unlock()
	if size != writeBehindMax {
		t.Fatalf("%d bytes queued when full, want %d", size, writeBehindMax)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(peer); got <- b }()
	rest := pattern(len(all), 100<<10)
	guestWrite(t, c, woke, rest)
	all = append(all, rest...)
	c.close()
	if b := await(t, got, "the peer reading to EOF"); !bytes.Equal(b, all) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(all))
	}
}

// A direct write to a peer that reset the connection fails, and later
// writes fail too.
func TestDirectWriteError(t *testing.T) {
	srv, peer := tcpPair(t)
	wake, woke := waker()
	c := newConnSock(srv, wake, nil, 0)
	defer c.close()
	peer.SetLinger(0)
	peer.Close() // RST
	// The reset reaches the read side first: wait for it, then write.
	r := await(t, guestReader(c, woke), "the reset")
	if r.err == nil || r.err == io.EOF {
		t.Fatalf("read after a reset: %v", r.err)
	}
	var err error
	for i := 0; i < 2 && err == nil; i++ { // the first write may still be taken
		_, err = c.write([]byte("x"))
	}
	if err == nil {
		t.Fatal("writes to a reset connection succeed")
	}
	if _, err2 := c.write([]byte("x")); err2 == nil {
		t.Fatal("a write after a failed one succeeds")
	}
}

// pollableOf finds the pollConn only where reading it without blocking
// is safe: a Pollable connection, or TLS over one after its handshake.
func TestPollableOf(t *testing.T) {
	srv, _ := tcpPair(t)
	pc := srv.(*pollConn)
	done := newTLSPair(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	for _, tc := range []struct {
		name string
		c    net.Conn
		want *pollConn
	}{
		{"pollable tcp", pc, pc},
		{"tls after the handshake", done.srv, done.srv.NetConn().(*pollConn)},
		{"tls before the handshake", tls.Server(pc, &tls.Config{}), nil},
		{"pipe", a, nil},
		{"tls over a pipe", tls.Client(b, &tls.Config{}), nil},
	} {
		if got := pollableOf(tc.c); got != tc.want {
			t.Errorf("%s: %p, want %p", tc.name, got, tc.want)
		}
	}
	if c := Pollable(a); c != a {
		t.Error("Pollable wrapped a pipe")
	}
	var ne net.Error
	if !errors.As(errWouldBlock, &ne) || !ne.Temporary() || !ne.Timeout() {
		t.Error("errWouldBlock is not a temporary net.Error (crypto/tls would fail the connection on it)")
	}
}

// Each socket's read_ahead bounds its connections' read-ahead: accepted
// ones (shared listeners too) and connect sockets; 0 is the default.
func TestReadAheadSetting(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	s := NewSockets([]Listener{{FD: 3, Name: "l", Listener: listen(t), ReadAhead: 8192}, {FD: 4, Name: "d", Listener: listen(t)}},
		[]Conn{{FD: 5, Name: "c", Conn: a, ReadAhead: MinReadAhead}}, discard)
	defer s.Close()
	shared := NewSharedSockets([]Listener{{FD: 3, Name: "l", Listener: listen(t), ReadAhead: 20000}}, 2, discard)
	defer func() {
		for _, s := range shared {
			s.Close()
		}
	}()
	accepted := func(readAhead int) int {
		c, peer := net.Pipe()
		defer peer.Close()
		k := s.newConn(c, nil, readAhead) // as sock_accept does
		defer k.close()
		return k.in.max
	}
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"listener", s.get(3).(*listenSock).readAhead, 8192},
		{"listener without", s.get(4).(*listenSock).readAhead, 0},
		{"shared listener", shared[1].get(3).(*listenView).refs.l.readAhead, 20000},
		{"connect", s.get(5).(*connSock).in.max, MinReadAhead},
		{"accepted", accepted(8192), 8192},
		{"accepted, default", accepted(0), DefaultReadAhead},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: read-ahead %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
