package wasi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Instances share one listener through their own views: each view has its
// own mode, a connection goes to one instance and wakes it alone, and the
// listener stays open until the last view closes.
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
		l, m, _ := listenerOf(views[i])
		var got *admitted
		waitFor(t, ss[i].wake, func() bool {
			a, err := l.acceptBy(m)
			if err != nil {
				t.Fatal(err)
			}
			got = a
			return a != nil
		})
		return got
	}
	// The first connection goes to instance 0 (every instance holds none),
	// and only instance 0 is woken.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := accept(0)
	defer a.conn.Close()
	for i := 1; i < 3; i++ {
		select {
		case <-ss[i].wake:
			t.Fatalf("instance %d was woken for a connection given to instance 0", i)
		default:
		}
		if views[i].readable() {
			t.Fatalf("instance %d: the listener is readable, with nothing for it", i)
		}
	}

	// Instance 0 closing its fd leaves the listener to the others: the
	// next connection goes to instance 1.
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
	if l, _, _ := listenerOf(views[2]); l.isClosed() {
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

// shared is a listener of n members whose clock stands still unless the
// test moves it; stealAfter is an hour of that clock.
type shared struct {
	l     *listenSock
	woke  []chan struct{} // one per member
	any   chan struct{}   // any member was woken
	clock time.Time       // under l.mu
	peers []net.Conn      // client ends of admitted connections
}

func newShared(t *testing.T, n, maxConns int) *shared {
	t.Helper()
	f := &shared{any: make(chan struct{}, 1), clock: time.Unix(1e9, 0)}
	wakes := make([]func(), n)
	for i := range wakes {
		w, ch := waker()
		f.woke = append(f.woke, ch)
		wakes[i] = func() {
			w()
			select {
			case f.any <- struct{}{}:
			default:
			}
		}
	}
	f.l = newSharedListenSock(listen(t), "l", maxConns, time.Second, nil, wakes, discard, nil, 0)
	f.l.mu.Lock()
	f.l.stealAfter = time.Hour
	f.l.now = func() time.Time { return f.clock }
	f.l.mu.Unlock()
	t.Cleanup(func() {
		f.l.close()
		for _, c := range f.peers {
			c.Close()
		}
	})
	return f
}

// admit establishes and queues a connection (one end of a pipe), as the
// accept loop does.
func (f *shared) admit(t *testing.T) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	f.peers = append(f.peers, b)
	if !f.l.establish() {
		t.Fatal("no room for another connection")
	}
	if ra := newReadAhead(0); f.l.enqueue(a, ra) {
		go ra.run(a)
	}
	return a
}

func (f *shared) advance(d time.Duration) {
	f.l.mu.Lock()
	f.clock = f.clock.Add(d)
	f.l.mu.Unlock()
}

// drainWakes forgets every wake so far.
func (f *shared) drainWakes() {
	for _, ch := range f.woke {
		select {
		case <-ch:
		default:
		}
	}
}

// woken returns the members woken since the last drainWakes.
func (f *shared) woken() []int {
	var out []int
	for i, ch := range f.woke {
		select {
		case <-ch:
			out = append(out, i)
		default:
		}
	}
	return out
}

// state returns each member's queued and held connections.
func (f *shared) state() (queued, held []int) {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	for _, m := range f.l.members {
		queued = append(queued, len(m.queue))
		held = append(held, m.held)
	}
	return queued, held
}

// Dispatch: each connection goes to the member holding and queueing the
// fewest, ties in turn; only that member is woken; a member that leaves
// gets nothing more and its queue goes to the others; a released
// connection no longer counts. poll_oneoff's readability of each member
// is its queue (nothing is stale here: the clock stands still).
func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		ops    string // q: a connection arrives; aI: member I accepts; rI: member I closes its oldest; xI: member I leaves
		queued []int
		held   []int
	}{
		{"one member takes all", 1, "q q q", []int{3}, []int{0}},
		{"a burst over 2", 2, "q q q q q", []int{3, 2}, []int{0, 0}},
		{"a burst over 3", 3, "q q q q q q q q q", []int{3, 3, 3}, []int{0, 0, 0}},
		{"a burst over 4", 4, "q q q q q q q q q q", []int{3, 3, 2, 2}, []int{0, 0, 0, 0}},
		{"held connections count", 2, "q q a0 a1 q q q", []int{2, 1}, []int{1, 1}},
		{"the member that closed one gets the next", 2, "q q a0 a1 r1 q", []int{0, 1}, []int{1, 0}},
		{"fewest first, then in turn", 2, "q q a0 a1 r1 q q q", []int{1, 2}, []int{1, 0}},
		{"a member holding more gets none until the others catch up", 3, "q q q a0 a1 a2 r1 r2 q q", []int{0, 1, 1}, []int{1, 0, 0}},
		{"a member gone gets none", 3, "x1 q q q q", []int{2, 0, 2}, []int{0, 0, 0}},
		{"a member gone gives its queue away", 3, "q q q q x0", []int{0, 2, 2}, []int{0, 0, 0}},
		{"what a gone member accepted still counts until closed", 2, "q a0 x0 q", []int{0, 1}, []int{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newShared(t, tc.n, 64)
			held := make([][]*admitted, tc.n)
			for _, op := range strings.Fields(tc.ops) {
				f.drainWakes()
				before, _ := f.state()
				var i int
				if len(op) > 1 {
					i, _ = strconv.Atoi(op[1:])
				}
				switch op[0] {
				case 'q':
					f.admit(t)
					after, _ := f.state()
					to := -1
					for j := range after {
						if after[j] == before[j]+1 {
							to = j
						}
					}
					if w := f.woken(); to < 0 || fmt.Sprint(w) != fmt.Sprint([]int{to}) {
						t.Fatalf("%s: queues %v -> %v, woken %v: want one member given it and woken alone", op, before, after, w)
					}
				case 'a':
					a, err := f.l.acceptBy(i)
					if a == nil || err != nil {
						t.Fatalf("%s: accept: %v, %v", op, a, err)
					}
					held[i] = append(held[i], a)
				case 'r':
					a := held[i][0]
					held[i] = held[i][1:]
					a.conn.Close()
					a.release()
				case 'x':
					f.l.leave(i)
				}
				queued, _ := f.state()
				for j := range queued {
					if got := f.l.readableBy(j); got != (queued[j] > 0) {
						t.Fatalf("after %s: member %d readable = %v with %d queued", op, j, got, queued[j])
					}
				}
			}
			queued, h := f.state()
			if fmt.Sprint(queued) != fmt.Sprint(tc.queued) || fmt.Sprint(h) != fmt.Sprint(tc.held) {
				t.Fatalf("queued %v, held %v; want %v, %v", queued, h, tc.queued, tc.held)
			}
			total := 0
			for j := range queued {
				total += queued[j] + h[j]
			}
			if f.l.established() != total {
				t.Fatalf("%d established, want %d (queued and held)", f.l.established(), total)
			}
		})
	}
}

// Stealing: a connection queued for a member that does not take it may be
// taken by another member once it has waited stealAfter, not before; a
// member takes its own first, and the oldest stale one otherwise.
func TestDispatchSteal(t *testing.T) {
	t.Run("from a stuck member, after stealAfter", func(t *testing.T) {
		f := newShared(t, 2, 64)
		c := f.admit(t) // to member 0, which never accepts
		if f.l.readableBy(1) {
			t.Fatal("member 1 is readable at once")
		}
		if a, _ := f.l.acceptBy(1); a != nil {
			t.Fatal("member 1 took member 0's connection at once")
		}
		f.advance(time.Hour - time.Nanosecond)
		f.drainWakes()
		f.l.stealCheck(0)
		if w := f.woken(); len(w) != 0 || f.l.readableBy(1) {
			t.Fatalf("before stealAfter: woken %v, member 1 readable %v", w, f.l.readableBy(1))
		}
		f.advance(time.Nanosecond)
		f.l.stealCheck(0)
		if w := f.woken(); fmt.Sprint(w) != "[1]" {
			t.Fatalf("a stale connection woke %v, want [1] (member 0 was woken when it was queued)", w)
		}
		if !f.l.readableBy(1) || !f.l.readableBy(0) {
			t.Fatal("a stale connection is not readable for both")
		}
		a, _ := f.l.acceptBy(1)
		if a == nil || a.conn != c {
			t.Fatalf("member 1 took %v, want member 0's stale connection", a)
		}
		if queued, held := f.state(); fmt.Sprint(queued, held) != "[0 0] [0 1]" {
			t.Fatalf("queued %v, held %v after the steal", queued, held)
		}
		if f.l.readableBy(0) || f.l.readableBy(1) {
			t.Fatal("readable with nothing queued")
		}
	})
	t.Run("by what the owner is doing", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			state int
			now   bool // stealable before stealAfter
		}{
			{"running guest code", memberRunning, false},
			{"waiting on the listener", memberListening, false},
			{"waiting for something else only", memberElsewhere, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newShared(t, 3, 64)
				f.l.setState(0, tc.state)
				f.admit(t) // to member 0
				f.admit(t) // to member 1
				f.drainWakes()
				f.l.setState(0, tc.state) // again, now with a queue
				if w := f.woken(); tc.now != (fmt.Sprint(w) == "[2]") || !tc.now && len(w) != 0 {
					t.Fatalf("woken %v: only the member with an empty queue should be, and only if it may take the connection", w)
				}
				if got := f.l.readableBy(2); got != tc.now {
					t.Fatalf("member 2 readable = %v, want %v", got, tc.now)
				}
				if a, _ := f.l.acceptBy(2); (a != nil) != tc.now {
					t.Fatalf("member 2 took %v", a)
				}
				// Member 1 runs: its connection is never stealable before
				// stealAfter, whatever member 0 does.
				f.l.setState(0, memberRunning)
				if a, _ := f.l.acceptBy(2); a != nil {
					t.Fatal("member 2 took member 1's connection")
				}
				f.advance(time.Hour)
				if a, _ := f.l.acceptBy(2); a == nil {
					t.Fatal("nothing to take after stealAfter")
				}
			})
		}
	})
	t.Run("an owner back from waiting elsewhere is under the age rule, with a timer", func(t *testing.T) {
		f := newShared(t, 2, 64)
		f.l.setState(0, memberElsewhere)
		f.admit(t) // to member 0: stale at once, no timer needed
		f.l.mu.Lock()
		armed := f.l.steal != nil
		f.l.mu.Unlock()
		if armed || !f.l.readableBy(1) {
			t.Fatalf("timer armed %v, member 1 readable %v; want no timer and readable", armed, f.l.readableBy(1))
		}
		f.l.setState(0, memberRunning)
		f.l.mu.Lock()
		armed, at := f.l.steal != nil, f.l.stealAt
		f.l.mu.Unlock()
		if !armed || !at.Equal(f.clock.Add(time.Hour)) || f.l.readableBy(1) {
			t.Fatalf("timer armed %v for %v, member 1 readable %v; want a timer at stealAfter and not readable", armed, at, f.l.readableBy(1))
		}
	})
	t.Run("an earlier deadline replaces a later timer", func(t *testing.T) {
		f := newShared(t, 2, 64)
		f.l.setState(0, memberElsewhere)
		f.admit(t) // member 0: stale
		f.advance(time.Minute)
		f.admit(t) // member 1: timer at +1h01m
		f.l.mu.Lock()
		later := f.l.stealAt
		f.l.mu.Unlock()
		f.l.setState(0, memberRunning) // member 0's, older, is under the age rule now
		f.l.mu.Lock()
		earlier := f.l.stealAt
		f.l.mu.Unlock()
		if !earlier.Equal(later.Add(-time.Minute)) {
			t.Fatalf("timer at %v, want %v", earlier, later.Add(-time.Minute))
		}
	})
	t.Run("own first, then the oldest stale", func(t *testing.T) {
		f := newShared(t, 3, 64)
		c0 := f.admit(t) // member 0
		f.advance(time.Minute)
		c1 := f.admit(t) // member 1
		f.admit(t)       // member 2
		f.advance(time.Minute)
		c3 := f.admit(t) // member 0 (turn)
		f.advance(time.Hour - time.Minute)
		// Member 2 takes its own; then member 0's first (the oldest), then
		// member 1's, then member 0's second, which is not stale yet.
		if a, _ := f.l.acceptBy(2); a == nil || a.conn == c0 || a.conn == c1 || a.conn == c3 {
			t.Fatal("member 2 did not take its own connection first")
		}
		for _, want := range []net.Conn{c0, c1} {
			if a, _ := f.l.acceptBy(2); a == nil || a.conn != want {
				t.Fatalf("member 2 stole %v, want the oldest stale connection", a)
			}
		}
		if a, _ := f.l.acceptBy(2); a != nil {
			t.Fatal("member 2 stole a connection that had not waited stealAfter")
		}
		f.advance(time.Minute)
		if a, _ := f.l.acceptBy(2); a == nil || a.conn != c3 {
			t.Fatalf("member 2 stole %v, want member 0's last", a)
		}
	})
	t.Run("the timer wakes a waiting member", func(t *testing.T) {
		// The real clock, with a short stealAfter: member 1 waits on its
		// wake until it can take member 0's connection.
		wakes := make([]func(), 2)
		chans := make([]chan struct{}, 2)
		for i := range wakes {
			wakes[i], chans[i] = waker()
		}
		l := newSharedListenSock(listen(t), "l", 8, time.Second, nil, wakes, discard, nil, 0)
		defer l.close()
		l.mu.Lock()
		l.stealAfter = time.Millisecond
		l.mu.Unlock()
		a, b := net.Pipe()
		defer b.Close()
		l.establish()
		if ra := newReadAhead(0); l.enqueue(a, ra) {
			go ra.run(a)
		}
		var got *admitted
		waitFor(t, chans[1], func() bool {
			got, _ = l.acceptBy(1)
			return got != nil
		})
		if got.conn != a {
			t.Fatal("member 1 took another connection")
		}
	})
}

// A member leaving gives its queued connections to the others; when the
// last instance ends, what is still queued is closed; max_connections
// counts queued and held connections of every member, and a connection
// released by one member admits the next.
func TestSharedListenerEnds(t *testing.T) {
	t.Run("an instance that ends hands its queue over", func(t *testing.T) {
		ln := listen(t)
		ss := NewSharedSockets([]Listener{{FD: 3, Name: "l", Listener: ln, Nonblock: true}}, 2, nil)
		l, _, _ := listenerOf(ss[0].get(3))
		var clients []net.Conn
		for _, to := range []int{0, 1, 0} { // in turn: both hold none, then one each
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			clients = append(clients, c)
			waitFor(t, ss[to].wake, func() bool { return l.queued() == len(clients) })
		}
		ss[0].Close() // instance 0 ends
		if !l.readableBy(1) {
			t.Fatal("instance 1 cannot accept after instance 0 ended")
		}
		a, _ := l.acceptBy(1)
		if a == nil {
			t.Fatal("nothing for instance 1")
		}
		a.conn.Close()
		a.release()
		if queued := l.queued(); queued != 2 {
			t.Fatalf("%d queued, want instance 0's two", queued)
		}
		ss[1].Close() // the last instance ends: what is queued is closed
		for i, c := range clients {
			c.SetReadDeadline(time.Now().Add(30 * time.Second)) // hang guard
			if _, err := c.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("client %d: %v, want its connection closed", i, err)
			}
		}
		if n := l.established(); n != 0 {
			t.Fatalf("%d established after every instance ended", n)
		}
	})
	t.Run("max_connections over every member", func(t *testing.T) {
		f := newShared(t, 2, 2)
		addr := f.l.ln.Addr().String()
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		waitFor(t, f.any, func() bool { return f.l.queued() == 2 })
		if queued, _ := f.state(); fmt.Sprint(queued) != "[1 1]" || f.l.established() != 2 {
			t.Fatalf("queued %v, %d established; want one each and 2", queued, f.l.established())
		}
		a, _ := f.l.acceptBy(1)
		b, _ := f.l.acceptBy(0)
		if a == nil || b == nil {
			t.Fatal("queued connections not accepted")
		}
		defer b.conn.Close()
		if f.l.queued() != 0 || f.l.established() != 2 {
			t.Fatal("a third connection was admitted beyond max_connections")
		}
		a.conn.Close()
		a.release() // member 1 closes its connection: the third is admitted, to member 1
		waitFor(t, f.any, func() bool { return f.l.queued() == 1 })
		if queued, held := f.state(); fmt.Sprint(queued, held) != "[0 1] [1 0]" {
			t.Fatalf("queued %v, held %v; want the third given to member 1", queued, held)
		}
	})
}

// An instance that blocks in the host on something other than the
// listener (a serial guest reading its request) lets another instance take
// the connections queued for it at once, and is woken out of that wait as
// usual.
func TestSharedListenerOwnerBlockedElsewhere(t *testing.T) {
	ln := listen(t)
	ss := NewSharedSockets([]Listener{{FD: 3, Name: "l", Listener: ln, Nonblock: true}}, 2, nil)
	defer func() {
		for _, s := range ss {
			s.Close()
		}
	}()
	l, _, _ := listenerOf(ss[0].get(3))
	l.mu.Lock()
	l.stealAfter = time.Hour // only the wait elsewhere can let instance 1 take it
	l.mu.Unlock()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, ss[0].wake, func() bool { return l.queued() == 1 }) // given to instance 0
	if l.readableBy(1) {
		t.Fatal("instance 1 may take instance 0's connection while instance 0 runs")
	}
	// Instance 0 blocks as a blocking sock_recv does (its wake for the
	// connection consumed first, so that the wait does block).
	select {
	case <-ss[0].wake:
	default:
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ss[0].wait(context.Background(), -1)
	}()
	var a *admitted
	waitFor(t, ss[1].wake, func() bool {
		a, _ = l.acceptBy(1)
		return a != nil
	})
	a.conn.Close()
	a.release()
	ss[0].notify()
	<-done
	l.mu.Lock()
	state := l.members[0].state
	l.mu.Unlock()
	if state != memberRunning {
		t.Fatalf("instance 0's state after its wait: %d", state)
	}
}
