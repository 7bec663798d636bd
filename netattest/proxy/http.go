package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Handler returns the proxy as an http.Handler (the proxy itself).
func (p *Proxy) Handler() http.Handler {
	p.init()
	return p
}

// ServeHTTP answers GET /.well-known/keep-attestation itself and forwards
// every other request to the keep over an attested connection. When the
// keep is refused or unreachable it answers 502 with the reason, as JSON
// if the client asks for it (Accept: application/json), else as text.
//
// It answers only requests whose Host names the proxy itself (see
// HostAllowed); any other gets 421 Misdirected Request, so that a web page
// cannot reach the keep through a DNS name it controls (DNS rebinding).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	if ok, why := p.HostAllowed(r); !ok {
		p.Log.Warn("request refused: Host is not this proxy", "host", r.Host, "remote", r.RemoteAddr)
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Connection", "close")
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprintf(w, "421 Misdirected Request\n\n%s\n", why)
		return
	}
	if r.URL.Path == WellKnownPath {
		p.serveAttestation(w, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// loopbackNames are the names of this machine a Host header may use.
var loopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// HostAllowed reports whether r's Host header names this proxy: one of
// localhost, 127.0.0.1, [::1], the IP address the client connected to,
// or a name in Options.Hosts, with the port the client connected to (a
// Host without a port means port 80). Otherwise it says why not.
func (p *Proxy) HostAllowed(r *http.Request) (bool, string) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	tcp, ok := local.(*net.TCPAddr)
	if !ok {
		return false, "the proxy cannot tell which address this request came to"
	}
	port := strconv.Itoa(tcp.Port)
	host, hport := r.Host, "80"
	if h, pt, err := net.SplitHostPort(r.Host); err == nil {
		host, hport = h, pt
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	names := append(append([]string{tcp.IP.String()}, loopbackNames...), p.Options.Hosts...)
	self := net.JoinHostPort("localhost", port)
	if hport == port && host != "" && slices.ContainsFunc(names, func(n string) bool {
		return strings.TrimSuffix(strings.ToLower(strings.Trim(n, "[]")), ".") == host
	}) {
		return true, ""
	}
	return false, fmt.Sprintf("This proxy answers only requests for its own address (such as %s or %s); this one asked for Host %q. "+
		"Requests for other names are refused so that a web page cannot reach the keep through a DNS name it controls (DNS rebinding). "+
		"To use another name for this proxy, start it with --allow-host NAME.", self, net.JoinHostPort(tcp.IP.String(), port), r.Host)
}

// Serve serves HTTP on ln until Close, with ReadHeaderTimeout and at most
// Options.MaxConns client connections at once. It returns ErrClosed after
// Close.
func (p *Proxy) Serve(ln net.Listener) error {
	p.init()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(p.Log.Handler(), slog.LevelDebug),
	}
	if !p.track(srv) {
		ln.Close()
		return ErrClosed
	}
	defer p.untrack(srv)
	err := srv.Serve(newLimitListener(ln, p.maxConns()))
	if errors.Is(err, http.ErrServerClosed) {
		return ErrClosed
	}
	return err
}

func (p *Proxy) serveAttestation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Always 200: the body says whether the keep is accepted, so that a
	// page can show it either way.
	a, _ := p.Attestation(r.Context())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a)
}

// errorBody is the JSON of a 502.
type errorBody struct {
	Error       string       `json:"error"`
	Keep        string       `json:"keep"`
	Refused     bool         `json:"refused"`
	Reasons     []string     `json:"reasons"`
	Attestation *Attestation `json:"attestation,omitempty"`
}

// proxyError is the ReverseProxy's ErrorHandler.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	body := errorBody{Error: err.Error(), Keep: p.KeepAddr, Reasons: []string{}}
	var refused *RefusedError
	var unreachable *UnreachableError
	var summary string
	switch {
	case errors.As(err, &refused):
		a := refused.Attestation
		body.Error, body.Refused, body.Reasons, body.Attestation = refused.Error(), true, a.Reasons, a
		if a.Verified {
			summary = fmt.Sprintf("The keep at %s was refused by this proxy's policy; nothing was forwarded to it.", p.KeepAddr)
		} else {
			summary = fmt.Sprintf("The keep at %s failed attestation (its RA-TLS certificate did not verify); nothing was forwarded to it.", p.KeepAddr)
		}
		p.Log.Debug("request not forwarded: keep refused", "method", r.Method, "path", r.URL.Path, "reason", a.Reason())
	case errors.As(err, &unreachable):
		body.Error, body.Reasons = unreachable.Error(), []string{unreachable.Error()}
		summary = fmt.Sprintf("Cannot reach the keep at %s.", p.KeepAddr)
		p.Log.Warn("request not forwarded: keep unreachable", "method", r.Method, "path", r.URL.Path, "err", unreachable.Err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		p.Log.Debug("client went away", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(http.StatusBadGateway)
		return
	default:
		body.Error = "error talking to the keep at " + p.KeepAddr + ": " + err.Error()
		body.Reasons = []string{body.Error}
		summary = fmt.Sprintf("Error talking to the keep at %s.", p.KeepAddr)
		p.Log.Warn("proxying failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusBadGateway, body)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "502 Bad Gateway\n\n%s\n\n", summary)
	for _, reason := range body.Reasons {
		fmt.Fprintf(&b, "  - %s\n", reason)
	}
	if body.Refused {
		fmt.Fprintf(&b, "\nThe keep's attestation: GET %s\n", WellKnownPath)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprint(w, b.String())
}

func wantsJSON(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(buf, '\n'))
}
