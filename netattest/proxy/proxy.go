package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepwasm/keep/netattest"
)

// WellKnownPath is where the HTTP proxy serves the keep's attestation.
const WellKnownPath = "/.well-known/keep-attestation"

// Defaults of Options.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultMaxConns    = 256
	DefaultRefusalTTL  = 5 * time.Second
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes idle keep-alive client connections.
	IdleTimeout = 2 * time.Minute
)

// maxReports bounds the cache of verification reports.
const maxReports = 256

// Options tune a Proxy; the zero value means the defaults.
type Options struct {
	// DialTimeout bounds dialling the keep and the TLS handshake,
	// verification included (default 10 s).
	DialTimeout time.Duration
	// MaxConns bounds the client connections served at once by Serve and
	// ServeTCP, and the connections to the keep (default 256). Further
	// clients wait in the listen queue.
	MaxConns int
	// ServerName is the SNI name sent to the keep; default the host of
	// KeepAddr when it is a name, none when it is an IP address.
	ServerName string
	// RefusalTTL is how long a refused certificate's report is reused
	// before it is verified again (default 5 s). Accepted certificates stay
	// accepted for as long as they are cached, as with netattest.Verifier.
	RefusalTTL time.Duration
	// Hosts are further names (without a port) that HTTP clients may use
	// for the proxy in their Host header, besides localhost, 127.0.0.1,
	// [::1] and the IP address they connected to. See Proxy.HostAllowed.
	Hosts []string
}

// Proxy forwards plaintext clients to the keep at KeepAddr over attested
// TLS. Set the exported fields before first use; a Proxy is safe for
// concurrent use.
type Proxy struct {
	// KeepAddr is the keep's TLS listener, HOST:PORT.
	KeepAddr string
	// Verifier holds the policy and the verification options (collateral,
	// legacy formats); nil means netattest's default policy.
	Verifier *netattest.Verifier
	Options  Options
	// Log receives the proxy's logs; nil discards them.
	Log *slog.Logger

	once      sync.Once
	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	rp        *httputil.ReverseProxy
	transport *http.Transport
	sessions  tls.ClientSessionCache // TLS sessions with the keep, resumed by later dials

	mu       sync.Mutex
	reports  map[[32]byte]*Attestation
	inflight map[[32]byte]*verifyCall
	closed   bool
	lns      map[net.Listener]struct{}
	conns    map[net.Conn]struct{}
	servers  map[*http.Server]struct{}
	wg       sync.WaitGroup // TCP bridges

	verifications atomic.Int64 // full verifications done, for tests
}

type verifyCall struct {
	done chan struct{}
	a    *Attestation
}

// Attestation is what the proxy established about the keep's
// certificate: the JSON of /.well-known/keep-attestation, which is
// netattest.Report (the schema keep verify --json prints too, documented
// in docs/ATTESTATION-JSON.md) with Keep and VerifiedAt set. The proxy
// forwards to the keep only when Accepted, which NewReport derives from the
// checks and the policy's verdict.
type Attestation struct {
	netattest.Report

	expires time.Time // refusals only: when to verify again
}

// Reason is the reasons joined into one line.
func (a *Attestation) Reason() string { return strings.Join(a.Reasons, "; ") }

func (a *Attestation) clone() *Attestation {
	c := *a
	c.Reasons = append([]string{}, a.Reasons...)
	c.NotPinned = append([]string{}, a.NotPinned...)
	c.Checks = append([]netattest.Check{}, a.Checks...)
	c.Advisories = append([]string(nil), a.Advisories...)
	c.Notes = append([]string(nil), a.Notes...)
	c.Measurements = make(map[string]string, len(a.Measurements))
	for k, v := range a.Measurements {
		c.Measurements[k] = v
	}
	if a.SVNs != nil {
		c.SVNs = make(map[string]uint64, len(a.SVNs))
		for k, v := range a.SVNs {
			c.SVNs[k] = v
		}
	}
	return &c
}

// newAttestation stamps a report with the keep's address and the time.
func (p *Proxy) newAttestation(r *netattest.Report) *Attestation {
	now := time.Now().UTC().Truncate(time.Second)
	r.Keep, r.VerifiedAt = p.KeepAddr, &now
	return &Attestation{Report: *r}
}

// RefusedError is returned when the keep's certificate failed verification
// or the policy. Nothing was sent to the keep.
type RefusedError struct {
	Attestation *Attestation
}

func (e *RefusedError) Error() string {
	what := "was refused by the policy"
	if !e.Attestation.Verified {
		what = "failed verification"
	}
	return fmt.Sprintf("the keep at %s %s: %s", e.Attestation.Keep, what, e.Attestation.Reason())
}

// UnreachableError is returned when the keep could not be dialled or the
// TLS handshake failed for a reason other than verification.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the keep at %s: %v", e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrClosed is returned by Serve and ServeTCP after Close.
var ErrClosed = errors.New("proxy: closed")

func (p *Proxy) init() {
	p.once.Do(func() {
		if p.Verifier == nil {
			p.Verifier = netattest.NewVerifier(nil, netattest.Options{})
		}
		if p.Log == nil {
			p.Log = slog.New(slog.DiscardHandler)
		}
		p.ctx, p.cancel = context.WithCancel(context.Background())
		p.reports = map[[32]byte]*Attestation{}
		p.inflight = map[[32]byte]*verifyCall{}
		p.lns = map[net.Listener]struct{}{}
		p.conns = map[net.Conn]struct{}{}
		p.sessions = tls.NewLRUClientSessionCache(sessionCacheSize)
		p.servers = map[*http.Server]struct{}{}
		p.transport = &http.Transport{
			Proxy: nil, // never an HTTP(S)_PROXY from the environment
			DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				c, _, err := p.Dial(ctx)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
			MaxConnsPerHost:     p.maxConns(),
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
		}
		target := &url.URL{Scheme: "https", Host: p.KeepAddr}
		p.rp = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.SetXForwarded()
			},
			Transport:    p.transport,
			ErrorHandler: p.proxyError,
			ErrorLog:     slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
		}
	})
}

func (p *Proxy) maxConns() int {
	if p.Options.MaxConns > 0 {
		return p.Options.MaxConns
	}
	return DefaultMaxConns
}

// sessionCacheSize is how many TLS sessions a proxy keeps for resumption.
const sessionCacheSize = 64

// tlsConfig is the client config of one dial. Sessions are resumed from
// earlier dials (a new connection then costs no signature from the keep
// and no verification of one here); crypto/tls calls VerifyConnection on
// a resumed connection too, with the certificate of the session's first
// handshake, so the policy still decides every connection. Only the keep
// that issued a session ticket can resume it (the ticket is sealed under
// keys that never leave that keep's process); any other server gets a
// full handshake and a fresh verification.
func (p *Proxy) tlsConfig(ctx context.Context, got **Attestation) *tls.Config {
	name := p.Options.ServerName
	if name == "" {
		if h, _, err := net.SplitHostPort(p.KeepAddr); err == nil && net.ParseIP(h) == nil {
			name = h
		}
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         name,
		ClientSessionCache: p.sessions,
		InsecureSkipVerify: true, // replaced by VerifyConnection: the evidence, not a CA, vouches for the key
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the keep presented no certificate")
			}
			a := p.verify(ctx, cs.PeerCertificates[0])
			*got = a
			if !a.Accepted {
				return &RefusedError{Attestation: a}
			}
			return nil
		},
	}
}

// Dial connects to the keep and completes a TLS handshake in which the
// keep's certificate is verified against the policy. It returns the
// connection and the certificate's attestation; on refusal the error is a
// *RefusedError (and the attestation says why), on any other failure an
// *UnreachableError with a nil attestation.
func (p *Proxy) Dial(ctx context.Context) (*tls.Conn, *Attestation, error) {
	p.init()
	timeout := p.Options.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", p.KeepAddr)
	if err != nil {
		return nil, nil, &UnreachableError{p.KeepAddr, err}
	}
	var a *Attestation
	tc := tls.Client(raw, p.tlsConfig(ctx, &a))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		if a != nil && !a.Accepted {
			return nil, a.clone(), &RefusedError{Attestation: a.clone()}
		}
		return nil, nil, &UnreachableError{p.KeepAddr, fmt.Errorf("TLS handshake: %w", err)}
	}
	if a == nil { // cannot happen: crypto/tls calls VerifyConnection on every handshake
		tc.Close()
		return nil, nil, &UnreachableError{p.KeepAddr, errors.New("TLS handshake did not verify the keep's certificate")}
	}
	return tc, a.clone(), nil
}

// verify returns the report for cert: cached by fingerprint (refusals for
// RefusalTTL), otherwise verified now, once however many handshakes wait
// for it.
func (p *Proxy) verify(ctx context.Context, cert *x509.Certificate) *Attestation {
	fp := sha256.Sum256(cert.Raw)
	p.mu.Lock()
	if a, ok := p.reports[fp]; ok && (a.expires.IsZero() || time.Now().Before(a.expires)) {
		p.mu.Unlock()
		return a
	}
	if c, ok := p.inflight[fp]; ok {
		p.mu.Unlock()
		select {
		case <-c.done:
			return c.a
		case <-ctx.Done():
			return p.refusedReport(fp, fmt.Errorf("waiting for verification: %w", ctx.Err()))
		}
	}
	c := &verifyCall{done: make(chan struct{})}
	p.inflight[fp] = c
	p.mu.Unlock()

	a := p.verifyNow(ctx, cert, fp)

	p.mu.Lock()
	delete(p.inflight, fp)
	if len(p.reports) >= maxReports {
		clear(p.reports)
	}
	p.reports[fp] = a
	p.mu.Unlock()
	defer func() {
		c.a = a
		close(c.done)
	}()

	if a.Accepted {
		p.Log.Info("keep verified", "keep", p.KeepAddr, "fingerprint", a.Fingerprint, "tee", a.TEE, "simulated", a.Simulated, "module_hash", a.ModuleHash, "not_pinned", strings.Join(a.NotPinned, "; "))
	} else {
		p.Log.Warn("keep refused: nothing is forwarded to it", "keep", p.KeepAddr, "fingerprint", a.Fingerprint, "reason", a.Reason())
		// Requests must not ride on connections opened before the refusal
		// was seen (the keep may have switched certificates).
		p.transport.CloseIdleConnections()
	}
	return a
}

func (p *Proxy) verifyNow(ctx context.Context, cert *x509.Certificate, fp [32]byte) *Attestation {
	p.verifications.Add(1)
	res, verdict := p.Verifier.Check(ctx, cert)
	a := p.newAttestation(netattest.NewReport(cert, res, verdict))
	if !a.Accepted {
		ttl := p.Options.RefusalTTL
		if ttl <= 0 {
			ttl = DefaultRefusalTTL
		}
		a.expires = time.Now().Add(ttl)
	}
	return a
}

// refusedReport is a report for a certificate whose verification could not
// be finished; it is not cached.
func (p *Proxy) refusedReport(fp [32]byte, err error) *Attestation {
	a := p.newAttestation(netattest.Unreachable(err.Error()))
	a.Fingerprint = "sha256:" + hex.EncodeToString(fp[:])
	return a
}

// Attestation does a fresh TLS handshake with the keep and returns the
// verification of the certificate it presented (from the cache if that
// certificate was verified before). It always returns an Attestation: for
// an unreachable keep one with Verified false and the reason. The error is
// non-nil exactly when the keep is not accepted.
func (p *Proxy) Attestation(ctx context.Context) (*Attestation, error) {
	c, a, err := p.Dial(ctx)
	if c != nil {
		c.Close()
	}
	if a == nil {
		a = p.newAttestation(netattest.Unreachable(err.Error()))
	}
	return a, err
}

// track registers a listener, connection or server for Close; it returns
// false (and closes x) when the proxy is already closed.
func (p *Proxy) track(x io.Closer) bool {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		x.Close()
		return false
	}
	switch v := x.(type) {
	case net.Listener:
		p.lns[v] = struct{}{}
	case net.Conn:
		p.conns[v] = struct{}{}
	case *http.Server:
		p.servers[v] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(x io.Closer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch v := x.(type) {
	case net.Listener:
		delete(p.lns, v)
	case net.Conn:
		delete(p.conns, v)
	case *http.Server:
		delete(p.servers, v)
	}
}

// Close stops Serve and ServeTCP: it closes their listeners and every
// client connection, and waits for the TCP bridges to end.
func (p *Proxy) Close() error {
	p.init()
	p.cancel()
	p.mu.Lock()
	p.closed = true
	var cs []io.Closer
	for l := range p.lns {
		cs = append(cs, l)
	}
	for c := range p.conns {
		cs = append(cs, c)
	}
	for s := range p.servers {
		cs = append(cs, s)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	p.wg.Wait()
	p.transport.CloseIdleConnections()
	return nil
}
