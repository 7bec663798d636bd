package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long keep waits, after a signal or --timeout ended the
// run's context, for the guest to return before it exits by itself. A guest
// is stopped at its next host call, or at once while it sleeps or waits on
// a socket, so the grace only matters for one that computes without host
// calls (guests are compiled without interrupt checks, see
// runtime.EngineConfig.Interruptible) or is blocked reading stdin.
const stopGrace = time.Second

// stopper ends a command on SIGINT, SIGTERM or --timeout. It cancels the
// command's context, which stops the guest; if the guest has not returned
// within stopGrace (at once on a second signal), keep prints the line it
// would have printed and exits with the same code (128+signal, or 124),
// leaving nothing else to flush: the guest's output goes straight to the
// process's streams. Exactly one of finish and that exit reports the end.
type stopper struct {
	stderr  io.Writer
	cancel  context.CancelFunc
	sigs    chan os.Signal
	running chan struct{} // closed by started
	done    chan struct{} // closed by finish
	// timeoutLine is printed when --timeout forces the exit.
	timeoutLine string
	// drain, if set, is called on the first SIGTERM instead of cancelling:
	// the run then ends by itself once its connections are done (see
	// runtime.Control.Drain), or is cancelled after drainTimeout.
	drain        func()
	drainTimeout time.Duration
	// module names the module in the line printed when a signal forces
	// the exit.
	module string

	runOnce sync.Once
	mu      sync.Mutex // held by whoever reports the end, until the exit
	sig     syscall.Signal
	over    bool
}

// watchStops starts watching for SIGINT and SIGTERM, and for the end of ctx
// (its --timeout), which cancel ends. timeoutLine is what to print if a
// timed-out guest does not return. Set the stopper's module before the
// first signal can arrive (keep run does, at once) to name it in messages.
func (c *cli) watchStops(ctx context.Context, cancel context.CancelFunc, timeoutLine string) *stopper {
	return c.watchStopsOf(ctx, cancel, "keep", timeoutLine)
}

// watchStopsOf is watchStops, naming module (or command) in its messages.
func (c *cli) watchStopsOf(ctx context.Context, cancel context.CancelFunc, module, timeoutLine string) *stopper {
	s := &stopper{
		stderr:       c.stderr,
		cancel:       cancel,
		sigs:         make(chan os.Signal, 2),
		running:      make(chan struct{}),
		done:         make(chan struct{}),
		timeoutLine:  timeoutLine,
		drain:        c.drain,
		drainTimeout: c.drainTimeout,
		module:       module,
	}
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM)
	go s.watch(ctx.Done())
	return s
}

// started tells that the guest runs. Until then (while the module
// compiles, which ends by itself and may store a cache entry) a --timeout
// does not force the exit; a signal does.
func (s *stopper) started() { s.runOnce.Do(func() { close(s.running) }) }

// finish tells that the guest returned, and gives the signal that stopped
// it, if any. If the grace period has already run out, keep is exiting:
// finish then never returns. It may be called more than once.
func (s *stopper) finish() syscall.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.over {
		s.over = true
		close(s.done)
	}
	return s.sig
}

func (s *stopper) watch(ctxDone <-chan struct{}) {
	var (
		grace    <-chan time.Time
		sig      syscall.Signal
		running  = s.running
		timedOut bool
		drained  <-chan time.Time // --drain-timeout, once a drain began
	)
	stopNow := func(g syscall.Signal) bool {
		sig = g
		s.mu.Lock()
		if s.over {
			s.mu.Unlock()
			return false
		}
		s.sig = sig
		s.mu.Unlock()
		s.cancel()
		grace = time.After(stopGrace) // a signal restarts a timeout's grace
		return true
	}
	startGrace := func() {
		if grace == nil {
			grace = time.After(stopGrace)
		}
	}
	for {
		select {
		case <-s.done:
			return
		case g := <-s.sigs:
			if sig != 0 {
				s.exit(exitSignal+int(sig), fmt.Sprintf("keep: %s: stopped by a second %s", s.module, signalName(g.(syscall.Signal)))) // at once
				return
			}
			if g == syscall.SIGTERM && s.drain != nil && drained == nil {
				// Kubernetes' way to stop a pod: stop accepting, let
				// open connections finish, then stop the guest.
				s.drain()
				fmt.Fprintf(s.stderr, "keep: %s: SIGTERM: draining: listeners closed; waiting up to %v for open connections\n", s.module, s.drainTimeout)
				drained = time.After(s.drainTimeout)
				continue
			}
			if !stopNow(g.(syscall.Signal)) {
				return
			}
		case <-drained:
			drained = make(chan time.Time) // never again
			fmt.Fprintf(s.stderr, "keep: %s: connections still open after --drain-timeout %v; stopping the module\n", s.module, s.drainTimeout)
			if !stopNow(syscall.SIGTERM) {
				return
			}
		case <-ctxDone:
			ctxDone = nil
			if sig == 0 { // not our own cancel: --timeout
				timedOut = true
				if running == nil {
					startGrace()
				}
			}
		case <-running:
			running = nil
			if timedOut {
				startGrace()
			}
		case <-grace:
			if sig != 0 {
				s.exit(exitSignal+int(sig), fmt.Sprintf("keep: %s: stopped by %s (the module did not return within %v; exiting)", s.module, signalName(sig), stopGrace))
			} else {
				s.exit(exitTimeout, s.timeoutLine)
			}
			return
		}
	}
}

// exit reports the end and exits the process, unless finish reported it
// first: then it returns.
func (s *stopper) exit(code int, line string) {
	s.mu.Lock() // not released if it exits: finish waits for the exit
	if s.over {
		s.mu.Unlock()
		return
	}
	s.over = true
	if line != "" {
		fmt.Fprintln(s.stderr, line)
	}
	os.Exit(code)
}

// signalName is the conventional name of the signals keep handles.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
