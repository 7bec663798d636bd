package wasi

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Sizes of poll_oneoff's records ("subscription" and "event" in the WASI
// snapshot-01 witx).
const (
	subscriptionSize = 48
	eventSize        = 32
	maxSubscriptions = 4096
)

type subscription struct {
	userdata uint64
	tag      byte
	fd       int32         // fd_read, fd_write
	timeout  time.Duration // clock; relative
	abstime  bool
}

// pollFits reports whether n subscriptions (and their n events) fit in
// the guest's memory at all; a count that does not is refused before
// anything is allocated for it.
func pollFits(mod api.Module, n uint32) bool {
	var size uint64
	if mem := mod.Memory(); hasMemory(mem) {
		size = uint64(mem.Size())
	}
	return uint64(n)*subscriptionSize <= size && uint64(n)*eventSize <= size
}

func readSubscriptions(mem api.Memory, in, n uint32) ([]subscription, bool) {
	buf, ok := mem.Read(in, n*subscriptionSize)
	if !ok {
		return nil, false
	}
	subs := make([]subscription, n)
	for i := range subs {
		b := buf[i*subscriptionSize:]
		s := &subs[i]
		s.userdata = binary.LittleEndian.Uint64(b)
		s.tag = b[8]
		switch s.tag {
		case eventtypeClock:
			s.timeout = time.Duration(binary.LittleEndian.Uint64(b[24:]))
			s.abstime = binary.LittleEndian.Uint16(b[40:])&subclockflagAbstime != 0
		case eventtypeFdRead, eventtypeFdWrite:
			s.fd = int32(binary.LittleEndian.Uint32(b[16:]))
		}
	}
	return subs, true
}

// pollInvolves reports whether a poll_oneoff call names one of Keep's
// sockets; if not, wazero's implementation handles it unchanged.
func (s *Sockets) pollInvolves(mod api.Module, stack []uint64) bool {
	in, n := uint32(stack[0]), uint32(stack[2])
	if n == 0 || n > maxSubscriptions {
		return false
	}
	subs, ok := readSubscriptions(mod.Memory(), in, n)
	if !ok {
		return false
	}
	for _, sub := range subs {
		if sub.tag != eventtypeClock && s.get(sub.fd) != nil {
			return true
		}
	}
	return false
}

// pollOneoff(in, out, nsubscriptions, result.nevents) for a set that names
// Keep's sockets, or any set that does not wait on stdin (see pollStdin).
// It reports every ready subscription; if none is ready it blocks until a
// socket wakes it, the earliest clock subscription expires, or the run
// ends. fds that are not sockets (files, stdio) are reported ready at once,
// and BADF if wazero does not have them open.
func (s *Sockets) pollOneoff(ctx context.Context, mod api.Module, stack []uint64, w wazeroFns) uint64 {
	in, out, n, resultN := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	subs, ok := readSubscriptions(mem, in, n)
	if !ok {
		return errnoFault
	}
	// An fd that is neither Keep's nor open in wazero is BADF.
	var others []int32
	s.mu.Lock()
	for _, sub := range subs {
		if sub.tag != eventtypeClock && s.fds[sub.fd] == nil {
			others = append(others, sub.fd)
		}
	}
	s.mu.Unlock()
	var badf map[int32]bool
	for _, fd := range others {
		if !badf[fd] {
			if errno, _ := w.fdstat(ctx, mod, uint64(uint32(fd))); errno != errnoSuccess || s.freed(fd) {
				if badf == nil {
					badf = map[int32]bool{}
				}
				badf[fd] = true
			}
		}
	}
	// The listeners this call waits on, for stealing (listenSock.stale).
	var on []*listenSock
	for _, sub := range subs {
		if sub.tag == eventtypeFdRead {
			if l, _, ok := listenerOf(s.get(sub.fd)); ok {
				on = append(on, l)
			}
		}
	}
	start := time.Now()
	for {
		var events []byte
		next := time.Duration(-1) // time until the earliest clock fires
		for _, sub := range subs {
			var ev [eventSize]byte
			binary.LittleEndian.PutUint64(ev[:], sub.userdata)
			ev[10] = sub.tag
			ready := false
			switch sub.tag {
			case eventtypeClock:
				if sub.abstime {
					binary.LittleEndian.PutUint16(ev[8:], errnoNotsup)
					ready = true
					break
				}
				left := sub.timeout - time.Since(start)
				if left <= 0 {
					ready = true
				} else if next < 0 || left < next {
					next = left
				}
			case eventtypeFdRead, eventtypeFdWrite:
				k := s.get(sub.fd)
				switch {
				case k == nil:
					ready = true // a wazero fd: files and stdio are always ready
					if badf[sub.fd] {
						binary.LittleEndian.PutUint16(ev[8:], errnoBadf)
					}
				case sub.tag == eventtypeFdWrite:
					c, isConn := k.(*connSock)
					if !isConn {
						ready = true
						binary.LittleEndian.PutUint16(ev[8:], errnoNotsup)
						break
					}
					// Writable only while the write-behind buffer has
					// room (or a write would fail at once).
					var room int
					ready, room = c.writable()
					binary.LittleEndian.PutUint64(ev[16:], uint64(room))
					if ready && c.out.failed() {
						binary.LittleEndian.PutUint16(ev[24:], eventrwflagHangup)
					}
				default:
					ready = k.readable()
					if c, isConn := k.(*connSock); ready && isConn {
						avail, hup := c.pending()
						binary.LittleEndian.PutUint64(ev[16:], uint64(avail))
						if hup {
							binary.LittleEndian.PutUint16(ev[24:], eventrwflagHangup)
						}
					}
				}
			default:
				binary.LittleEndian.PutUint16(ev[8:], errnoInval)
				ready = true
			}
			if ready {
				events = append(events, ev[:]...)
			}
		}
		if len(events) > 0 {
			if !mem.Write(out, events) || !mem.WriteUint32Le(resultN, uint32(len(events)/eventSize)) {
				return errnoFault
			}
			return errnoSuccess
		}
		s.waitOn(ctx, next, on)
	}
}
