package wasi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// writeIovecs lays out count iovecs at 0x1000, each naming the same
// 0x8000 bytes at 0x2000, and returns fd_write's arguments for fd.
func writeIovecs(e *hostEnv, fd uint64, count uint32) []uint64 {
	mem := e.mod.Memory()
	for i := uint32(0); i < count; i++ {
		mem.WriteUint32Le(0x1000+8*i, 0x2000)
		mem.WriteUint32Le(0x1000+8*i+4, 0x8000)
	}
	return []uint64{fd, 0x1000, uint64(count), 0xa000}
}

// subscribe writes poll_oneoff subscriptions at 0x700: fd_write on fd,
// and a clock that has expired if clock is set.
func subscribe(e *hostEnv, fd uint32, clock bool) uint64 {
	var b [2 * subscriptionSize]byte
	binary.LittleEndian.PutUint64(b[0:], 1) // userdata
	b[8] = eventtypeFdWrite
	binary.LittleEndian.PutUint32(b[16:], fd)
	binary.LittleEndian.PutUint64(b[subscriptionSize:], 2)
	b[subscriptionSize+8] = eventtypeClock
	e.mod.Memory().Write(0x700, b[:])
	if clock {
		return 2
	}
	return 1
}

// pollEvents calls poll_oneoff and returns the userdata of each event.
func pollEvents(t *testing.T, e *hostEnv, n uint64) []uint64 {
	t.Helper()
	o := e.call("poll_oneoff", []uint64{0x700, 0x800, n, 0x900})
	if o.panic != "" || o.stack[0] != errnoSuccess {
		t.Fatalf("poll_oneoff = %v %s", o.stack, o.panic)
	}
	mem := e.mod.Memory()
	count, _ := mem.ReadUint32Le(0x900)
	var out []uint64
	for i := uint32(0); i < count; i++ {
		ud, _ := mem.ReadUint64Le(0x800 + i*eventSize)
		out = append(out, ud)
	}
	return out
}

// A non-blocking connection whose peer does not read: fd_write takes a
// bounded amount and then answers EAGAIN, poll_oneoff does not report it
// writable, and once the peer reads, a poll_oneoff waiting on it wakes.
func TestWriteBehindPeerNotReading(t *testing.T) {
	rig := newHostRig(t)
	e := rig.env()
	// fd 5 on a pipe: no kernel buffer takes data the peer has not read,
	// so once the buffer is full it stays full until the peer reads.
	a, b := net.Pipe()
	old := e.s.fds[5]
	c := e.s.newConn(a, nil, 0)
	c.setNonblock(true)
	e.s.fds[5], e.peer = c, b
	old.close()
	args := writeIovecs(e, 5, 4)
	total := 0
	for i := 0; ; i++ {
		if i > 10000 { // 1.3 GB: no bound at all
			t.Fatal("fd_write never answered EAGAIN to a peer that does not read")
		}
		o := e.call("fd_write", args)
		if o.stack[0] == errnoAgain {
			break
		}
		if o.stack[0] != errnoSuccess {
			t.Fatalf("fd_write = errno %d", o.stack[0])
		}
		n, _ := e.mod.Memory().ReadUint32Le(0xa000)
		total += int(n)
	}
	if total != writeBehindMax {
		t.Fatalf("%d bytes taken before EAGAIN, want the buffer's %d", total, writeBehindMax)
	}
	if ok, room := e.s.get(5).(*connSock).writable(); ok || room != 0 {
		t.Fatalf("after EAGAIN: writable %v with %d bytes of room", ok, room)
	}
	if ev := pollEvents(t, e, subscribe(e, 5, true)); len(ev) != 1 || ev[0] != 2 {
		t.Fatalf("poll_oneoff(fd_write on a full connection, expired clock) reported %v, want only the clock (2)", ev)
	}
	read := make(chan int64)
	go func() {
		n, _ := io.Copy(io.Discard, e.peer)
		read <- n
	}()
	if ev := pollEvents(t, e, subscribe(e, 5, false)); len(ev) != 1 || ev[0] != 1 {
		t.Fatalf("poll_oneoff(fd_write) once the peer reads = %v, want the fd_write event (1)", ev)
	}
	// Closing flushes everything written before it.
	if o := e.call("fd_close", []uint64{5}); o.stack[0] != errnoSuccess {
		t.Fatalf("fd_close = %v", o.stack)
	}
	select {
	case n := <-read:
		if n != int64(total) {
			t.Fatalf("the peer read %d bytes, the guest wrote %d", n, total)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("the connection was never flushed and closed")
	}
}

// A blocking write to a peer that does not read waits, and ends when the
// run is stopped: the guest exits with the context's exit code.
func TestWriteBehindBlockingEndsWithRun(t *testing.T) {
	rig := newHostRig(t)
	e := rig.env()
	if o := e.call("fd_fdstat_set_flags", []uint64{5, 0}); o.stack[0] != errnoSuccess {
		t.Fatalf("clearing NONBLOCK: %v", o.stack)
	}
	args := writeIovecs(e, 5, 1024) // 32 MiB in one call
	ctx, cancel := context.WithCancel(e.ctx)
	e.ctx = ctx
	done := make(chan outcome)
	go func() { done <- e.call("fd_write", args) }()
	cancel()
	select {
	case o := <-done:
		if o.panic != sys.NewExitError(sys.ExitCodeContextCanceled).Error() {
			t.Fatalf("a blocking fd_write when the run was stopped: %v %q, want exit %d", o.stack, o.panic, sys.ExitCodeContextCanceled)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("a blocking fd_write did not end when the run was stopped")
	}
}

// A blocking write larger than the buffer completes as the peer reads,
// and the peer gets every byte in order.
func TestWriteBehindBlockingCompletes(t *testing.T) {
	rig := newHostRig(t)
	e := rig.env()
	e.call("fd_fdstat_set_flags", []uint64{5, 0})
	mem := e.mod.Memory()
	for i := uint32(0); i < 0x8000; i++ {
		mem.WriteByte(0x2000+i, byte(i*31))
	}
	args := writeIovecs(e, 5, 64) // 2 MiB
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(e.peer)
		got <- b
	}()
	if o := e.call("fd_write", args); o.stack[0] != errnoSuccess {
		t.Fatalf("fd_write = %v %s", o.stack, o.panic)
	}
	if n, _ := mem.ReadUint32Le(0xa000); n != 64*0x8000 {
		t.Fatalf("a blocking fd_write wrote %d bytes of %d", n, 64*0x8000)
	}
	e.call("fd_close", []uint64{5})
	b := <-got
	if len(b) != 64*0x8000 {
		t.Fatalf("the peer read %d bytes", len(b))
	}
	for i := range b {
		if b[i] != byte(i%0x8000*31) {
			t.Fatalf("byte %d = %d", i, b[i])
		}
	}
}

// The handshake budget: with max_connections 4, four connections that
// never send a ClientHello (the budget's worth) do not keep a real TLS
// client out; the oldest handshake of the source holding the most is
// dropped, not one from a source with a single handshake.
func TestListenerHandshakeBudget(t *testing.T) {
	wake, woke := waker()
	ln := listen(t)
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{testCert(t)}})
	l := newListenSock(tl, "l", 4, time.Hour, nil, wake, discard, nil, 0)
	defer l.close()
	hs, hsCh := waker()
	l.mu.Lock()
	l.hsChanged = hs
	l.mu.Unlock()
	running := func(src string) int {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, s := range l.hs {
			if src == "" || s == src {
				n++
			}
		}
		return n
	}
	dial := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// The oldest idle connection comes from 127.0.0.2, the rest from
	// 127.0.0.1.
	dial("127.0.0.2")
	waitFor(t, hsCh, func() bool { return running("") == 1 })
	for i := 0; i < 3; i++ {
		dial("127.0.0.1")
	}
	waitFor(t, hsCh, func() bool { return running("") == 4 })
	d := tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}, Config: &tls.Config{InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("a real TLS client while the handshake budget is full of idle connections: %v", err)
	}
	defer c.Close()
	waitFor(t, woke, l.readable)
	a, _ := l.accept()
	if a == nil || a.conn.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("accepted %v, want the real client %v", a, c.LocalAddr())
	}
	a.conn.Close()
	if n := running("127.0.0.2"); n != 1 {
		t.Fatalf("the single handshake from 127.0.0.2 was dropped (%d left) instead of one from the busiest source", n)
	}
	if n := running(""); n != 3 {
		t.Fatalf("%d handshakes running, want the 3 idle ones left", n)
	}
}

// The write-behind buffer queues fixed chunks: however the guest's writes
// are cut, no chunk grows past writeChunkSize (so nothing queued is ever
// reallocated or copied again), the bytes stay in order, and the buffer
// takes exactly its limit.
func TestWriteBufChunks(t *testing.T) {
	b := newWriteBuf(writeBehindMax) // no flusher: everything stays queued
	data := pattern(0, writeBehindMax+5000)
	taken := 0
	for i := 0; taken < len(data); i++ {
		n, err := b.write(data[taken:min(len(data), taken+1+i*977%20000)])
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		taken += n
	}
	if taken != writeBehindMax || b.pendN != writeBehindMax {
		t.Fatalf("took %d bytes (%d queued), want the limit %d", taken, b.pendN, writeBehindMax)
	}
	var got []byte
	for i, c := range b.pend {
		if cap(*c) != writeChunkSize || len(*c) > writeChunkSize || (i < len(b.pend)-1 && len(*c) != writeChunkSize) {
			t.Fatalf("chunk %d: %d bytes, capacity %d", i, len(*c), cap(*c))
		}
		got = append(got, *c...)
	}
	if !bytes.Equal(got, data[:taken]) {
		t.Fatal("the queued bytes differ from those written")
	}
	for _, c := range b.pend {
		putWriteBuf(c)
	}
}

// When the connection fails while the flusher writes a batch, every
// chunk goes back to the pool, the guest's next write fails, and poll
// reports the socket writable (a write fails at once) with a hangup.
func TestWriteBufFlushError(t *testing.T) {
	a, peer := net.Pipe()
	wake, woke := waker()
	c := newConnSock(a, wake, nil, 0)
	defer c.close()
	if n, err := c.write(pattern(0, 200<<10)); n != 200<<10 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	io.ReadFull(peer, make([]byte, 1000)) // the flusher is in its batch
	peer.Close()
	waitFor(t, woke, c.out.failed)
	if _, err := c.write([]byte("x")); err == nil {
		t.Fatal("a write after the connection failed succeeded")
	}
	if ok, _ := c.writable(); !ok {
		t.Fatal("a failed connection is not reported writable (a write fails at once)")
	}
	c.out.mu.Lock()
	size, queued := c.out.size(), len(c.out.pend)
	c.out.mu.Unlock()
	if size != 0 || queued != 0 {
		t.Fatalf("after the failure: %d bytes in %d chunks still held", size, queued)
	}
}
