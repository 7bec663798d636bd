package health

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	running := Status{Phase: PhaseRunning, Listeners: []Listener{{Name: "api", Accepting: true}}}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("m 1\n")) })
	for _, tc := range []struct {
		name   string
		st     Status
		method string
		path   string
		log    func() ([]byte, error)
		code   int
		body   string
	}{
		{"healthz running", running, "GET", "/healthz", nil, 200, "ok: running\n"},
		{"healthz starting", Status{Phase: PhaseStarting}, "GET", "/healthz", nil, 200, "ok: starting\n"},
		{"healthz draining", Status{Phase: PhaseDraining}, "GET", "/healthz", nil, 200, "ok: draining\n"},
		{"healthz stopped", Status{Phase: PhaseStopped}, "GET", "/healthz", nil, 503, "not alive: phase stopped\n"},
		{"readyz running", running, "GET", "/readyz", nil, 200, "ok\n"},
		{"readyz head", running, "HEAD", "/readyz", nil, 200, ""},
		{"readyz starting", Status{Phase: PhaseStarting}, "GET", "/readyz", nil, 503, "not ready: phase starting\n"},
		{"readyz draining", Status{Phase: PhaseDraining}, "GET", "/readyz", nil, 503, "not ready: phase draining\n"},
		{"readyz listener down", Status{Phase: PhaseRunning, Listeners: []Listener{{Name: "api", Accepting: true}, {Name: "admin"}}}, "GET", "/readyz", nil, 503, "not ready: listeners not accepting: admin\n"},
		{"metrics", running, "GET", "/metrics", nil, 200, "m 1\n"},
		{"post", running, "POST", "/readyz", nil, 405, "method not allowed\n"},
		{"unknown path", running, "GET", "/", nil, 404, "404 page not found\n"},
		{"no event log", running, "GET", "/eventlog", nil, 404, "404 page not found\n"},
		{"event log", running, "GET", "/eventlog", func() ([]byte, error) { return []byte("{}\n"), nil }, 200, "{}\n"},
		{"event log error", running, "GET", "/eventlog", func() ([]byte, error) { return nil, errors.New("boom") }, 500, "event log: boom\n"},
		{"event log too big", running, "GET", "/eventlog", func() ([]byte, error) { return make([]byte, maxEventLog+1), nil }, 500, ""},
	} {
		s := &Server{Status: func() Status { return tc.st }, Metrics: metrics, EventLog: tc.log}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || (tc.body != "" && rec.Body.String() != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, rec.Code, rec.Body.String(), tc.code, tc.body)
		}
	}
}

// Listen serves over real HTTP and stops.
func TestListen(t *testing.T) {
	s := &Server{Status: func() Status { return Status{Phase: PhaseRunning} }}
	addr, stop, err := Listen("127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	stop()
	if _, err := http.Get("http://" + addr.String() + "/readyz"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("after stop: %v", err)
	}
	if _, _, err := Listen("127.0.0.1:-1", s); err == nil {
		t.Fatal("a bad address was accepted")
	}
}
