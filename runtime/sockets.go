package runtime

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing/fstest"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/metrics"
	"github.com/keepwasm/keep/netattest"
	"github.com/keepwasm/keep/wasi"
)

// dialTimeout bounds connecting a connect socket at start.
const dialTimeout = 30 * time.Second

// OCIOrigin is where a module fetched from an OCI registry came from
// (RunConfig.OCI); it becomes claims in the keep's RA-TLS certificate.
type OCIOrigin = netattest.OCIOrigin

// socketPlan is what a run's sockets need besides the config.
type socketPlan struct {
	cfg      *Config
	attester keeps.Attester
	digest   Digest
	oci      *netattest.OCIOrigin
	log      *slog.Logger
	ctl      *Control     // counts and drains listeners' connections (control.go)
	metrics  metrics.Sink // never nil
	// goRuntime: the module was built by Go (IsGoWasip1), so its socket
	// fds start non-blocking unless the config says otherwise.
	goRuntime bool
	// instances is how many instances share the listeners (0 or 1: one).
	instances int
}

// nonblock returns the mode f's fd starts in: the config's nonblock key
// if given, else non-blocking for Go's runtime and blocking (as Enarx)
// for everything else. See docs/RATIONALE.md, "Socket start mode".
func (p socketPlan) nonblock(f File) bool {
	if f.Nonblock != nil {
		return *f.Nonblock
	}
	return p.goRuntime
}

// maxSectionScan bounds how many sections IsGoWasip1 looks at.
const maxSectionScan = 64

// IsGoWasip1 reports whether wasm was linked by Go's toolchain: Go's wasm
// linker writes a custom section named "go:buildid" (cmd/link,
// internal/wasm: writeBuildID), before the type section. Only the section
// headers are read (custom section: id 0, u32 size, name as a vec(byte);
// WebAssembly core spec, "Binary Format / Modules / Sections").
func IsGoWasip1(wasm []byte) bool {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return false
	}
	b := wasm[8:]
	for i := 0; i < maxSectionScan && len(b) > 0; i++ {
		id := b[0]
		size, n := uleb32(b[1:])
		if n == 0 || uint64(size) > uint64(len(b)-1-n) {
			return false
		}
		body := b[1+n : 1+n+int(size)]
		b = b[1+n+int(size):]
		if id != 0 {
			continue
		}
		nameLen, m := uleb32(body)
		if m == 0 || uint64(nameLen) > uint64(len(body)-m) {
			return false
		}
		if string(body[m:m+int(nameLen)]) == "go:buildid" {
			return true
		}
	}
	return false
}

// uleb32 decodes an unsigned LEB128 u32; n is 0 if b does not start with
// one.
func uleb32(b []byte) (v uint32, n int) {
	var shift uint
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint32(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			if i == 4 && b[i] > 0x0f {
				return 0, 0
			}
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// Sockets holds a run's open sockets and the keep's identity.
type runSockets struct {
	// sockets holds each instance's socket state, by instance.
	sockets  []*wasi.Sockets
	identity *netattest.Identity
	// Addrs are the listeners' bound addresses, by fd.
	addrs map[uint32]net.Addr
	// steward, when the config names one, holds the CA-issued
	// certificate that TLS listeners and web-PKI connects present.
	steward *stewardClient
	stop    context.CancelFunc
}

// close closes the sockets and stops renewing the certificate.
func (rs *runSockets) close() error {
	if rs.stop != nil {
		rs.stop()
	}
	var errs []error
	for _, s := range rs.sockets {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// hasTLS reports whether the config declares TLS listen or connect fds.
func (c *Config) hasTLS() bool {
	for _, f := range c.Files {
		if (f.Kind == KindListen || f.Kind == KindConnect) && f.Prot == ProtTLS {
			return true
		}
	}
	return false
}

// hasSockets reports whether the config declares listen or connect fds.
func (c *Config) hasSockets() bool {
	for _, f := range c.Files {
		if f.Kind == KindListen || f.Kind == KindConnect {
			return true
		}
	}
	return false
}

// placeholderMounts returns empty directories to preopen in wazero at each
// socket position (3 .. len(Files)-1), so that wazero never gives those fd
// numbers to anything else. Keep's WASI layer answers for them.
func (c *Config) placeholderMounts() []fs.FS {
	var out []fs.FS
	for i := 3; i < len(c.Files); i++ {
		out = append(out, fstest.MapFS{})
	}
	return out
}

// open binds listeners and dials connections. On error, everything opened
// so far is closed.
func (p socketPlan) open(ctx context.Context) (_ *runSockets, err error) {
	rs := &runSockets{addrs: map[uint32]net.Addr{}}
	var ls []wasi.Listener
	var cs []wasi.Conn
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				c()
			}
		}
	}()
	needIdentity := false
	for _, f := range p.cfg.Files {
		if f.Prot == ProtTLS && (f.Kind == KindListen || f.Policy != "") {
			needIdentity = true // served by listeners, presented to attested peers
		}
	}
	if needIdentity {
		if p.attester == nil {
			return nil, errors.New("a TLS listener or attested connect needs an attester (TEE backend)")
		}
		opts := netattest.IssueOptions{ModuleDigest: p.digest[:], ConfigDigest: p.cfg.Digest[:], DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, OCI: p.oci}
		id, err := netattest.Issue(ctx, p.attester, opts)
		if err != nil {
			return nil, fmt.Errorf("issuing the keep's RA-TLS certificate: %w", err)
		}
		rs.identity = id
		p.log.Info("RA-TLS certificate issued", "tee", id.TEE, "module", p.digest.String(), "fingerprint", fmt.Sprintf("%x", sha256Sum(id.Certificate.Raw)))
	}
	if p.cfg.Steward != "" && p.cfg.hasTLS() {
		sc, err := p.newStewardClient()
		if err != nil {
			return nil, &ConfigError{Path: p.cfg.Path, Line: p.cfg.stewardLine, Msg: err.Error()}
		}
		if p.attester == nil {
			return nil, errors.New("steward: the certificate request needs an attester (TEE backend)")
		}
		if err := sc.start(ctx, p.cfg.StewardOpts.Timeout); err != nil {
			return nil, err
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		rs.steward, rs.stop = sc, cancel
		closers = append(closers, func() error { cancel(); return nil })
		go sc.renew(rctx)
	}
	for i, f := range p.cfg.Files {
		fd := uint32(i)
		where := func(err error) error {
			return &ConfigError{Path: p.cfg.Path, Line: f.Line, Msg: fmt.Sprintf("files[%d] (%s %s): %v", i, f.Kind, f.Name, err)}
		}
		switch f.Kind {
		case KindListen:
			addr := net.JoinHostPort(f.Addr, strconv.Itoa(int(f.Port)))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, where(err)
			}
			ln = p.ctl.track(ln, f.Name, p.metrics)
			closers = append(closers, ln.Close)
			rs.addrs[fd] = ln.Addr()
			// Under TLS, if any: the connection socket then reads
			// without holding a buffer while the peer is silent.
			ln = wasi.PollableListener(ln)
			var identify func(net.Conn) []byte
			if f.Prot == ProtTLS {
				tc, v, err := p.serverTLS(rs.identity, f)
				if err != nil {
					return nil, where(err)
				}
				tc.MinVersion = f.minTLS()
				if rs.steward != nil {
					tc.Certificates, tc.GetCertificate = nil, rs.steward.getCertificate
				}
				ln = tls.NewListener(ln, tc)
				if f.ClientAuth != "" {
					identify = peerIdentity(v)
				}
			}
			p.log.Info("listening", "fd", fd, "name", f.Name, "prot", f.Prot, "addr", rs.addrs[fd].String())
			ls = append(ls, wasi.Listener{FD: fd, Name: f.Name, Listener: ln, MaxConns: f.MaxConnections, HandshakeTimeout: f.HandshakeTimeout, Identify: identify, Metrics: p.metrics, Nonblock: p.nonblock(f), ReadAhead: f.ReadAhead})
		case KindConnect:
			conn, err := p.dial(ctx, f, rs.identity, rs.steward)
			if err != nil {
				return nil, where(err)
			}
			closers = append(closers, conn.Close)
			p.log.Info("connected", "fd", fd, "name", f.Name, "prot", f.Prot, "remote", conn.RemoteAddr().String())
			cs = append(cs, wasi.Conn{FD: fd, Name: f.Name, Conn: conn, Nonblock: p.nonblock(f), ReadAhead: f.ReadAhead})
		}
	}
	if p.instances > 1 {
		if len(cs) > 0 {
			return nil, errors.New("connect sockets need instances = 1") // refused by ParseConfig and run first
		}
		rs.sockets = wasi.NewSharedSockets(ls, p.instances, p.log)
		return rs, nil
	}
	rs.sockets = []*wasi.Sockets{wasi.NewSockets(ls, cs, p.log)}
	return rs, nil
}

func (p socketPlan) path(rel string) string {
	if filepath.IsAbs(rel) || p.cfg.Path == "" {
		return rel
	}
	return filepath.Join(filepath.Dir(p.cfg.Path), rel)
}

// maxClientCASize bounds a client_ca file (PEM certificates).
const maxClientCASize = 1 << 20

// serverTLS is the tls.Config of a TLS listener: the keep's RA-TLS
// identity, and client authentication as configured. For attested clients
// it also returns the Verifier that holds their verified claims.
func (p socketPlan) serverTLS(id *netattest.Identity, f File) (*tls.Config, *netattest.Verifier, error) {
	switch f.ClientAuth {
	case "attested":
		// The policy file's [collateral] and allow_network apply, as
		// they do for keep verify and keep proxy.
		path := ""
		if f.ClientPolicy != "" {
			path = p.path(f.ClientPolicy)
		}
		v, err := netattest.LoadVerifier(path, netattest.Overrides{})
		if err != nil {
			return nil, nil, fmt.Errorf("client_policy: %w", err)
		}
		c := netattest.ServerConfig(id, v)
		c.VerifyConnection = observeVerification(v, p.metrics)
		return c, v, nil
	case "ca":
		pemData, err := netattest.ReadFileLimited(p.path(f.ClientCA), maxClientCASize)
		if err != nil {
			return nil, nil, fmt.Errorf("client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, nil, fmt.Errorf("client_ca %s: no PEM certificates", f.ClientCA)
		}
		c := netattest.ServerConfig(id, nil)
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, pool
		return c, nil, nil
	}
	return netattest.ServerConfig(id, nil), nil, nil
}

// PeerIdentity is what a guest learns about a verified client through
// keep.peer_identity, as JSON.
type PeerIdentity struct {
	// Auth is "attested" or "ca".
	Auth string `json:"auth"`
	// Subject and Fingerprint (sha256 of the DER) name the certificate.
	Subject     string `json:"subject"`
	Fingerprint string `json:"fingerprint"`
	// The rest is set for attested peers.
	TEE          string            `json:"tee,omitempty"`
	Simulated    bool              `json:"simulated,omitempty"`
	Debug        bool              `json:"debug,omitempty"`
	ModuleHash   string            `json:"module_hash,omitempty"`
	ConfigHash   string            `json:"config_hash,omitempty"`
	Measurements map[string]string `json:"measurements,omitempty"`
}

func peerIdentity(v *netattest.Verifier) func(net.Conn) []byte {
	return func(c net.Conn) []byte {
		tc, ok := c.(*tls.Conn)
		if !ok {
			return nil
		}
		cs := tc.ConnectionState()
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		cert := cs.PeerCertificates[0]
		fp := sha256.Sum256(cert.Raw)
		id := PeerIdentity{Auth: "ca", Subject: cert.Subject.String(), Fingerprint: "sha256:" + hex.EncodeToString(fp[:])}
		if v != nil {
			p, ok := v.Peer(cs)
			if !ok {
				return nil
			}
			id.Auth = "attested"
			if ec := p.Attested.Evidence(); ec != nil {
				id.TEE, id.Simulated, id.Debug = string(ec.TEE), ec.Simulated, ec.Debug
				id.Measurements = map[string]string{}
				for k, m := range ec.Measurements {
					id.Measurements[k] = hex.EncodeToString(m)
				}
			}
			if h := p.ModuleHash(); h != nil {
				id.ModuleHash = h.String()
			}
			if h := p.Attested.ConfigHash(); h != nil {
				id.ConfigHash = h.String()
			}
		}
		b, _ := json.Marshal(id)
		return b
	}
}

// dial connects a connect socket: plain TCP, TLS checked against a policy
// (keep-to-keep), or TLS checked with the web PKI.
//
// An attested connect (one with a policy) presents the keep's own RA-TLS
// certificate, so a peer keep with client_auth = "attested" can check it.
//
// With a steward, a web-PKI connect presents the CA-issued certificate;
// an attested connect still presents the self-signed RA-TLS certificate,
// which RA-TLS verifiers check.
func (p socketPlan) dial(ctx context.Context, f File, id *netattest.Identity, sc *stewardClient) (net.Conn, error) {
	host := f.Host
	if host == "localhost" { // as Enarx: localhost means 127.0.0.1
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(f.Port)))
	d := &net.Dialer{Timeout: dialTimeout}
	if f.Prot == ProtTCP {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return wasi.Pollable(conn), nil
	}
	var tc *tls.Config
	if f.Policy != "" {
		v, err := netattest.LoadVerifier(p.path(f.Policy), netattest.Overrides{})
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		tc = v.ClientConfig(id)
		tc.VerifyConnection = observeVerification(v, p.metrics)
	} else {
		tc = &tls.Config{ServerName: f.Host}
		if sc != nil {
			tc.GetClientCertificate = sc.getClientCertificate
		}
	}
	tc.MinVersion = f.minTLS()
	conn, err := dialTLS(ctx, d, addr, host, tc)
	if rh := (tls.RecordHeaderError{}); errors.As(err, &rh) {
		return nil, fmt.Errorf("%s does not speak TLS (its first bytes are no TLS record; if it is plain TCP, say prot = \"tcp\"): %w", addr, err)
	}
	return conn, err
}

// dialTLS is tls.Dialer.DialContext (d's timeout covers the connection
// and the handshake; ServerName defaults to host) with the TCP connection
// made wasi.Pollable under TLS, so that the connect socket reads it
// without holding a buffer while the peer is silent.
func dialTLS(ctx context.Context, d *net.Dialer, addr, host string, tc *tls.Config) (net.Conn, error) {
	if d.Timeout != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc.ServerName == "" {
		tc = tc.Clone()
		tc.ServerName = host
	}
	conn := tls.Client(wasi.Pollable(raw), tc)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
