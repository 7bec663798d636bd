package runtime

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/tetratelabs/wazero"

	keepwasi "github.com/keepwasm/keep/wasi"
)

// InstanceError is how a run of several instances (RunConfig.Instances >
// 1) reports the instance that ended it: Err is what that instance's run
// returned (a *TrapError, a *LinkError, ...). A run of one instance
// returns its error unwrapped.
type InstanceError struct {
	// Index is the instance's number, from 0.
	Index int
	Err   error
}

func (e *InstanceError) Error() string { return fmt.Sprintf("instance %d: %v", e.Index, e.Err) }
func (e *InstanceError) Unwrap() error { return e.Err }

// instances returns how many instances the run has: RunConfig.Instances,
// else the config's `instances`, else 1.
func (rc RunConfig) instances() (int, error) {
	n := 1
	if rc.Config != nil && rc.Config.Instances > 0 {
		n = rc.Config.Instances
	}
	if rc.Instances != 0 {
		if err := CheckInstances("instances", int64(rc.Instances)); err != nil {
			return 0, err
		}
		n = rc.Instances
	}
	if n > 1 && rc.Config != nil {
		for i, f := range rc.Config.Files {
			if f.Kind == KindConnect {
				return 0, fmt.Errorf("instances = %d: files[%d] is a connect socket, which one instance only can own; use instances = 1", n, i)
			}
		}
	}
	return n, nil
}

// instances runs len(socks) instances of the module, each with its own
// memory and WASI state (mc, and its socks[i]); only instance 0 reads
// stdin. An instance that exits 0 ends alone; the first to end otherwise
// (a non-zero exit, a trap, a link error) stops the others, and its result,
// with its index, is the run's. See docs/RATIONALE.md, "Instances".
func (m *Module) instances(ctx context.Context, rc RunConfig, mc wazero.ModuleConfig, stdin io.Reader, socks []*keepwasi.Sockets) (uint32, error) {
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		i    int
		code uint32
		err  error
	}
	results := make(chan result, len(socks))
	for i, s := range socks {
		imc := mc
		if i == 0 && stdin != nil {
			imc = mc.WithStdin(stdin)
		}
		go func() {
			code, err := m.instance(keepwasi.WithSockets(ictx, s), rc, imc)
			// Its connections end with it; the listeners stay with the
			// other instances.
			s.Close()
			results <- result{i, code, err}
		}()
	}
	var first *result
	for range socks {
		r := <-results
		switch {
		case first != nil:
			// Stopped by the first, or ended meanwhile: already decided.
		case ctx.Err() != nil:
			// The run was stopped from outside (timeout, signal, drain):
			// that, not an instance, ends it.
			first = &r
		case r.err == nil && r.code == 0:
			m.log.Info(fmt.Sprintf("instance %d: exited 0", r.i))
		default:
			if r.err != nil {
				r.err = &InstanceError{Index: r.i, Err: r.err}
				m.log.Error(r.err.Error())
			} else {
				m.log.Error(fmt.Sprintf("instance %d: exited with code %d", r.i, r.code))
			}
			first = &r
			stop()
		}
	}
	if first == nil {
		return 0, nil
	}
	if ctx.Err() != nil && first.err == nil {
		return 0, fmt.Errorf("stopped: %w", ctx.Err())
	}
	return first.code, first.err
}

// lockWriter serialises writes to w with mu (nil for a nil w).
func lockWriter(mu *sync.Mutex, w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return &lockedWriter{mu: mu, w: w}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
