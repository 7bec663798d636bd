package wasi

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Write-behind of a connection: the guest's writes (fd_write, sock_send)
// are copied into a bounded buffer that a goroutine (connSock.flush) writes
// to the connection, so that no guest call waits on a peer. A peer that
// does not read fills the buffer; then a non-blocking socket answers
// EAGAIN, poll_oneoff reports it not writable, and a blocking one waits
// (and ends with the run). See docs/RATIONALE.md, "Threat model: sockets
// and other clients".
const (
	// writeBehindMax is how much the guest may write ahead of a peer.
	writeBehindMax = 256 << 10
	// writeChunkSize is the capacity of the buffers writes start in.
	writeChunkSize = 64 << 10
	// writeLinger bounds how long a closed connection may take to flush
	// what the guest wrote before closing it (and how long the end of a
	// run waits for that).
	writeLinger = 10 * time.Second
)

// writeBufs recycles write-behind chunks, so that an idle connection holds
// none and a busy one does not allocate in steady state.
var writeBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, writeChunkSize)
	return &b
}}

func getWriteBuf() *[]byte { return writeBufs.Get().(*[]byte) }

// putWriteBuf empties buf and gives it back.
func putWriteBuf(buf *[]byte) {
	*buf = (*buf)[:0]
	writeBufs.Put(buf)
}

// putWriteBufs gives every buffer of bufs back, clears bufs' entries and
// returns the bytes they held.
func putWriteBufs(bufs []*[]byte) (n int) {
	for i, d := range bufs {
		n += len(*d)
		putWriteBuf(d)
		bufs[i] = nil
	}
	return n
}

// errWriteClosed is a write after the guest shut the write side down.
var errWriteClosed = errors.New("write side shut down")

// writeBuf is the bounded FIFO between the guest (write) and the flushing
// goroutine (flush): a queue of fixed-size chunks, so that buffering
// never reallocates or copies what is already queued. The flusher takes
// the whole queue at once and gives each chunk back (making room) as soon
// as it is written.
type writeBuf struct {
	mu       sync.Mutex
	more     sync.Cond // signalled when there is data, a shutdown or a close
	pend     []*[]byte // written by the guest, not yet taken by the flusher; only the last is not full
	pendN    int       // bytes in pend
	inflight int       // bytes the flusher has taken and not yet written
	spare    []*[]byte // a drained batch's slice, for the next pend
	max      int
	err      error // the connection failed: later writes fail
	shutWr   bool  // the guest shut the write side: CloseWrite after the data
	shutDone bool
	closing  bool // the guest closed the socket: close after the data
	// direct, if set, writes what the socket takes of p at once, without
	// waiting ((0, nil): its send buffer is full). write uses it when
	// nothing is queued, so that a peer keeping up costs no copy.
	direct func(p []byte) (int, error)
	// idle, if set, is called (with mu held) each time flush waits for
	// work. Tests use it.
	idle func()
}

func newWriteBuf(max int) *writeBuf {
	b := &writeBuf{max: max}
	b.more.L = &b.mu
	return b
}

func (b *writeBuf) size() int { return b.pendN + b.inflight }

// write copies as much of p as there is room for and returns how much;
// 0 with a nil error means the buffer is full.
func (b *writeBuf) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.err != nil:
		return 0, b.err
	case b.shutWr || b.closing:
		return 0, errWriteClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	done := 0
	if b.direct != nil && b.size() == 0 {
		// Nothing is queued before p: the socket may take it now,
		// without a copy. Under b.mu, so that the flusher cannot start
		// a write meanwhile.
		m, err := b.direct(p)
		if err != nil {
			b.err = err
			return 0, err
		}
		done, p = m, p[m:]
		if len(p) == 0 {
			return done, nil
		}
	}
	for len(p) > 0 && b.size() < b.max {
		if len(b.pend) == 0 || len(*b.pend[len(b.pend)-1]) == writeChunkSize {
			b.pend = append(b.pend, getWriteBuf())
		}
		last := b.pend[len(b.pend)-1]
		m := min(len(p), writeChunkSize-len(*last), b.max-b.size())
		*last = append(*last, p[:m]...) // within its capacity
		b.pendN += m
		done, p = done+m, p[m:]
	}
	if b.pendN > 0 {
		b.more.Signal()
	}
	return done, nil
}

// writable reports whether a write would take data or fail at once, and
// how much room there is.
func (b *writeBuf) writable() (bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.size()
	return room > 0 || b.err != nil || b.shutWr || b.closing, max(room, 0)
}

// failed reports the connection's write error, if any.
func (b *writeBuf) failed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil
}

// shutdown asks for the write side to be shut after the data.
func (b *writeBuf) shutdown() {
	b.mu.Lock()
	b.shutWr = true
	b.more.Signal()
	b.mu.Unlock()
}

// close asks for the connection to be closed after the data, and reports
// whether data is still waiting.
func (b *writeBuf) close() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closing = true
	b.more.Signal()
	return b.size() > 0 && b.err == nil
}

// flush writes the buffer to c until the socket is closed and drained. It
// calls wake when room appears in a full buffer or the connection fails,
// and closeWrite once for a shutdown. It returns when the guest closed the
// socket and everything is written (or the connection failed).
func (b *writeBuf) flush(c net.Conn, closeWrite func() error, wake func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for len(b.pend) == 0 && !b.closing && (!b.shutWr || b.shutDone) {
			if b.idle != nil {
				b.idle()
			}
			b.more.Wait()
		}
		if len(b.pend) > 0 {
			batch := b.pend
			b.pend, b.spare = b.spare, nil
			b.inflight += b.pendN
			b.pendN = 0
			for i, data := range batch {
				b.mu.Unlock()
				_, err := c.Write(*data)
				b.mu.Lock()
				wasFull := b.size() >= b.max
				b.inflight -= len(*data)
				putWriteBuf(data)
				batch[i] = nil
				if err != nil {
					// The peer will never get the rest.
					if b.err == nil {
						b.err = err
					}
					b.inflight -= putWriteBufs(batch[i+1:])
					putWriteBufs(b.pend)
					b.pend, b.pendN = b.pend[:0], 0
				}
				if wasFull || err != nil {
					b.mu.Unlock()
					wake()
					b.mu.Lock()
				}
				if err != nil {
					break
				}
			}
			b.spare = batch[:0]
			continue
		}
		if b.shutWr && !b.shutDone {
			b.shutDone = true
			if b.err == nil && closeWrite != nil {
				b.mu.Unlock()
				err := closeWrite()
				b.mu.Lock()
				if err != nil && b.err == nil {
					b.err = err
				}
			}
			continue
		}
		if b.closing {
			return
		}
	}
}
