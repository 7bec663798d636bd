package wasi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// pattern returns n bytes that differ from one offset to the next.
func pattern(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((from + i) * 7 / 3)
	}
	return b
}

// filling starts b.fill(r) and returns a channel that yields its result.
func filling(b *readBuf, r io.Reader, wake func()) chan error {
	done := make(chan error, 1)
	go func() { done <- b.fill(r, nil, wake) }()
	return done
}

// await returns what ch yields (a hang guard fails the test).
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never happened", what)
		panic("unreachable")
	}
}

// drain reads from b with the buffer sizes in sizes (cycling) until b
// reports the end of the stream, and returns the data and that error.
func drain(t *testing.T, b *readBuf, woke chan struct{}, sizes []int) ([]byte, error) {
	t.Helper()
	var got []byte
	for i := 0; ; i++ {
		var end error
		waitFor(t, woke, func() bool {
			if !b.readable() {
				return false
			}
			n, ended := b.buffered()
			if ended {
				_, end = b.read([][]byte{make([]byte, 1)}, false)
			}
			return n > 0 || ended
		})
		if end != nil {
			return got, end
		}
		// Two iovecs of different sizes, so copies straddle both.
		sz := sizes[i%len(sizes)]
		p1, p2 := make([]byte, sz/3), make([]byte, sz-sz/3)
		n, err := b.read([][]byte{p1, p2}, false)
		if err != nil || n == 0 {
			t.Fatalf("read with data waiting: %d, %v", n, err)
		}
		got = append(got, append(p1, p2...)[:n]...)
	}
}

// The guest gets exactly the bytes the connection delivered, in order, in
// whatever sizes it reads them, then the end of the stream: io.EOF or the
// connection's error, after all the data, and again on every later read.
func TestReadBufDelivery(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		writes []int // sizes the peer writes
		sizes  []int // sizes the guest reads
		end    error // the peer's close (nil: io.EOF)
	}{
		{"empty stream", nil, []int{10}, nil},
		{"one small write", []int{5}, []int{3, 100}, nil},
		{"partial reads across chunks", []int{100_000, 1, 70_000}, []int{1000, 7, 33_000, 1 << 20}, nil},
		{"exactly one chunk", []int{readChunkSize}, []int{readChunkSize}, nil},
		{"more than the read-ahead", []int{readAheadMax, readAheadMax, 3}, []int{65536, 4097}, nil},
		{"error after data", []int{20_000, 20_000}, []int{5000}, errBoom},
		{"error on an empty stream", nil, []int{1}, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wake, woke := waker()
			pr, pw := io.Pipe()
			b := newReadBuf(readAheadMax)
			done := filling(b, pr, wake)
			var want []byte
			for _, n := range tc.writes {
				want = append(want, pattern(len(want), n)...)
			}
			go func() {
				off := 0
				for _, n := range tc.writes {
					pw.Write(want[off : off+n])
					off += n
				}
				pw.CloseWithError(tc.end)
			}()
			got, end := drain(t, b, woke, tc.sizes)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d (or different bytes)", len(got), len(want))
			}
			wantEnd := tc.end
			if wantEnd == nil {
				wantEnd = io.EOF
			}
			if end != wantEnd {
				t.Fatalf("end of stream: %v, want %v", end, wantEnd)
			}
			if err := await(t, done, "fill's return"); err != wantEnd {
				t.Fatalf("fill returned %v, want %v", err, wantEnd)
			}
			for i := 0; i < 2; i++ {
				if n, err := b.read([][]byte{make([]byte, 8)}, false); n != 0 || err != wantEnd {
					t.Fatalf("read after the end: %d, %v", n, err)
				}
			}
			if n, ended := b.buffered(); n != 0 || !ended || !b.readable() {
				t.Fatalf("after the end: buffered %d, ended %v, readable %v", n, ended, b.readable())
			}
			b.mu.Lock()
			held := len(b.chunks)
			b.mu.Unlock()
			if held != 0 {
				t.Fatalf("a drained buffer whose reader has returned holds %d chunks", held)
			}
			b.close()
		})
	}
}

// A peek returns the data without consuming it; poll's byte count and
// hangup flag follow the data and the end of the stream.
func TestReadBufPeekAndPending(t *testing.T) {
	wake, woke := waker()
	pr, pw := io.Pipe()
	b := newReadBuf(readAheadMax)
	filling(b, pr, wake)
	if n, ended := b.buffered(); n != 0 || ended || b.readable() {
		t.Fatalf("before any data: %d, %v, readable %v", n, ended, b.readable())
	}
	if n, err := b.read([][]byte{make([]byte, 4)}, false); n != 0 || err != nil {
		t.Fatalf("read with nothing waiting: %d, %v; want 0, nil", n, err)
	}
	go func() {
		pw.Write([]byte("hello"))
		pw.Close()
	}()
	waitFor(t, woke, func() bool { n, _ := b.buffered(); return n == 5 })
	p := make([]byte, 3)
	for i := 0; i < 2; i++ {
		if n, err := b.read([][]byte{p}, true); n != 3 || err != nil || string(p) != "hel" {
			t.Fatalf("peek %d: %d %q %v", i, n, p, err)
		}
	}
	waitFor(t, woke, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.err != nil })
	if n, ended := b.buffered(); n != 5 || ended {
		t.Fatalf("data then EOF buffered: %d, ended %v; want 5, false", n, ended)
	}
	q := make([]byte, 10)
	if n, err := b.read([][]byte{q}, false); n != 5 || err != nil || string(q[:5]) != "hello" {
		t.Fatalf("read = %d %q %v", n, q, err)
	}
	if n, ended := b.buffered(); n != 0 || !ended {
		t.Fatalf("after the data: %d, ended %v; want 0, true", n, ended)
	}
	b.close()
}

// endless is a connection that always has data: every Read fills p. It
// checks, at each call, that the buffer is not already full.
type endless struct {
	b    *readBuf
	off  int
	over chan int // buffered bytes at a Read made while full
}

func (e *endless) Read(p []byte) (int, error) {
	e.b.mu.Lock()
	n := e.b.n
	e.b.mu.Unlock()
	if n >= e.b.max {
		select {
		case e.over <- n:
		default:
		}
	}
	copy(p, pattern(e.off, len(p)))
	e.off += len(p)
	return len(p), nil
}

// A full buffer stops reading until the guest consumes some; it never
// holds more than its limit, whatever the limit (read_ahead); the data
// stays in order.
func TestReadBufBackpressure(t *testing.T) {
	for _, max := range []int{readAheadMax, MinReadAhead, 100_000, MaxReadAhead} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			wake, _ := waker()
			b := newReadBuf(max)
			full := make(chan struct{}, 1)
			b.stalled = func() { full <- struct{}{} }
			e := &endless{b: b, over: make(chan int, 1)}
			done := filling(b, e, wake)
			total := 0
			for total < 4*max {
				await(t, full, "a full buffer")
				if n, _ := b.buffered(); n != b.max {
					t.Fatalf("%d bytes buffered when full, limit %d", n, b.max)
				}
				p := make([]byte, min(50_000, max))
				n, err := b.read([][]byte{p}, false)
				if err != nil || n != len(p) {
					t.Fatalf("read: %d, %v", n, err)
				}
				if !bytes.Equal(p, pattern(total, n)) {
					t.Fatalf("data out of order at %d", total)
				}
				total += n
			}
			select {
			case n := <-e.over:
				t.Fatalf("the connection was read with %d bytes buffered (limit %d)", n, b.max)
			default:
			}
			b.close() // fill is waiting for space (or about to): close releases it
			if err := await(t, done, "fill's return after close"); err != nil {
				t.Fatalf("fill after close: %v", err)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.chunks) != 0 || b.n != 0 {
				t.Fatalf("a closed buffer holds %d chunks, %d bytes", len(b.chunks), b.n)
			}
		})
	}
}

// Closing the buffer while a read of the connection is blocked: the read
// returns when the connection closes, and the chunk it was reading into
// is released then.
func TestReadBufCloseWhileReading(t *testing.T) {
	wake, _ := waker()
	pr, pw := io.Pipe()
	b := newReadBuf(readAheadMax)
	done := filling(b, pr, wake)
	pw.Write([]byte("x")) // fill has read once: it is now reading again, or about to
	b.close()
	pr.Close() // as connSock.close closes the connection after the buffer
	if err := await(t, done, "fill's return after close"); err != nil {
		t.Fatalf("fill after close: %v", err)
	}
	b.mu.Lock()
	chunks, busy := len(b.chunks), b.filling
	b.mu.Unlock()
	if chunks != 0 || busy {
		t.Fatalf("after close: %d chunks, filling %v", chunks, busy)
	}
	if n, err := b.read([][]byte{make([]byte, 1)}, false); n != 0 {
		t.Fatalf("read after close: %d, %v", n, err)
	}
}

// Closing a connection socket ends its read-ahead goroutine whether it was
// blocked reading, waiting for space, or already done; closing twice is
// harmless.
func TestConnSockCloseEndsPump(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, peer net.Conn, c *connSock, woke chan struct{})
	}{
		{"blocked reading", func(t *testing.T, peer net.Conn, c *connSock, woke chan struct{}) {}},
		{"full", func(t *testing.T, peer net.Conn, c *connSock, woke chan struct{}) {
			go func() {
				big := make([]byte, readAheadMax+readChunkSize)
				for {
					if _, err := peer.Write(big); err != nil {
						return
					}
				}
			}()
			full := make(chan struct{}, 1)
			c.in.mu.Lock()
			c.in.stalled = func() {
				select {
				case full <- struct{}{}:
				default:
				}
			}
			c.in.mu.Unlock()
			await(t, full, "a full buffer")
		}},
		{"after EOF", func(t *testing.T, peer net.Conn, c *connSock, woke chan struct{}) {
			peer.Close()
			waitFor(t, woke, c.readable)
			await(t, c.pumped, "pump's return at EOF")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wake, woke := waker()
			a, peer := net.Pipe()
			defer peer.Close()
			c := newConnSock(a, wake, nil, 0)
			tc.setup(t, peer, c, woke)
			if err := c.close(); err != nil {
				t.Fatal(err)
			}
			c.close()
			await(t, c.pumped, "pump's return after close")
		})
	}
}

// sock_shutdown(RD): reads then return EOF, though data is waiting.
func TestConnSockShutdownRead(t *testing.T) {
	wake, woke := waker()
	a, peer := net.Pipe()
	defer peer.Close()
	c := newConnSock(a, wake, nil, 0)
	defer c.close()
	go peer.Write([]byte("data"))
	waitFor(t, woke, c.readable)
	c.shutdown(true, false)
	if n, err := c.read([][]byte{make([]byte, 8)}, false); n != 0 || err != io.EOF {
		t.Fatalf("read after shutdown(RD): %d, %v; want EOF", n, err)
	}
}
