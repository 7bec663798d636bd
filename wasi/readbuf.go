package wasi

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead of a connection: a goroutine (connSock.pump) reads from the
// connection, which for TLS means decrypting, into a readBuf while the guest
// consumes it, so that decryption and the guest run at the same time.
const (
	// readChunkSize is the unit readBuf reads and recycles in: two TLS
	// records' worth of plaintext.
	readChunkSize = 32 << 10
	// readAheadMax is how much a connection reads ahead of the guest
	// unless its socket says otherwise (read_ahead): the reader stops
	// once this much is buffered until the guest drains some.
	readAheadMax = DefaultReadAhead
)

// Bounds of a socket's read-ahead (Listener.ReadAhead, Conn.ReadAhead;
// read_ahead in Enarx.toml).
const (
	// DefaultReadAhead is the read-ahead of a socket that sets none.
	DefaultReadAhead = 256 << 10
	// MinReadAhead is the smallest read-ahead a socket may set: less
	// would split even small messages into several wakeups.
	MinReadAhead = 4 << 10
	// MaxReadAhead is the largest read-ahead a socket may set: each
	// connection may hold this much of the keep's memory.
	MaxReadAhead = 16 << 20
)

// readChunks recycles readBuf's chunks across connections, so neither a
// busy connection nor a new one allocates in steady state.
var readChunks = sync.Pool{New: func() any {
	b := make([]byte, readChunkSize)
	return &b
}}

func getChunk() *[]byte  { return readChunks.Get().(*[]byte) }
func putChunk(c *[]byte) { readChunks.Put(c) }

// readBuf is a bounded FIFO of bytes between one producer, which fills it
// from a reader (fill), and a consumer (read), with an end-of-stream error
// delivered after the data. It holds a queue of fixed-size chunks: the
// producer reads straight into the free tail of the last chunk, outside the
// lock, and the consumer copies from the first; drained chunks go back to
// readChunks. An idle readBuf holds no chunk if its reader is non-blocking
// (see fill), else at most the one chunk being read into.
type readBuf struct {
	mu     sync.Mutex
	space  sync.Cond // signalled when the consumer frees space or the buffer closes
	chunks []*[]byte // chunks[0][head:] ... chunks[last][:tail] is the data
	head   int       // read offset in chunks[0]
	tail   int       // bytes filled in the last chunk
	n      int       // bytes buffered
	max    int
	err    error // the reader's error (io.EOF at the end), after the data
	closed bool
	// filling is set while fill reads into the last chunk outside the
	// lock: that chunk must then stay where it is.
	filling bool
	// stalled, if set, is called (with mu held) each time fill stops
	// because the buffer is full. Tests use it.
	stalled func()
	// parked is set while fill waits for a non-blocking reader to be
	// readable (holding no chunk unless data is buffered).
	parked bool
	// waiting, if set, is called (with mu held) each time fill is about
	// to wait for a non-blocking reader. Tests use it.
	waiting func()
}

func newReadBuf(max int) *readBuf {
	b := &readBuf{max: max}
	b.space.L = &b.mu
	return b
}

// fill reads from r into the buffer until r fails or the buffer is closed,
// waiting while it is full. After each read that leaves the buffer holding
// data it had not, or that ends the stream, it calls wake. It returns r's
// error (nil if the buffer was closed first).
//
// If wait is set, r is non-blocking: it answers errWouldBlock (perhaps
// after some data) when nothing is waiting. fill then gives back the chunk
// it was reading into, if that is still empty, and calls wait, which
// returns when r may have more; so a connection whose peer is silent holds
// no chunk. If wait is nil, r blocks in Read, holding the chunk.
func (b *readBuf) fill(r io.Reader, wait func() error, wake func()) error {
	b.mu.Lock()
	for {
		for b.n >= b.max && !b.closed {
			if b.stalled != nil {
				b.stalled()
			}
			b.space.Wait()
		}
		if b.closed {
			b.mu.Unlock()
			return nil
		}
		if len(b.chunks) == 0 || b.tail == readChunkSize {
			b.chunks = append(b.chunks, getChunk())
			b.tail = 0
		}
		dst := (*b.chunks[len(b.chunks)-1])[b.tail:]
		if room := b.max - b.n; len(dst) > room {
			dst = dst[:room] // never more than max buffered
		}
		b.filling = true
		b.mu.Unlock()

		m, err := r.Read(dst)
		blocked := wait != nil && errors.Is(err, errWouldBlock)
		if blocked {
			err = nil
		}

		b.mu.Lock()
		b.filling = false
		was := b.n
		b.tail += m
		b.n += m
		if err != nil || b.closed {
			return b.end(err, wake)
		}
		if blocked {
			switch {
			case b.n == 0: // the guest has read everything: hold nothing
				b.recycle()
			case b.tail == 0: // the chunk read into is empty: give it back
				last := len(b.chunks) - 1
				putChunk(b.chunks[last])
				b.chunks[last] = nil
				b.chunks = b.chunks[:last]
				b.tail = readChunkSize // the one before is full
			}
			b.parked = true
			if b.waiting != nil {
				b.waiting()
			}
			b.mu.Unlock()
			if was == 0 && m > 0 {
				wake()
			}
			werr := wait()
			b.mu.Lock()
			b.parked = false
			if werr != nil {
				// The connection was closed or failed.
				return b.end(werr, wake)
			}
			continue
		}
		if was == 0 && m > 0 {
			b.mu.Unlock()
			wake()
			b.mu.Lock()
		}
	}
}

// end stops fill: b.mu is held, and released. If the buffer was closed,
// the chunks close left to fill go back and fill returns nil; otherwise
// err ends the stream after the data, the chunks go back if nothing is
// left to read (the guest sees err next), and the guest is woken.
func (b *readBuf) end(err error, wake func()) error {
	if b.closed {
		b.recycle()
		b.mu.Unlock()
		return nil
	}
	b.err = err
	if b.n == 0 {
		b.recycle()
	}
	b.mu.Unlock()
	wake()
	return err
}

// read copies buffered data into bufs, in order, and consumes it unless
// peek. It returns n > 0; or (0, err) once the data is drained and the
// stream has ended (io.EOF at the end); or (0, nil) if nothing is waiting.
func (b *readBuf) read(bufs [][]byte, peek bool) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		return 0, b.err
	}
	n, ci, off := 0, 0, b.head
	for _, dst := range bufs {
		for len(dst) > 0 && n < b.n {
			end := readChunkSize
			if ci == len(b.chunks)-1 {
				end = b.tail
			}
			m := copy(dst, (*b.chunks[ci])[off:end])
			dst, n, off = dst[m:], n+m, off+m
			if off == end && ci < len(b.chunks)-1 {
				ci, off = ci+1, 0
			}
		}
		if n == b.n {
			break
		}
	}
	if peek || n == 0 {
		return n, nil
	}
	full := b.n >= b.max
	b.n -= n
	// Recycle the chunks drained, and the last one too if it is drained
	// and no read is filling it.
	for i := 0; i < ci; i++ {
		putChunk(b.chunks[i])
		b.chunks[i] = nil
	}
	b.chunks, b.head = b.chunks[ci:], off
	if b.n == 0 && !b.filling {
		putChunk(b.chunks[0])
		b.chunks[0] = nil
		b.chunks, b.head, b.tail = b.chunks[:0], 0, 0
	}
	if full && b.n < b.max {
		b.space.Signal()
	}
	return n, nil
}

// buffered returns the bytes waiting and whether the stream has ended
// with nothing left to read (the guest will see EOF or an error next).
func (b *readBuf) buffered() (n int, ended bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, b.n == 0 && b.err != nil
}

// readable reports whether read would return data or an error now.
func (b *readBuf) readable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n > 0 || b.err != nil
}

// close discards the data, releases a fill waiting for space and makes
// it return after its current read. The chunks go back to the pool, now or,
// if a read is filling one, when that read returns.
func (b *readBuf) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	b.space.Broadcast()
	if !b.filling {
		b.recycle()
	}
}

// recycle returns every chunk to the pool; b.mu is held.
func (b *readBuf) recycle() {
	for i, c := range b.chunks {
		putChunk(c)
		b.chunks[i] = nil
	}
	b.chunks, b.head, b.tail, b.n = b.chunks[:0], 0, 0, 0
}
