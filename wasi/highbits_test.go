package wasi

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostEnv is one guest with a fresh fd table and socket table: fd 3 a
// preopened directory holding file "a" (read-only and in memory, so that
// two environments are alike to the byte), fd 4 a TCP listener, fd 5 a TCP
// connection, fd 6 a connection with a verified peer identity.
type hostEnv struct {
	// peer is the far end of fd 5.
	peer net.Conn
	ctx  context.Context
	mod  api.Module
	s    *Sockets
	host *Host
}

// hostRig compiles the host modules and the caller once per test.
type hostRig struct {
	t        *testing.T
	r        wazero.Runtime
	host     *Host
	compiled wazero.CompiledModule
	peerLn   net.Listener
}

func newHostRig(t *testing.T) *hostRig {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(ctx) })
	h, err := Instantiate(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CompileModule(ctx, memModule)
	if err != nil {
		t.Fatal(err)
	}
	peerLn := listen(t)
	t.Cleanup(func() { peerLn.Close() })
	return &hostRig{t: t, r: r, host: h, compiled: c, peerLn: peerLn}
}

func (rig *hostRig) env() *hostEnv {
	t := rig.t
	t.Helper()
	ctx := context.Background()
	mod, err := rig.r.InstantiateModule(ctx, rig.compiled, wazero.NewModuleConfig().WithName("").
		WithFSConfig(wazero.NewFSConfig().WithFSMount(fstest.MapFS{"a": {Data: []byte("hello"), ModTime: time.Unix(1, 0)}}, "/")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	var peer net.Conn
	dial := func() net.Conn {
		c, err := net.Dial("tcp", rig.peerLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		p, err := rig.peerLn.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		peer = p
		return c
	}
	s := NewSockets([]Listener{{FD: 4, Name: "l", Listener: listen(t), Nonblock: true}}, []Conn{{FD: 5, Name: "c", Conn: dial(), Nonblock: true}}, nil)
	fd5peer := peer
	withPeer := newConnSock(dial(), s.notify, nil, 0)
	withPeer.peer = []byte(`{"auth":"ca"}`)
	withPeer.setNonblock(true)
	s.fds[6] = withPeer
	t.Cleanup(func() { s.Close() })
	// keep.verify_csr answers with what it was given, so that a call with
	// garbage in the high bits shows in memory.
	ctx = WithCSRChecker(ctx, func(_ context.Context, der []byte) []byte { return []byte(fmt.Sprintf("%q", der)) })
	return &hostEnv{peer: fd5peer, ctx: WithSockets(ctx, s), mod: mod, s: s, host: rig.host}
}

// argFor gives a clean value for a host function's i32 parameter, by its
// name, so that each call does something real: iovecs, paths and
// subscriptions are laid out in memory by hostEnv.prepare.
func argFor(fn, name string, i int, fd uint32) uint32 {
	switch name {
	case "fd", "old_fd", "new_fd", "to":
		return fd
	case "iovs", "ri_data", "si_data":
		return 0x100
	case "iovs_len", "ri_data_len", "si_data_len":
		return 2
	case "path", "old_path":
		return 0x300
	case "new_path":
		return 0x308
	case "path_len", "old_path_len", "new_path_len":
		return 1
	case "buf", "result.path":
		return 0x400
	case "buf_len", "result.path_len":
		return 64
	case "argv", "environ":
		return 0x500
	case "argv_buf", "environ_buf":
		return 0x600
	case "in":
		return 0x700
	case "out":
		return 0x800
	case "csr":
		return 0x200
	case "csr_len":
		return 16
	case "out_len":
		return 64
	case "nsubscriptions":
		return 1
	case "flags":
		if fn == "fd_fdstat_set_flags" || fn == "sock_accept" {
			return fdflagNonblock // nothing may block in this test
		}
		return 0
	case "how":
		return sdflagWr
	case "rval":
		return 3
	case "fst_flags", "advice", "whence", "id", "sig", "dirflags", "oflags", "fdflags",
		"old_flags", "ri_flags", "si_flags":
		return 0
	}
	if len(name) > 7 && name[:7] == "result." {
		return 0x900 + 16*uint32(i)
	}
	panic("no argument for " + fn + " " + name)
}

// prepare lays out what the arguments point at.
func (e *hostEnv) prepare() {
	mem := e.mod.Memory()
	mem.WriteUint32Le(0x100, 0x200)
	mem.WriteUint32Le(0x104, 8)
	mem.WriteUint32Le(0x108, 0x210)
	mem.WriteUint32Le(0x10c, 8)
	mem.Write(0x200, []byte("0123456789abcdef"))
	mem.Write(0x300, []byte("a\x00\x00\x00\x00\x00\x00\x00b"))
	// One clock subscription that has expired at once.
	var sub [subscriptionSize]byte
	binary.LittleEndian.PutUint64(sub[0:], 7)
	sub[8] = eventtypeClock
	mem.Write(0x700, sub[:])
}

// outcome is everything a call changed: its results (or its panic), the
// guest's memory, and the state of every fd afterwards.
type outcome struct {
	stack []uint64
	panic string
	mem   []byte
	fds   []uint64
}

func (e *hostEnv) call(name string, params []uint64) outcome {
	var fn api.GoModuleFunction
	var def api.FunctionDefinition
	for _, m := range []api.Module{e.host.WASI, e.host.Keep} {
		if d, ok := m.ExportedFunctionDefinitions()[name]; ok {
			def, fn = d, d.GoFunction().(api.GoModuleFunction)
		}
	}
	stack := make([]uint64, max(len(params), len(def.ResultTypes())))
	copy(stack, params)
	var o outcome
	func() {
		defer func() {
			if r := recover(); r != nil {
				o.panic = fmt.Sprint(r)
			}
		}()
		fn.Call(e.ctx, e.mod, stack)
	}()
	o.stack = stack[:len(def.ResultTypes())]
	b, _ := e.mod.Memory().Read(0, e.mod.Memory().Size())
	o.mem = append([]byte(nil), b...)
	stat := e.host.WASI.ExportedFunctionDefinitions()["fd_fdstat_get"].GoFunction().(api.GoModuleFunction)
	if o.panic != "" {
		return o // proc_exit closed the module
	}
	for fd := uint64(0); fd < 8; fd++ {
		st := []uint64{fd, 0xf000}
		stat.Call(e.ctx, e.mod, st)
		o.fds = append(o.fds, st[0])
	}
	return o
}

// Every host function Keep registers (wazero's WASI functions as Keep
// wraps them, and Keep's own) gives the same result when its i32
// arguments carry garbage in their high 32 bits: wazero passes i32
// arguments as uint64 whose high half is not cleared (a C guest's send()
// with flags 0 failed with NOTSUP at random).
func TestHostFunctionsIgnoreHighBits(t *testing.T) {
	rig := newHostRig(t)
	var names []string
	defs := map[string]api.FunctionDefinition{}
	for _, m := range []api.Module{rig.host.WASI, rig.host.Keep} {
		for n, d := range m.ExportedFunctionDefinitions() {
			names = append(names, n)
			defs[n] = d
		}
	}
	sort.Strings(names)
	if len(names) < 46 {
		t.Fatalf("only %d host functions", len(names))
	}
	const garbage = 0xdeadbeef_00000000
	for _, name := range names {
		def := defs[name]
		for _, fd := range []uint32{0, 1, 3, 4, 5, 6, 99} {
			clean := make([]uint64, len(def.ParamTypes()))
			dirty := make([]uint64, len(clean))
			for i, typ := range def.ParamTypes() {
				switch typ {
				case api.ValueTypeI32:
					clean[i] = uint64(argFor(name, def.ParamNames()[i], i, fd))
					dirty[i] = clean[i] | garbage
				default:
					clean[i] = 1 // offsets, lengths, rights, timestamps
					dirty[i] = 1
				}
			}
			e1, e2 := rig.env(), rig.env()
			e1.prepare()
			e2.prepare()
			want, got := e1.call(name, clean), e2.call(name, dirty)
			if !equalOutcome(want, got) {
				t.Errorf("%s(fd %d): with garbage in the high bits: results %v panic %q fds %v; clean: results %v panic %q fds %v (memory equal: %v)",
					name, fd, got.stack, got.panic, got.fds, want.stack, want.panic, want.fds, bytes.Equal(want.mem, got.mem))
			}
		}
	}
}

func equalOutcome(a, b outcome) bool {
	if a.panic != "" || b.panic != "" { // the stack still holds the arguments
		return a.panic == b.panic && bytes.Equal(a.mem, b.mem)
	}
	return fmt.Sprint(a.stack) == fmt.Sprint(b.stack) && a.panic == b.panic && bytes.Equal(a.mem, b.mem) && fmt.Sprint(a.fds) == fmt.Sprint(b.fds)
}
