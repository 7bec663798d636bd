package runtime

import (
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/metrics"
	"github.com/keepwasm/keep/netattest"
)

// countSink records the connection events of metrics.Sink.
type countSink struct {
	metrics.Sink
	mu             sync.Mutex
	opened, closed int
	reasons        []string
}

func (c *countSink) ConnOpened(string) { c.mu.Lock(); c.opened++; c.mu.Unlock() }
func (c *countSink) ConnClosed(string) { c.mu.Lock(); c.closed++; c.mu.Unlock() }
func (c *countSink) PeerVerified(r string, cached bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached {
		r += "/cached"
	}
	c.reasons = append(c.reasons, r)
}

// A drain closes the listener (new clients are refused), keeps Accept
// waiting rather than failing, and ends the run's context with ErrDrained
// once the last open connection closes, not before.
func TestControlDrain(t *testing.T) {
	ctl := NewControl()
	sink := &countSink{Sink: metrics.Discard()}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := ctl.track(inner, "api", sink)
	ctx, err := ctl.begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := ctl.Status(); st.Phase != PhaseStarting || st.Listeners[0].Accepting {
		t.Fatalf("before the guest runs: %+v", st)
	}
	ctl.running()
	if st := ctl.Status(); st.Phase != PhaseRunning || !st.Listeners[0].Accepting {
		t.Fatalf("running: %+v", st)
	}

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() { _, err := ln.Accept(); accepted <- err }()

	ctl.Drain()
	ctl.Drain() // again: nothing more
	st := ctl.Status()
	if st.Phase != PhaseDraining || st.Listeners[0].Accepting || st.Listeners[0].Open != 1 {
		t.Fatalf("draining: %+v", st)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while draining: %v, want refused", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run ended with a connection open")
	}
	select {
	case err := <-accepted:
		t.Fatalf("Accept returned %v while draining; it must wait for the end of the run", err)
	default:
	}
	server.Close()
	server.Close() // counted once
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), ErrDrained) {
		t.Fatalf("cause %v, want ErrDrained", context.Cause(ctx))
	}
	ln.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the run: %v", err)
	}
	ctl.end()
	if ctl.Status().Phase != PhaseStopped {
		t.Fatal("not stopped")
	}
	if sink.opened != 1 || sink.closed != 1 {
		t.Fatalf("opened %d closed %d, want 1 1", sink.opened, sink.closed)
	}
	if _, err := ctl.begin(context.Background()); err == nil {
		t.Fatal("a Control served a second run")
	}
}

// A drain before the run begins (SIGTERM while compiling) ends it at once.
func TestControlDrainBeforeRun(t *testing.T) {
	ctl := NewControl()
	ctl.Drain()
	ctx, err := ctl.begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(ctx), ErrDrained) {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	var nilCtl *Control
	nilCtl.Drain()
	nilCtl.running()
	if c, err := nilCtl.begin(context.Background()); err != nil || c.Err() != nil {
		t.Fatal("a nil Control changed the run")
	}
}

// Peers are counted by a bounded reason: accepted (then cached), refused
// by the policy, or failed verification.
func TestObserveVerification(t *testing.T) {
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("peer"))
	id, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{id.Certificate}}
	other := sha512.Sum384([]byte("other"))
	sink := &countSink{Sink: metrics.Discard()}
	accept := observeVerification(netattest.NewVerifier(&netattest.Policy{AllowSimulated: true}, netattest.Options{}), sink)
	refuse := observeVerification(netattest.NewVerifier(&netattest.Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + hex.EncodeToString(other[:])}}, netattest.Options{}), sink)
	simRefused := observeVerification(netattest.NewVerifier(&netattest.Policy{}, netattest.Options{}), sink)
	if accept(cs) != nil || accept(cs) != nil {
		t.Fatal("refused")
	}
	if refuse(cs) == nil {
		t.Fatal("a policy pinning another module accepted")
	}
	if simRefused(cs) == nil {
		t.Fatal("the default policy accepted sim evidence")
	}
	self := &x509.Certificate{Raw: []byte("not a certificate")}
	if accept(tls.ConnectionState{PeerCertificates: []*x509.Certificate{self}}) == nil {
		t.Fatal("garbage accepted")
	}
	if accept(tls.ConnectionState{}) == nil {
		t.Fatal("no certificate accepted")
	}
	want := []string{"accepted", "accepted/cached", "policy", "policy", "evidence", "no_certificate"}
	if len(sink.reasons) != len(want) {
		t.Fatalf("reasons %v, want %v", sink.reasons, want)
	}
	for i := range want {
		if sink.reasons[i] != want[i] {
			t.Fatalf("reasons %v, want %v", sink.reasons, want)
		}
	}

}

// eventSink records the engine's events of metrics.Sink.
type eventSink struct {
	metrics.Sink
	mu     sync.Mutex
	events []string
}

func (e *eventSink) add(s string) { e.mu.Lock(); e.events = append(e.events, s); e.mu.Unlock() }
func (e *eventSink) CacheLookup(hit bool) {
	e.add(map[bool]string{true: "cache hit", false: "cache miss"}[hit])
}
func (e *eventSink) GuestEnded(outcome string, code uint32) {
	e.add(outcome + " " + strconv.Itoa(int(code)))
}

// The engine reports disk cache lookups and how each run ended.
func TestEngineMetrics(t *testing.T) {
	dir := t.TempDir()
	cache, err := OpenDiskCache(filepath.Join(dir, "cache"), filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	sink := &eventSink{Sink: metrics.Discard()}
	e := newEngine(t, EngineConfig{Cache: cache, Metrics: sink})
	exit7 := wat(t, watExit(7))
	for range 2 {
		m := compile(t, e, "exit.wasm", exit7)
		if code, err := m.Run(context.Background(), RunConfig{}); err != nil || code != 7 {
			t.Fatalf("run: %d, %v", code, err)
		}
	}
	trap := compile(t, e, "trap.wasm", wat(t, watTrap))
	var te *TrapError
	if _, err := trap.Run(context.Background(), RunConfig{}); !errors.As(err, &te) {
		t.Fatalf("trap run: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := trap.Run(ctx, RunConfig{}); err == nil {
		t.Fatal("a cancelled run ran")
	}
	want := []string{"cache miss", "exit 7", "cache hit", "exit 7", "cache miss", "trap 0", "stopped 0"}
	if strings.Join(sink.events, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %q, want %q", sink.events, want)
	}
}
