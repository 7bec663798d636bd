package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/keepwasm/keep/metrics"
	"github.com/keepwasm/keep/netattest"
)

// ErrDrained is returned by Module.Run when a drain (Control.Drain) ended
// the run: the listeners stopped accepting, every connection they had
// accepted was closed, and the guest was then stopped.
var ErrDrained = errors.New("drained: listeners closed and every connection finished")

// Phase is where a run is in its life.
type Phase string

// The phases of a run, in order; a run may skip Running (it failed or was
// drained before its guest started) or Draining.
const (
	PhaseStarting Phase = "starting" // compiling, opening sockets, issuing the certificate
	PhaseRunning  Phase = "running"  // the guest runs; its listeners accept
	PhaseDraining Phase = "draining" // listeners closed; waiting for open connections
	PhaseStopped  Phase = "stopped"  // the guest returned or was stopped
)

// ListenerStatus is one listener of a run, for health checks.
type ListenerStatus struct {
	Name      string
	Addr      string
	Accepting bool
	// Open is how many of its connections are not closed yet.
	Open int
}

// Status is a snapshot of a run, for health checks.
type Status struct {
	Phase     Phase
	Listeners []ListenerStatus
}

// Control lets the host watch a run (Status) and drain it (Drain). Give it
// to Module.Run through RunConfig.Control, for one run only. It is safe
// for concurrent use; a nil *Control does nothing.
type Control struct {
	mu        sync.Mutex
	phase     Phase
	listeners []*trackedListener
	open      int
	draining  bool
	stop      context.CancelCauseFunc // ends the run's context; nil until Run starts
	used      bool
}

// NewControl returns a Control for one run.
func NewControl() *Control { return &Control{phase: PhaseStarting} }

// Status returns the run's phase and its listeners.
func (c *Control) Status() Status {
	if c == nil {
		return Status{Phase: PhaseStarting}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Phase: c.phase}
	for _, l := range c.listeners {
		st.Listeners = append(st.Listeners, ListenerStatus{Name: l.name, Addr: l.Addr().String(), Accepting: !c.draining && l.failed == nil && c.phase == PhaseRunning, Open: l.open})
	}
	return st
}

// Drain stops the run gracefully: its listeners stop accepting (they are
// closed, so new clients are refused by the kernel; connections already
// accepted, even those the guest has not taken yet, stay), and once every
// connection they accepted is closed the guest is stopped and Run returns
// ErrDrained. The guest itself is not told: it goes on serving the open
// connections. Calling Drain again does nothing.
func (c *Control) Drain() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return
	}
	c.draining = true
	if c.phase == PhaseRunning || c.phase == PhaseStarting {
		c.phase = PhaseDraining
	}
	for _, l := range c.listeners {
		l.Listener.Close() // Accept blocks until the run closes the listener
	}
	c.checkDrainedLocked()
}

func (c *Control) checkDrainedLocked() {
	if c.draining && c.open == 0 && c.stop != nil {
		c.stop(ErrDrained)
	}
}

// begin binds the Control to one run and returns the run's context, which
// a drain ends.
func (c *Control) begin(ctx context.Context) (context.Context, error) {
	if c == nil {
		return ctx, nil
	}
	ctx, stop := context.WithCancelCause(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used {
		stop(nil)
		return nil, errors.New("runtime: a Control serves one run only")
	}
	c.used, c.stop = true, stop
	c.checkDrainedLocked() // drained before the run began
	return ctx, nil
}

// running tells that the guest starts.
func (c *Control) running() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == PhaseStarting {
		c.phase = PhaseRunning
	}
}

// end tells that the run is over.
func (c *Control) end() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase = PhaseStopped
	if c.stop != nil {
		c.stop(nil)
	}
}

// track wraps a bound listener (before any TLS) so that the Control counts
// its connections, can close it for a drain, and reports them to sink.
func (c *Control) track(ln net.Listener, name string, sink metrics.Sink) net.Listener {
	if c == nil {
		c = &Control{} // count for the metrics only; nobody drains
	}
	t := &trackedListener{Listener: ln, name: name, c: c, sink: metrics.Or(sink), closed: make(chan struct{})}
	c.mu.Lock()
	c.listeners = append(c.listeners, t)
	if c.draining {
		ln.Close()
	}
	c.mu.Unlock()
	return t
}

// trackedListener counts a listener's connections for its Control.
type trackedListener struct {
	net.Listener
	name string
	c    *Control
	sink metrics.Sink

	closeOnce sync.Once
	closed    chan struct{} // closed by Close (the end of the run)
	open      int           // guarded by c.mu
	failed    error         // guarded by c.mu: Accept failed for good
}

// Accept accepts a connection. Once a drain closed the listener, it waits
// for the end of the run instead of failing, so that the guest's accept
// goes on finding no new connection rather than an error (a Go guest's
// http.Serve would exit on one).
func (l *trackedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		l.c.mu.Lock()
		draining := l.c.draining
		var ne net.Error
		if !draining && !(errors.As(err, &ne) && ne.Timeout()) {
			l.failed = err
		}
		l.c.mu.Unlock()
		if draining {
			<-l.closed
			return nil, net.ErrClosed
		}
		return nil, err
	}
	l.c.mu.Lock()
	l.c.open++
	l.open++
	l.c.mu.Unlock()
	l.sink.ConnOpened(l.name)
	return &trackedConn{Conn: conn, l: l}, nil
}

// Close closes the listener, once.
func (l *trackedListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		err = l.Listener.Close()
		close(l.closed)
		if errors.Is(err, net.ErrClosed) {
			err = nil // a drain closed it first
		}
	})
	return err
}

// trackedConn is a connection of a trackedListener.
type trackedConn struct {
	net.Conn
	l    *trackedListener
	once sync.Once
}

// Close closes the connection and, the first time, counts it closed.
func (t *trackedConn) Close() error {
	err := t.Conn.Close()
	t.once.Do(func() {
		t.l.sink.ConnClosed(t.l.name)
		c := t.l.c
		c.mu.Lock()
		c.open--
		t.l.open--
		c.checkDrainedLocked()
		c.mu.Unlock()
	})
	return err
}

// SyscallConn returns the raw connection of the connection it wraps, when
// that has one (wasi.Pollable needs it).
func (t *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := t.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite half-closes the connection, when the one it wraps can.
func (t *trackedConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// observeVerification wraps a Verifier's VerifyConnection so that each
// check of a peer is counted by result, and whether the Verifier's cache
// answered.
func observeVerification(v *netattest.Verifier, sink metrics.Sink) func(tls.ConnectionState) error {
	sink = metrics.Or(sink)
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			sink.PeerVerified(metrics.ReasonNoCertificate, false)
			return v.VerifyConnection(cs)
		}
		_, cached := v.Peer(cs)
		err := v.VerifyConnection(cs)
		sink.PeerVerified(verificationReason(err), cached)
		return err
	}
}

// verificationReason maps a Verifier's error to a bounded reason.
func verificationReason(err error) string {
	switch {
	case err == nil:
		return metrics.ReasonAccepted
	case strings.HasPrefix(err.Error(), "policy refused"):
		return metrics.ReasonPolicy
	}
	return metrics.ReasonEvidence
}

// Run runs the module's entry point (_start, else its default export "")
// and returns its exit code: 0 when it returns, or the code given to
// proc_exit. A trap is a *TrapError. When ctx
// ends, the guest is stopped and the error wraps ctx.Err(): at once while
// it sleeps or waits on a socket, else at its next host call. A guest that
// computes without calling the host is stopped only if the Engine is
// Interruptible; otherwise Run returns when the guest does. When
// rc.Control drains the run, the error is ErrDrained.
func (m *Module) Run(ctx context.Context, rc RunConfig) (uint32, error) {
	rctx, err := rc.Control.begin(ctx)
	if err != nil {
		return 0, err
	}
	code, err := m.run(rctx, rc)
	rc.Control.end()
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(rctx), ErrDrained) {
		err = ErrDrained
	}
	var trap *TrapError
	switch {
	case err == nil:
		m.metrics.GuestEnded(metrics.OutcomeExit, code)
	case errors.As(err, &trap):
		m.metrics.GuestEnded(metrics.OutcomeTrap, 0)
	case rctx.Err() != nil:
		m.metrics.GuestEnded(metrics.OutcomeStopped, 0)
	}
	return code, err
}
