package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults of an Authority.
const (
	// DefaultLeafTTL is the lifetime of an issued leaf.
	DefaultLeafTTL = 24 * time.Hour
	// DefaultRootTTL is the lifetime of a generated root.
	DefaultRootTTL = 5 * 365 * 24 * time.Hour
	// MinLeafTTL is the shortest leaf lifetime an Authority accepts.
	MinLeafTTL = 10 * time.Second
	// clockSkew backdates certificates for peers whose clocks lag.
	clockSkew = 5 * time.Minute
)

// DefaultNames are the names an Authority issues when none are
// configured: loopback only.
var DefaultNames = []string{"localhost", "127.0.0.1", "::1"}

// ModuleURIPrefix starts the URI SAN that names a leaf's module:
// urn:keep:module:sha384:<96 lowercase hex digits>, the SHA-384 of the
// Wasm module's bytes (what `keep digest` prints after "sha384:").
const ModuleURIPrefix = "urn:keep:module:"

// Authority is a CA: a key and its self-signed root certificate.
type Authority struct {
	// Root is the CA's self-signed certificate and Key its private key.
	Root *x509.Certificate
	Key  crypto.Signer
	// LeafTTL is the lifetime of issued leaves (default DefaultLeafTTL).
	LeafTTL time.Duration
	// Names are the DNS names and IP addresses a leaf may carry; a
	// request asking for another is refused. Empty means DefaultNames.
	Names []string
}

// NewAuthority generates a P-384 key and a self-signed root named cn,
// valid for ttl (DefaultRootTTL if 0): a CA with path length 0, so it can
// sign leaves only.
func NewAuthority(cn string, ttl time.Duration, now time.Time) (*Authority, error) {
	if ttl == 0 {
		ttl = DefaultRootTTL
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	skid := sha256.Sum256(spki)
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Keep attestation CA"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Root: root, Key: key}, nil
}

// RootPEM returns the root certificate in PEM.
func (a *Authority) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Root.Raw})
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	for {
		s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil {
			return nil, err
		}
		if s.Sign() > 0 {
			return s, nil
		}
	}
}

// ModuleURI returns the URI SAN naming a module digest ("sha384:<hex>").
func ModuleURI(moduleHash string) (*url.URL, error) {
	alg, hex, ok := strings.Cut(moduleHash, ":")
	if !ok || alg != "sha384" || len(hex) != 96 || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("module hash %q is not sha384:<96 lowercase hex digits>", moduleHash)
	}
	return url.Parse(ModuleURIPrefix + moduleHash)
}

// ErrNameNotAllowed is wrapped when a request asks for a name the
// Authority does not issue.
var ErrNameNotAllowed = errors.New("name not allowed")

// Issue signs a leaf for an accepted request: the request's key and
// names, a URI SAN naming the verified module digest, the request's
// evidence extension copied, serverAuth and clientAuth, a random 128-bit
// serial, valid from now (backdated 5 minutes) for LeafTTL but never past
// the root.
func (a *Authority) Issue(req *Request, v *Verdict, now time.Time) (*x509.Certificate, error) {
	if !v.Accepted() {
		return nil, fmt.Errorf("issue: the verdict refuses the request: %v", v.Err())
	}
	if v.SPKISHA256 != SPKIHash(req.CSR.RawSubjectPublicKeyInfo) {
		return nil, errors.New("issue: the verdict is about another key")
	}
	ttl := a.LeafTTL
	if ttl == 0 {
		ttl = DefaultLeafTTL
	}
	if ttl < MinLeafTTL {
		return nil, fmt.Errorf("issue: leaf lifetime %v is below %v", ttl, MinLeafTTL)
	}
	allowed := a.Names
	if len(allowed) == 0 {
		allowed = DefaultNames
	}
	for _, n := range req.CSR.DNSNames {
		if !slices.Contains(allowed, strings.ToLower(n)) {
			return nil, fmt.Errorf("%w: DNS name %q is not among the CA's names %v", ErrNameNotAllowed, n, allowed)
		}
	}
	for _, ip := range req.CSR.IPAddresses {
		if !slices.ContainsFunc(allowed, func(s string) bool { p := net.ParseIP(s); return p != nil && p.Equal(ip) }) {
			return nil, fmt.Errorf("%w: IP address %s is not among the CA's names %v", ErrNameNotAllowed, ip, allowed)
		}
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ttl)
	if notAfter.After(a.Root.NotAfter) {
		notAfter = a.Root.NotAfter
	}
	cn := "keep"
	if len(req.CSR.DNSNames) > 0 {
		cn = req.CSR.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              req.CSR.DNSNames,
		IPAddresses:           req.CSR.IPAddresses,
		ExtraExtensions:       []pkix.Extension{req.Evidence},
	}
	if req.Endorsements != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, *req.Endorsements)
	}
	if v.ModuleHash != "" {
		u, err := ModuleURI(v.ModuleHash)
		if err != nil {
			return nil, fmt.Errorf("issue: %w", err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Root, req.CSR.PublicKey, a.Key)
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	return x509.ParseCertificate(der)
}
