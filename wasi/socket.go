package wasi

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepwasm/keep/metrics"
)

// Defaults for listeners.
const (
	// DefaultMaxConns bounds a listener's concurrent connections.
	DefaultMaxConns = 1024
	// DefaultHandshakeTimeout bounds a TLS handshake on a listener.
	DefaultHandshakeTimeout = 10 * time.Second
	// acceptBacklog is how many ready connections wait for sock_accept.
	acceptBacklog = 128
	// stealAfter is how long a connection given to one instance of a
	// module waits in its queue before another instance may take it
	// (docs/RATIONALE.md, "Instances").
	stealAfter = 50 * time.Millisecond
)

// sock is a socket fd Keep owns.
type sock interface {
	readable() bool // data, a connection, EOF or an error is waiting
	setNonblock(bool)
	nonblocking() bool
	close() error
}

// MaxHandshakes bounds the TLS handshakes a listener runs at once (or
// its max_connections, if smaller). Connections still handshaking do not
// count against max_connections; see listenSock.
const MaxHandshakes = 64

// listenSock is a listening socket. A goroutine accepts connections ahead
// of the guest and queues them for sock_accept; TLS handshakes run each
// in its own goroutine, under a timeout.
//
// Two budgets: established connections (queued or held by the guest) are
// at most max_connections, and the accept loop waits while they are;
// connections still handshaking are at most min(MaxHandshakes,
// max_connections). When that budget is full, a new connection evicts the
// oldest handshake of the source address holding the most handshakes, so
// idle connections that never send a ClientHello cannot keep real clients
// out (one address cannot crowd out others, and from one address the
// newest connection wins; see docs/RATIONALE.md, "Threat model: sockets
// and other clients").
//
// Several instances of a module can share the listener (NewSharedSockets):
// each is a member with its own queue, and each established connection is
// given to one member (dispatch: the one holding the fewest connections,
// ties in turn), which alone is woken. A connection left in a member's
// queue may be taken by any other member after stealAfter, or at once
// while its member waits in the host for something else (see stale), and
// a member that leaves gives its queue to the others, so a member stuck in
// a request or gone holds no waiting connection for longer than that
// (docs/RATIONALE.md, "Instances").
type listenSock struct {
	ln         net.Listener
	name       string
	identify   func(net.Conn) []byte
	slots      chan struct{} // one per queued connection: bounds the queues to the backlog
	maxConns   int
	maxHS      int
	room       chan struct{} // signalled when an established connection ends
	hsTimeout  time.Duration
	log        *slog.Logger
	metrics    metrics.Sink
	done       chan struct{}
	stealAfter time.Duration
	now        func() time.Time // time.Now; tests replace it

	mu      sync.Mutex
	members []*member
	turn    int                   // where the next tie-break starts
	steal   *time.Timer           // wakes the members when a queued connection may be taken by any
	stealAt time.Time             // when steal fires
	stealN  uint64                // which timer is steal: an older one that fires does nothing
	estab   int                   // established connections
	hs      map[*handshake]string // handshakes running, with their source address
	hsSeq   uint64
	// hsChanged, if set, is called (with mu held) whenever a handshake
	// starts or ends. Tests use it.
	hsChanged func()
	nonblock  bool
	err       error // accept failed for good
	closed    bool
	// readAhead bounds each accepted connection's read-ahead (0: the
	// default).
	readAhead int
}

// handshake is a connection whose TLS handshake is running.
type handshake struct {
	conn net.Conn // the connection under TLS: closing it ends the handshake
	seq  uint64   // order of arrival
}

// admitted is a connection ready for the guest, with its peer's verified
// identity (nil if none) and its read-ahead, already running. release, set
// by acceptBy, frees its slot.
type admitted struct {
	conn    net.Conn
	peer    []byte
	ahead   *readAhead
	at      time.Time // when it was queued
	release func()
}

// readAhead is a connection's read-ahead: its buffer and the goroutine
// filling it (run). For an accepted connection it starts when the listener
// admits the connection, not when the guest accepts it, so that the guest's
// first read finds what the client sent with its handshake instead of
// parking until a reader started at accept brings it in; under TLS the
// handshake's goroutine goes on as the reader. Nobody is woken for data that
// arrives before the guest accepts the connection (it cannot be waiting for
// it): wake is set by connSock, when the guest takes the connection.
type readAhead struct {
	in     *readBuf
	pumped chan struct{}          // closed when run returns
	wake   atomic.Pointer[func()] // wakes the guest holding the socket; nil before
}

// newReadAhead returns a read-ahead of at most max bytes (0:
// readAheadMax), not yet running.
func newReadAhead(max int) *readAhead {
	if max <= 0 {
		max = readAheadMax
	}
	return &readAhead{in: newReadBuf(max), pumped: make(chan struct{})}
}

// run reads c ahead until it ends or the buffer is closed. On a TCP
// connection Keep made Pollable (with or without TLS on top) it reads
// without blocking and holds no buffer while the peer is silent; anything
// else (a pipe in tests) is read blocking.
func (r *readAhead) run(c net.Conn) {
	defer close(r.pumped)
	var wait func() error
	if p := pollableOf(c); p != nil {
		p.setNonblock()
		wait = p.waitReadable
	}
	r.in.fill(c, wait, r.notify)
}

func (r *readAhead) notify() {
	if w := r.wake.Load(); w != nil {
		(*w)()
	}
}

// member is one instance's share of a listener.
type member struct {
	wake  func()
	queue []admitted // given to this instance, not yet accepted; oldest first
	held  int        // accepted by this instance and not yet released
	gone  bool       // its fd is closed: it is given nothing more
	state int        // memberRunning, memberListening or memberElsewhere
}

// What a member's instance is doing, as far as stealing goes (see stale).
const (
	// memberRunning: in guest code, or in a host call that does not wait.
	memberRunning = iota
	// memberListening: waiting in the host (poll_oneoff, sock_accept)
	// with this listener among what it waits for.
	memberListening
	// memberElsewhere: waiting in the host for something else only (a
	// blocking read, a poll_oneoff without this listener).
	memberElsewhere
)

// load is what dispatch compares: connections held and queued.
func (m *member) load() int { return m.held + len(m.queue) }

// newListenSock starts accepting on ln. readAhead bounds each accepted
// connection's read-ahead (0: readAheadMax).
func newListenSock(ln net.Listener, name string, maxConns int, hsTimeout time.Duration, identify func(net.Conn) []byte, wake func(), log *slog.Logger, sink metrics.Sink, readAhead int) *listenSock {
	return newSharedListenSock(ln, name, maxConns, hsTimeout, identify, []func(){wake}, log, sink, readAhead)
}

// newSharedListenSock returns a listener shared by len(wakes) members;
// wakes[i] wakes member i.
func newSharedListenSock(ln net.Listener, name string, maxConns int, hsTimeout time.Duration, identify func(net.Conn) []byte, wakes []func(), log *slog.Logger, sink metrics.Sink, readAhead int) *listenSock {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if hsTimeout <= 0 {
		hsTimeout = DefaultHandshakeTimeout
	}
	l := &listenSock{
		ln: ln, name: name, identify: identify, slots: make(chan struct{}, min(acceptBacklog, maxConns)),
		maxConns: maxConns, maxHS: min(MaxHandshakes, maxConns), room: make(chan struct{}, 1),
		hsTimeout: hsTimeout, log: log, metrics: metrics.Or(sink), done: make(chan struct{}),
		stealAfter: stealAfter, now: time.Now,
		hs: map[*handshake]string{}, readAhead: readAhead,
	}
	for _, w := range wakes {
		l.members = append(l.members, &member{wake: w})
	}
	go l.loop()
	return l
}

// wakeAll wakes every member still there.
func (l *listenSock) wakeAll() {
	l.mu.Lock()
	var ws []func()
	for _, m := range l.members {
		if !m.gone {
			ws = append(ws, m.wake)
		}
	}
	l.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

// established returns the number of established connections.
func (l *listenSock) established() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.estab
}

func (l *listenSock) loop() {
	for {
		if l.established() >= l.maxConns {
			l.metrics.ConnLimitReached(l.name)
		}
		for l.established() >= l.maxConns {
			select {
			case <-l.room:
			case <-l.done:
				return
			}
		}
		c, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.mu.Lock()
			if !l.closed {
				l.err = err
				l.log.Warn("accept failed", "listener", l.name, "err", err)
			}
			l.mu.Unlock()
			l.wakeAll()
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			go l.handshake(tc)
			continue
		}
		if !l.establish() {
			c.Close()
			continue
		}
		if ra := newReadAhead(l.readAhead); l.enqueue(c, ra) {
			go ra.run(c)
		}
	}
}

// establish takes an established connection's slot, if one is free.
func (l *listenSock) establish() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.estab >= l.maxConns || l.closed {
		return false
	}
	l.estab++
	return true
}

// startHandshake enters tc in the handshake budget, evicting one if the
// budget is full. It reports false if the listener is closed.
func (l *listenSock) startHandshake(h *handshake, raw net.Conn) bool {
	src := handshakeSource(raw.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if len(l.hs) >= l.maxHS {
		// The source with the most handshakes running gives up its oldest.
		count := map[string]int{}
		for _, s := range l.hs {
			count[s]++
		}
		var victim *handshake
		for v, s := range l.hs {
			if victim == nil || count[s] > count[l.hs[victim]] || count[s] == count[l.hs[victim]] && v.seq < victim.seq {
				victim = v
			}
		}
		l.log.Info("handshake budget full: dropping the oldest handshake of the busiest source", "listener", l.name, "remote", victim.conn.RemoteAddr().String())
		victim.conn.Close()
		delete(l.hs, victim)
	}
	l.hsSeq++
	h.seq = l.hsSeq
	l.hs[h] = src
	if l.hsChanged != nil {
		l.hsChanged()
	}
	return true
}

// handshakeSource names the source a handshake is counted against: the
// IPv4 address, or the /64 prefix of an IPv6 address (one host usually
// holds a whole /64, and would otherwise count as 2^64 sources, each
// with a fair share of the budget).
func handshakeSource(addr net.Addr) string {
	a, ok := addr.(*net.TCPAddr)
	if !ok {
		if addr == nil {
			return ""
		}
		return addr.String()
	}
	if a.IP.To4() == nil && len(a.IP) == net.IPv6len {
		return a.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return a.IP.String()
}

// handshake completes a TLS handshake, under the handshake budget and
// timeout, and queues the connection.
func (l *listenSock) handshake(tc *tls.Conn) {
	raw := tc.NetConn()
	h := &handshake{conn: raw}
	if !l.startHandshake(h, raw) {
		raw.Close()
		return
	}
	// A deadline, not HandshakeContext with a timeout: that costs a
	// context, a timer and a goroutine per connection.
	start := time.Now()
	err := tc.SetDeadline(start.Add(l.hsTimeout))
	if err == nil {
		err = tc.Handshake()
	}
	if err == nil {
		err = tc.SetDeadline(time.Time{})
	}
	l.metrics.Handshake(l.name, err == nil, time.Since(start))
	l.mu.Lock()
	_, stillIn := l.hs[h]
	delete(l.hs, h)
	if l.hsChanged != nil {
		l.hsChanged()
	}
	l.mu.Unlock()
	if err == nil && !stillIn {
		err = errors.New("evicted from the handshake budget")
	}
	if err != nil {
		l.log.Info("TLS handshake failed", "listener", l.name, "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	if !l.establish() {
		l.log.Info("refusing a connection: max_connections reached during its handshake", "listener", l.name, "remote", raw.RemoteAddr().String())
		tc.Close()
		return
	}
	// This goroutine goes on as the connection's reader (readAhead).
	if ra := newReadAhead(l.readAhead); l.enqueue(tc, ra) {
		ra.run(tc)
	}
}

// enqueue queues an established connection for sock_accept, with its
// read-ahead ra (not yet running): it waits for room in the backlog, gives
// the connection to a member (dispatch) and wakes that member. It reports
// false if the listener closed first (or every member is gone): then c is
// closed and its slot freed.
func (l *listenSock) enqueue(c net.Conn, ra *readAhead) bool {
	var peer []byte
	if l.identify != nil {
		peer = l.identify(c)
	}
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		c.Close()
		l.release()
		return false
	}
	l.mu.Lock()
	i := -1
	if !l.closed {
		i = l.dispatch()
	}
	if i < 0 {
		l.mu.Unlock()
		<-l.slots
		c.Close()
		l.release()
		return false
	}
	m := l.members[i]
	m.queue = append(m.queue, admitted{conn: c, peer: peer, ahead: ra, at: l.now()})
	l.armSteal()
	l.mu.Unlock()
	m.wake()
	return true
}

// dispatch chooses the member to give the next connection to (l.mu held):
// the one holding and queueing the fewest connections; among equals the
// first from turn on, and turn moves past it. It returns -1 if every
// member is gone.
func (l *listenSock) dispatch() int {
	best := -1
	n := len(l.members)
	for k := range n {
		i := (l.turn + k) % n
		if m := l.members[i]; !m.gone && (best < 0 || m.load() < l.members[best].load()) {
			best = i
		}
	}
	if best >= 0 {
		l.turn = (best + 1) % n
	}
	return best
}

// stale reports whether m's oldest queued connection may be taken by any
// member (l.mu held): at once if m is gone or waits in the host for
// something other than this listener (it cannot take the connection before
// that wait ends), else once it has waited stealAfter.
func (l *listenSock) stale(m *member, now time.Time) bool {
	return len(m.queue) > 0 && (m.gone || m.state == memberElsewhere || now.Sub(m.queue[0].at) >= l.stealAfter)
}

// setState records what member i's instance is doing. One that starts
// waiting elsewhere with connections queued wakes the members with none,
// which may take them now.
func (l *listenSock) setState(i, state int) {
	l.mu.Lock()
	m := l.members[i]
	m.state = state
	var ws []func()
	if state == memberElsewhere && len(m.queue) > 0 {
		ws = l.idleWakes() // m, with a queue, is not among them
	}
	if state != memberElsewhere && len(m.queue) > 0 {
		l.armSteal() // its queue is under the age rule again
	}
	l.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

// stealable returns the member other than i whose oldest connection is
// stale, the oldest of those, or -1 (l.mu held).
func (l *listenSock) stealable(i int) int {
	now, from := l.now(), -1
	for j, m := range l.members {
		if j != i && l.stale(m, now) && (from < 0 || m.queue[0].at.Before(l.members[from].queue[0].at)) {
			from = j
		}
	}
	return from
}

// armSteal makes sure a timer runs stealCheck when the oldest queued
// connection that is not yet stale becomes stale (l.mu held). Nothing is
// armed for one member: it has no one to share with.
func (l *listenSock) armSteal() {
	if len(l.members) < 2 || l.closed {
		return
	}
	now := l.now()
	var first time.Time
	for _, m := range l.members {
		if len(m.queue) > 0 && !l.stale(m, now) && (first.IsZero() || m.queue[0].at.Before(first)) {
			first = m.queue[0].at
		}
	}
	if first.IsZero() {
		return
	}
	at := first.Add(l.stealAfter)
	if l.steal != nil {
		if !l.stealAt.After(at) {
			return // armed early enough
		}
		l.steal.Stop()
	}
	l.stealN++
	n := l.stealN
	l.steal, l.stealAt = time.AfterFunc(at.Sub(now), func() { l.stealCheck(n) }), at
}

// stealCheck wakes every member with an empty queue when some queued
// connection has become stale, so that one waiting in poll_oneoff or
// sock_accept takes it, and re-arms the timer for the next. n is the
// timer's number (0: called directly).
func (l *listenSock) stealCheck(n uint64) {
	l.mu.Lock()
	if n != 0 && n != l.stealN {
		l.mu.Unlock()
		return // replaced by an earlier one
	}
	l.steal = nil
	now := l.now()
	anyStale := false
	for _, m := range l.members {
		anyStale = anyStale || l.stale(m, now)
	}
	var ws []func()
	if anyStale {
		ws = l.idleWakes()
	}
	l.armSteal()
	l.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

// idleWakes returns the wakes of the members still there whose queues are
// empty: those that may take a stale connection (l.mu held).
func (l *listenSock) idleWakes() []func() {
	var ws []func()
	for _, m := range l.members {
		if !m.gone && len(m.queue) == 0 {
			ws = append(ws, m.wake)
		}
	}
	return ws
}

// accept returns a connection queued for the first member (a listener of
// one instance), or nil if none is waiting.
func (l *listenSock) accept() (*admitted, error) { return l.acceptBy(0) }

// acceptBy returns the next connection for member i: its own oldest, else
// the oldest stale one of another member; nil if there is none.
func (l *listenSock) acceptBy(i int) (*admitted, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.members[i]
	from := i
	if len(m.queue) == 0 {
		if from = l.stealable(i); from < 0 {
			return nil, l.err
		}
	}
	q := l.members[from]
	a := q.queue[0]
	q.queue[0] = admitted{}
	q.queue = q.queue[1:]
	<-l.slots
	m.held++
	a.release = func() {
		l.mu.Lock()
		m.held--
		l.mu.Unlock()
		l.release()
	}
	return &a, nil
}

// leave takes member i out of dispatch (its fd is closed, or its instance
// ended): its queued connections go to the others, or are closed if none
// is left.
func (l *listenSock) leave(i int) {
	l.mu.Lock()
	m := l.members[i]
	m.gone = true
	q := m.queue
	m.queue = nil
	var ws []func()
	var orphans []admitted
	for _, a := range q {
		j := -1
		if !l.closed {
			j = l.dispatch()
		}
		if j < 0 {
			orphans = append(orphans, a)
			continue
		}
		l.members[j].queue = append(l.members[j].queue, a)
		ws = append(ws, l.members[j].wake)
	}
	l.armSteal()
	l.mu.Unlock()
	for _, a := range orphans {
		l.drop(a)
	}
	for _, w := range ws {
		w()
	}
}

// queued returns the connections waiting in every member's queue.
func (l *listenSock) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.members {
		n += len(m.queue)
	}
	return n
}

// release frees an established connection's slot.
func (l *listenSock) release() {
	l.mu.Lock()
	l.estab--
	l.mu.Unlock()
	select {
	case l.room <- struct{}{}:
	default:
	}
}

// readable reports whether the first member can accept now.
func (l *listenSock) readable() bool { return l.readableBy(0) }

// readableBy reports whether sock_accept by member i would return a
// connection (or fail) now: what poll_oneoff tells that instance.
func (l *listenSock) readableBy(i int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.members[i].queue) > 0 || l.stealable(i) >= 0 || l.err != nil
}

func (l *listenSock) setNonblock(b bool) { l.mu.Lock(); l.nonblock = b; l.mu.Unlock() }
func (l *listenSock) nonblocking() bool  { l.mu.Lock(); defer l.mu.Unlock(); return l.nonblock }

func (l *listenSock) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for h := range l.hs {
		h.conn.Close()
	}
	if l.steal != nil {
		l.steal.Stop()
		l.steal = nil
	}
	var queued []admitted
	for _, m := range l.members {
		queued = append(queued, m.queue...)
		m.queue = nil
	}
	l.mu.Unlock()
	close(l.done)
	err := l.ln.Close()
	for _, a := range queued {
		l.drop(a)
	}
	return err
}

// drop closes a connection taken out of a queue and frees its backlog
// and connection slots (l.mu not held).
func (l *listenSock) drop(a admitted) {
	<-l.slots
	a.conn.Close()
	a.ahead.in.close()
	l.release()
}

// connSock is a connected stream. A goroutine (readAhead.run) reads ahead
// into a bounded buffer (readBuf, up to readAheadMax or the socket's
// read_ahead) while the guest consumes it, and wakes the guest when data,
// EOF or an error arrives; EOF and errors reach the guest after the data
// before them. Writes go into a bounded write-behind buffer (writeBuf, up to
// writeBehindMax) that another goroutine (flush) writes to the connection,
// so that no guest call waits on the peer; that goroutine also closes the
// connection once the guest closed the socket and the data is written (or
// writeLinger passed).
type connSock struct {
	conn    net.Conn
	peer    []byte // the peer's verified identity (JSON), if any
	wake    func()
	release func() // frees the listener's connection slot, if any
	in      *readBuf
	out     *writeBuf
	pumped  chan struct{} // closed when the read-ahead returns

	mu       sync.Mutex
	nonblock bool
	closed   bool
	rdShut   bool
}

// newConnSock starts serving c. readAhead bounds its read-ahead (0:
// readAheadMax).
func newConnSock(c net.Conn, wake, release func(), readAhead int) *connSock {
	ra := newReadAhead(readAhead)
	s := newConnSockAhead(c, ra, wake, release)
	go ra.run(c)
	return s
}

// newConnSockAhead serves c, whose read-ahead ra is already running (an
// accepted connection, see admitted): from now on the data it reads wakes
// the guest through wake.
func newConnSockAhead(c net.Conn, ra *readAhead, wake, release func()) *connSock {
	ra.wake.Store(&wake)
	s := &connSock{conn: c, wake: wake, release: release, in: ra.in, out: newWriteBuf(writeBehindMax),
		pumped: ra.pumped}
	if p, ok := c.(*pollConn); ok {
		// Plain TCP: a write may go to the socket without a copy. Not
		// under TLS, whose Write must not stop half-way through a record.
		s.out.direct = p.writeOnce
	}
	go s.flush()
	return s
}

// flush writes behind the guest until the socket is closed and drained,
// then closes the connection and calls release (which frees its slot).
func (s *connSock) flush() {
	var closeWrite func() error
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		closeWrite = cw.CloseWrite
	}
	s.out.flush(s.conn, closeWrite, s.wake)
	s.conn.Close()
	if s.release != nil {
		s.release()
	}
}

// read copies waiting data into bufs. It returns n > 0, or (0, io.EOF) at
// the end, or (0, err), or (0, nil) when nothing is waiting yet.
func (s *connSock) read(bufs [][]byte, peek bool) (int, error) {
	if s.readShut() {
		return 0, io.EOF
	}
	return s.in.read(bufs, peek)
}

// pending returns the bytes waiting for the guest and whether the stream
// has ended with nothing left (poll_oneoff's nbytes and hangup flag).
func (s *connSock) pending() (n int, hup bool) { return s.in.buffered() }

func (s *connSock) readable() bool { return s.readShut() || s.in.readable() }

// writable reports whether a write would take data (or fail) now, and the
// room in the write-behind buffer.
func (s *connSock) writable() (bool, int) { return s.out.writable() }

func (s *connSock) readShut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rdShut
}

// write copies what fits of b into the write-behind buffer: (0, nil)
// means it is full.
func (s *connSock) write(b []byte) (int, error) { return s.out.write(b) }

func (s *connSock) shutdown(rd, wr bool) error {
	if rd {
		s.mu.Lock()
		s.rdShut = true
		s.mu.Unlock()
	}
	if wr {
		s.out.shutdown()
	}
	return nil
}

func (s *connSock) setNonblock(b bool) { s.mu.Lock(); s.nonblock = b; s.mu.Unlock() }
func (s *connSock) nonblocking() bool  { s.mu.Lock(); defer s.mu.Unlock(); return s.nonblock }

// close stops reading and lets flush write what is buffered, for at most
// writeLinger, and then close the connection.
func (s *connSock) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.in.close()
	if s.out.close() {
		s.conn.SetWriteDeadline(time.Now().Add(writeLinger))
	}
	return nil
}
