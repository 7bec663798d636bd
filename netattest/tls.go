package netattest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
)

// Peer is a verified peer: the verified certificate and the policy's
// verdict, which accepted it. Only Verifier.Verify makes one.
type Peer struct {
	// Attested is the certificate, verified.
	Attested *Attested
	// Result lists the checks done, for reports.
	Result  *Result
	Verdict *Verdict
}

// ModuleHash returns the peer's module digest claim, or nil.
func (p *Peer) ModuleHash() *HashEntry { return p.Attested.ModuleHash() }

// maxCache bounds the verified-certificate cache.
const maxCache = 1024

// Verifier verifies peers' RA-TLS certificates against a policy and
// caches accepted certificates by their SHA-256 fingerprint, so a client
// reconnecting to the same keep verifies its evidence once. It is safe for
// concurrent use.
type Verifier struct {
	// Policy and Options are fixed at construction; change neither.
	Policy  *Policy
	Options Options

	err   error // from reading the policy's collateral: refuse everything
	mu    sync.Mutex
	cache map[[32]byte]*Peer
}

// NewVerifier returns a Verifier for policy (nil means the default policy)
// and opts. The policy's [collateral] files are read now and its
// allow_network applied; if a file cannot be read or a collateral name is
// unknown, the Verifier refuses every certificate with that error. Commands
// load policy files with LoadVerifier instead, which reports such errors at
// once.
func NewVerifier(policy *Policy, opts Options) *Verifier {
	if policy == nil {
		policy = &Policy{}
	}
	o, err := policy.options(opts)
	return newVerifier(policy, o, err)
}

func newVerifier(policy *Policy, opts Options, err error) *Verifier {
	return &Verifier{Policy: policy, Options: opts, err: err, cache: map[[32]byte]*Peer{}}
}

// Check verifies cert and applies the policy, without the cache, and
// returns both for a report (NewReport). The certificate is acceptable
// only when the verdict is Accepted.
func (v *Verifier) Check(ctx context.Context, cert *x509.Certificate) (*Result, *Verdict) {
	if v.err != nil {
		r := &Result{}
		r.fail("policy", v.err)
		return r, v.policy().Evaluate(r)
	}
	res, _ := VerifyCertificate(ctx, cert, v.Options)
	return res, v.policy().Evaluate(res)
}

// policy is v.Policy, or the default policy for a Verifier made without
// NewVerifier.
func (v *Verifier) policy() *Policy {
	if v.Policy == nil {
		return &Policy{}
	}
	return v.Policy
}

// Verify verifies cert and applies the policy; it returns the peer when
// the policy accepts it.
func (v *Verifier) Verify(ctx context.Context, cert *x509.Certificate) (*Peer, error) {
	fp := sha256.Sum256(cert.Raw)
	v.mu.Lock()
	p, ok := v.cache[fp]
	v.mu.Unlock()
	if ok {
		return p, nil
	}
	if v.err != nil {
		return nil, fmt.Errorf("policy: %w", v.err)
	}
	res, err := VerifyCertificate(ctx, cert, v.Options)
	if err != nil {
		return nil, err
	}
	a := res.Attested()
	if a == nil { // cannot happen when err is nil; refuse all the same
		return nil, errors.New("netattest: certificate not verified")
	}
	verdict := v.policy().EvaluateAttested(a)
	if err := verdict.Err(); err != nil {
		return nil, err
	}
	p = &Peer{Attested: a, Result: res, Verdict: verdict}
	v.mu.Lock()
	if v.cache == nil || len(v.cache) >= maxCache {
		v.cache = map[[32]byte]*Peer{}
	}
	v.cache[fp] = p
	v.mu.Unlock()
	return p, nil
}

// Peer returns the verified peer of a completed handshake made with a
// config from this Verifier.
func (v *Verifier) Peer(cs tls.ConnectionState) (*Peer, bool) {
	if len(cs.PeerCertificates) == 0 {
		return nil, false
	}
	fp := sha256.Sum256(cs.PeerCertificates[0].Raw)
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.cache[fp]
	return p, ok
}

// VerifyConnection is a tls.Config.VerifyConnection callback.
func (v *Verifier) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("netattest: peer presented no certificate")
	}
	_, err := v.Verify(context.Background(), cs.PeerCertificates[0])
	return err
}

// ClientConfig returns a client tls.Config that accepts only servers whose
// RA-TLS certificate passes the policy. Web PKI chain checks are off (the
// certificate is self-signed); the evidence replaces them. If id is
// non-nil, the client presents it for mutual attestation.
//
// Connections made with the same config resume TLS sessions: a resumed
// connection needs no new signature from the keep, and crypto/tls still
// calls VerifyConnection with the certificate of the session's first
// handshake, so the policy decides every connection. Only the keep that
// issued a session can resume it.
func (v *Verifier) ClientConfig(id *Identity) *tls.Config {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection
		VerifyConnection:   v.VerifyConnection,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
	if id != nil {
		cert := id.TLSCertificate()
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// ServerConfig returns a server tls.Config presenting id. With a non-nil
// Verifier, clients must present an RA-TLS certificate that passes its
// policy (mutual attestation).
func ServerConfig(id *Identity, clients *Verifier) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{id.TLSCertificate()},
	}
	if clients != nil {
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = clients.VerifyConnection
	}
	return c
}
