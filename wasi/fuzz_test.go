package wasi

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// socketFns are the host functions that reach the socket layer, with the
// number of i32 arguments each takes.
var socketFns = []struct {
	name  string
	nargs int
}{
	{"fd_read", 4}, {"fd_write", 4}, {"sock_recv", 6}, {"sock_send", 5},
	{"sock_accept", 3}, {"sock_shutdown", 2}, {"fd_close", 1}, {"fd_fdstat_get", 2},
	{"fd_fdstat_set_flags", 2}, {"fd_filestat_get", 2}, {"fd_renumber", 2},
	{"poll_oneoff", 4}, {"peer_identity", 4},
}

// FuzzSocketHostFunctions runs sequences of socket host calls with fuzzed
// fds, flags, counts and iovecs (fuzzed guest memory) against a live
// socket table: a listener with a connection waiting, a connection whose
// peer writes and reads, and one with a peer identity. No call may panic,
// and each answers a WASI errno. Nothing may block: NONBLOCK is kept set,
// and poll_oneoff always has an expired clock among its subscriptions.
func FuzzSocketHostFunctions(f *testing.F) {
	seed := make([]byte, 64)
	binary.LittleEndian.PutUint32(seed[0:], 0x100)
	f.Add(seed, []byte{1, 5, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0})
	f.Add(seed, []byte{4, 4, 4, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 2, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(seed, []byte{11, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 6, 5})
	f.Fuzz(func(t *testing.T, memory, ops []byte) {
		rig := newHostRig(t)
		e := rig.env()
		go io.Copy(io.Discard, e.peer)
		e.peer.Write([]byte("data from the peer"))
		// A connection waits on the listener (fd 4).
		if c, err := net.Dial("tcp", e.s.get(4).(*listenSock).ln.Addr().String()); err == nil {
			t.Cleanup(func() { c.Close() })
		}
		mem := e.mod.Memory()
		if len(memory) > 0x7000 {
			memory = memory[:0x7000]
		}
		mem.Write(0, memory)
		for len(ops) >= 2 {
			fn := socketFns[int(ops[0])%len(socketFns)]
			fd := uint64(ops[1] % 8) // 0..7: stdio, the preopen, the sockets, closed fds
			if ops[1] >= 0xf0 {
				fd = AcceptedFDBase + uint64(ops[1]&0xf)
			}
			ops = ops[2:]
			args := make([]uint64, fn.nargs)
			args[0] = fd
			for i := 1; i < fn.nargs && len(ops) >= 4; i++ {
				args[i] = uint64(binary.LittleEndian.Uint32(ops))
				ops = ops[4:]
			}
			if len(ops) >= 1 { // garbage in the high halves
				for i := range args {
					args[i] |= uint64(ops[0]) << 40
				}
				ops = ops[1:]
			}
			switch fn.name {
			case "fd_fdstat_set_flags", "sock_accept":
				args[1] |= fdflagNonblock
			case "fd_renumber":
				args[1] = uint64(uint32(args[1]) % 8)
			case "poll_oneoff":
				var sub [subscriptionSize]byte
				sub[8] = eventtypeClock
				in := uint32(args[0]) % 0x8000
				n := uint32(args[2])%8 + 1
				mem.Write(in+(n-1)*subscriptionSize, sub[:])
				args[0], args[2] = uint64(in), uint64(n)|args[2]&^0xffffffff
			}
			o := e.call(fn.name, args)
			if o.panic != "" {
				t.Fatalf("%s%v panicked: %s", fn.name, args, o.panic)
			}
			if o.stack[0] > errnoNotcapable {
				t.Fatalf("%s%v = %d, not a WASI errno", fn.name, args, o.stack[0])
			}
		}
	})
}
