package netattest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// IssueOptions configure a keep's RA-TLS certificate.
type IssueOptions struct {
	// ModuleDigest is the SHA-384 of the Wasm module the keep runs. It is
	// required: a keep certificate always names its workload.
	ModuleDigest []byte
	// ConfigDigest is the SHA-384 of the exact bytes of the keep's
	// Enarx.toml, or nil when the keep runs without one.
	ConfigDigest []byte
	// OCI, if set, adds the keep-oci-reference and
	// keep-oci-manifest-digest claims: where the module was fetched from.
	OCI *OCIOrigin
	// Curve is the key's curve: elliptic.P384() (the default) or
	// elliptic.P256().
	Curve elliptic.Curve
	// PubkeyHash is the hash for the "pubkey-hash" claim: crypto.SHA256
	// (the default, which every peer verifier accepts), SHA384 or SHA512.
	PubkeyHash crypto.Hash
	// CommonName is the subject CN (default "keep").
	CommonName string
	// DNSNames and IPAddresses are the certificate's SANs.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity is how long the certificate is valid (default 7 days); it
	// starts an hour before Now to absorb clock skew.
	Validity time.Duration
	// Now is the issue time (default time.Now()).
	Now time.Time
}

// Identity is a keep's RA-TLS certificate and its private key.
type Identity struct {
	// Certificate is the parsed certificate.
	Certificate *x509.Certificate
	// Key is the certificate's private key; it never leaves the keep.
	Key crypto.Signer
	// Claims are the claims bound into the evidence.
	Claims *Claims
	// TEE is the attester's TEE.
	TEE keeps.TEE
}

// TLSCertificate returns the identity as a tls.Certificate.
func (id *Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.Certificate.Raw}, PrivateKey: id.Key, Leaf: id.Certificate}
}

// Issue makes a fresh key and a self-signed RA-TLS certificate whose
// evidence, from att, binds the key's hash, the module digest and the
// config digest: report data = SHA-256(claims) followed by 32 zero bytes.
func Issue(ctx context.Context, att keeps.Attester, opts IssueOptions) (*Identity, error) {
	if len(opts.ModuleDigest) != sha512.Size384 {
		return nil, fmt.Errorf("module digest: %d bytes, want %d (SHA-384)", len(opts.ModuleDigest), sha512.Size384)
	}
	if opts.ConfigDigest != nil && len(opts.ConfigDigest) != sha512.Size384 {
		return nil, fmt.Errorf("config digest: %d bytes, want %d (SHA-384)", len(opts.ConfigDigest), sha512.Size384)
	}
	if opts.Curve == nil {
		opts.Curve = elliptic.P384()
	}
	if opts.Curve != elliptic.P384() && opts.Curve != elliptic.P256() {
		return nil, errors.New("curve: want P-384 or P-256")
	}
	if opts.PubkeyHash == 0 {
		opts.PubkeyHash = crypto.SHA256
	}
	if opts.CommonName == "" {
		opts.CommonName = "keep"
	}
	if opts.Validity == 0 {
		opts.Validity = 7 * 24 * time.Hour
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	key, err := ecdsa.GenerateKey(opts.Curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	if _, err := hashAlgID(opts.PubkeyHash); err != nil {
		return nil, err
	}
	h := opts.PubkeyHash.New()
	h.Write(spki)
	claims := &Claims{
		PubkeyHash: HashEntry{Alg: opts.PubkeyHash, Hash: h.Sum(nil)},
		ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: opts.ModuleDigest},
	}
	if opts.ConfigDigest != nil {
		claims.ConfigHash = &HashEntry{Alg: crypto.SHA384, Hash: opts.ConfigDigest}
	}
	if opts.OCI != nil {
		o := *opts.OCI
		claims.OCI = &o
	}
	claimsBuf, err := EncodeClaims(claims)
	if err != nil {
		return nil, err
	}
	ev, err := att.Attest(ctx, ReportDataFor(claimsBuf))
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	ext, err := EncodeEvidenceExtension(ev.Tag, ev.Data, claimsBuf)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName},
		NotBefore:             opts.Now.Add(-time.Hour),
		NotAfter:              opts.Now.Add(opts.Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              opts.DNSNames,
		IPAddresses:           opts.IPAddresses,
		ExtraExtensions:       []pkix.Extension{{Id: OIDEvidence, Critical: false, Value: ext}},
	}
	if ev.Endorsements != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDEndorsements, Value: ev.Endorsements})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Identity{Certificate: cert, Key: key, Claims: claims, TEE: att.TEE()}, nil
}

// ReportDataFor returns the report data that binds a claims buffer:
// SHA-256(claims) followed by 32 zero bytes (CCC interoperable RA-TLS).
func ReportDataFor(claims []byte) keeps.ReportData {
	var rd keeps.ReportData
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	return rd
}
