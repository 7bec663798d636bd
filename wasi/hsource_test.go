package wasi

import (
	"fmt"
	"net"
	"testing"
)

// fakeConn is a connection with a chosen remote address; Close records
// that it was called.
type fakeConn struct {
	net.Conn
	remote net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

// An attacker holding an IPv6 /64 (what one host usually gets) fills the
// handshake budget from as many addresses as it has slots: these count as
// one source, so a real client's handshake is not the one evicted when
// the attacker keeps connecting, and from a /64 the attacker's own oldest
// gives way.
func TestHandshakeBudgetIPv6Prefix(t *testing.T) {
	l := &listenSock{maxHS: 4, hs: map[*handshake]string{}, log: discard}
	start := func(ip string) *fakeConn {
		c := &fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4000}}
		if !l.startHandshake(&handshake{conn: c}, c) {
			t.Fatal("startHandshake refused")
		}
		return c
	}
	attack := []*fakeConn{start("2001:db8:1:2::a"), start("2001:db8:1:2::b"), start("2001:db8:1:2::c")}
	real := start("2001:db8:ffff::1") // another network
	for i := 0; i < 8; i++ {          // the attacker keeps connecting from new addresses in its /64
		attack = append(attack, start(fmt.Sprintf("2001:db8:1:2::%x", 0x100+i)))
	}
	if real.closed {
		t.Fatal("the real client's handshake was evicted by idle connections from one IPv6 /64 using many addresses")
	}
	if !attack[0].closed {
		t.Fatal("the attacker's oldest handshake was not evicted")
	}
}
