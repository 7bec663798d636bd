package wasi

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// Instances share one listener: a connection wakes every instance, one
// instance takes it and the others find the queue empty; each view has its
// own mode; the listener stays open until the last view closes.
func TestSharedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ss := NewSharedSockets([]Listener{{FD: 3, Name: "l", Listener: ln, Nonblock: true}}, 3, nil)
	defer func() {
		for _, s := range ss {
			s.Close()
		}
	}()
	views := make([]sock, len(ss))
	for i, s := range ss {
		if views[i] = s.get(3); views[i] == nil {
			t.Fatalf("instance %d has no fd 3", i)
		}
		if !views[i].nonblocking() {
			t.Fatalf("instance %d: fd 3 does not start non-blocking", i)
		}
	}
	views[1].setNonblock(false)
	if !views[0].nonblocking() || views[1].nonblocking() || !views[2].nonblocking() {
		t.Fatal("fd flags are not per instance")
	}

	// accept takes one queued connection through view i, waiting on
	// instance i's wake (a hang guard fails the test).
	accept := func(i int) *admitted {
		t.Helper()
		l, _ := listenerOf(views[i])
		var got *admitted
		waitFor(t, ss[i].wake, func() bool {
			a, err := l.accept()
			if err != nil {
				t.Fatal(err)
			}
			got = a
			return a != nil
		})
		return got
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := accept(2)
	defer a.conn.Close()
	// Every instance was woken; the others find nothing left.
	for i := range 2 {
		select {
		case <-ss[i].wake:
		case <-time.After(30 * time.Second): // hang guard
			t.Fatalf("instance %d was not woken", i)
		}
		if l, _ := listenerOf(views[i]); func() bool { x, _ := l.accept(); return x != nil }() {
			t.Fatalf("instance %d took the same connection again", i)
		}
	}

	// One instance closing its fd leaves the listener to the others.
	ss[0].remove(3)
	views[0].close()
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	a2 := accept(1)
	defer a2.conn.Close()
	views[1].close()
	views[1].close() // twice: one reference only
	if l, _ := listenerOf(views[2]); l.isClosed() {
		t.Fatal("the listener closed while an instance still has it")
	}
	ss[2].Close()
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after every instance closed the listener: %v, want connection refused", err)
	}
}

func (l *listenSock) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
