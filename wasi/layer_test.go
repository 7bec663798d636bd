package wasi

import (
	"net"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// fd_renumber(x, x) changes nothing, on every kind of fd: stdio, a
// preopened directory, a listener and a connection keep working, a
// socket's number is not freed for the next accepted connection, and an
// fd that is not open is BADF.
func TestFdRenumberOntoItself(t *testing.T) {
	rig := newHostRig(t)
	for _, tc := range []struct {
		fd    uint64
		errno uint64
	}{{1, errnoSuccess}, {3, errnoSuccess}, {4, errnoSuccess}, {5, errnoSuccess}, {99, errnoBadf}} {
		e := rig.env()
		before := e.s.get(int32(tc.fd))
		if o := e.call("fd_renumber", []uint64{tc.fd, tc.fd}); o.stack[0] != tc.errno || o.panic != "" {
			t.Fatalf("fd_renumber(%d, %d) = %v %q, want errno %d", tc.fd, tc.fd, o.stack, o.panic, tc.errno)
		}
		o := e.call("fd_fdstat_get", []uint64{tc.fd, 0x100})
		if tc.errno == errnoSuccess && o.stack[0] != errnoSuccess {
			t.Fatalf("fd %d after renumbering onto itself: fd_fdstat_get = %d", tc.fd, o.stack[0])
		}
		if e.s.get(int32(tc.fd)) != before {
			t.Fatalf("fd %d: the socket table entry changed", tc.fd)
		}
		if before != nil {
			a, _ := net.Pipe()
			if fd := e.s.add(newConnSock(a, e.s.notify, nil, 0)); fd == int32(tc.fd) {
				t.Fatalf("socket fd %d was handed out again after fd_renumber(%d, %d)", fd, tc.fd, tc.fd)
			}
		}
	}
}

// poll_oneoff refuses (EINVAL) a subscription count whose subscriptions or
// events cannot fit the guest's memory, before allocating for it; the
// count is computed in 64 bits (n*48 overflows 32 bits for n >= 2^32/48).
func TestPollOneoffHugeCount(t *testing.T) {
	rig := newHostRig(t)
	e := rig.env()
	poll := e.host.WASI.ExportedFunctionDefinitions()["poll_oneoff"].GoFunction().(api.GoModuleFunction)
	for _, n := range []uint64{65536/48 + 1, 65536/32 + 1, 1<<32/48 + 1, 0x5555_5556, 0xffff_ffff} {
		stack := []uint64{0, 0x8000, n, 0x9000}
		poll.Call(e.ctx, e.mod, stack)
		if stack[0] != errnoInval {
			t.Errorf("poll_oneoff(n = %d) = errno %d, want EINVAL (%d)", n, stack[0], errnoInval)
		}
		allocs := testing.AllocsPerRun(10, func() {
			stack[0], stack[1], stack[2], stack[3] = 0, 0x8000, n, 0x9000
			poll.Call(e.ctx, e.mod, stack)
		})
		if allocs > 0 {
			t.Errorf("poll_oneoff(n = %d) allocated %.0f times before refusing", n, allocs)
		}
	}
	// A count that fits is served: one expired clock subscription.
	e.prepare()
	stack := []uint64{0x700, 0x800, 1, 0x900}
	poll.Call(e.ctx, e.mod, stack)
	if n, _ := e.mod.Memory().ReadUint32Le(0x900); stack[0] != errnoSuccess || n != 1 {
		t.Fatalf("poll_oneoff(one clock) = errno %d, %d events", stack[0], n)
	}
}
