package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Phases a Status reports (the runtime's phases of a run).
const (
	PhaseStarting = "starting"
	PhaseRunning  = "running"
	PhaseDraining = "draining"
	PhaseStopped  = "stopped"
)

// Listener is one of the keep's listeners.
type Listener struct {
	Name      string
	Accepting bool
}

// Status is the keep's state at one moment.
type Status struct {
	// Phase is one of the Phase constants.
	Phase     string
	Listeners []Listener
}

// Live reports whether the keep is alive: its guest has not ended.
func (s Status) Live() bool { return s.Phase != PhaseStopped }

// Ready returns nil when the keep should get traffic: its guest runs and
// every listener accepts; otherwise why not.
func (s Status) Ready() error {
	if s.Phase != PhaseRunning {
		return fmt.Errorf("phase %s", s.Phase)
	}
	var down []string
	for _, l := range s.Listeners {
		if !l.Accepting {
			down = append(down, l.Name)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("listeners not accepting: %s", strings.Join(down, ", "))
	}
	return nil
}

// maxEventLog bounds what /eventlog serves.
const maxEventLog = 1 << 20

// Server is the handler of the operational endpoints.
type Server struct {
	// Status tells the keep's state; required.
	Status func() Status
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// EventLog returns the event log served at /eventlog; nil answers 404.
	EventLog func() ([]byte, error)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/healthz":
		st := s.Status()
		if !st.Live() {
			plain(w, http.StatusServiceUnavailable, "not alive: phase "+st.Phase)
			return
		}
		plain(w, http.StatusOK, "ok: "+st.Phase)
	case "/readyz":
		if err := s.Status().Ready(); err != nil {
			plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		plain(w, http.StatusOK, "ok")
	case "/metrics":
		if s.Metrics == nil {
			http.NotFound(w, r)
			return
		}
		s.Metrics.ServeHTTP(w, r)
	case "/eventlog":
		if s.EventLog == nil {
			http.NotFound(w, r)
			return
		}
		b, err := s.EventLog()
		if err != nil {
			plain(w, http.StatusInternalServerError, "event log: "+err.Error())
			return
		}
		if len(b) > maxEventLog {
			plain(w, http.StatusInternalServerError, fmt.Sprintf("event log: %d bytes is more than %d", len(b), maxEventLog))
			return
		}
		w.Header().Set("Content-Type", "application/jsonl")
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// Listen starts serving h on addr (host:port; port 0 picks one) in the
// background and returns the bound address and a function that stops the
// server.
func Listen(addr string, h http.Handler) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // ErrServerClosed after stop; otherwise probes fail, which is the signal
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}
	return ln.Addr(), stop, nil
}
