package netattest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// Options configure certificate verification.
type Options struct {
	// Registry supplies verifiers by evidence tag; nil means
	// DefaultRegistry().
	Registry *keeps.Registry
	// Legacy accepts the pre-interoperable raw-quote extensions (Gramine,
	// rats-tls, Intel SGX SDK) when a certificate has no 2.23.133.5.4.9.
	Legacy bool
	// Now is the verification time (default time.Now()). The certificate's
	// own validity period is not enforced (RA-TLS certificates are
	// self-signed and peers routinely ship long-expired ones); freshness
	// comes from the evidence and its collateral.
	Now time.Time
	// Collateral is vendor collateral by name, for the backends' TCB
	// evaluation: "intel" (a DCAP collateral bundle, JSON), "snp-vcek",
	// "snp-ask-ark" (PEM or DER certificates).
	Collateral map[string][]byte
	// AllowNetwork lets verifiers fetch missing collateral from the vendor
	// (Intel PCS, AMD KDS).
	AllowNetwork bool
}

// Check is one step of verification, for reports.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Result is what verification established about a certificate.
type Result struct {
	// Format names the evidence extension used.
	Format string `json:"format"`
	// Tag is the evidence format's CBOR tag.
	Tag uint64 `json:"tag"`
	// Claims are the certificate's claims (nil for legacy certificates,
	// which have none).
	Claims *Claims `json:"-"`
	// Evidence holds what the TEE's verifier established; nil when
	// verification stopped before it.
	Evidence *keeps.Claims `json:"-"`
	// Checks lists every step taken, in order, the failed one last.
	Checks []Check `json:"checks"`
	// Fingerprint is the SHA-256 of the certificate's DER.
	Fingerprint [32]byte `json:"-"`
}

func (r *Result) pass(name, detail string) { r.Checks = append(r.Checks, Check{name, true, detail}) }

func (r *Result) fail(name string, err error) error {
	r.Checks = append(r.Checks, Check{name, false, err.Error()})
	return fmt.Errorf("%s: %w", name, err)
}

// VerifyCertificate checks an RA-TLS certificate by itself: its
// self-signature, the evidence extension's structure, the claims, the
// binding of the public key to the claims and of the claims to the
// evidence's report data, and the evidence itself through the verifier for
// its tag. It does not apply a policy: see Policy.Evaluate.
//
// The returned Result is non-nil whenever cert is, and lists the checks
// done; err names the first that failed.
func VerifyCertificate(ctx context.Context, cert *x509.Certificate, opts Options) (*Result, error) {
	r := &Result{Fingerprint: sha256.Sum256(cert.Raw)}
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry()
	}
	// Self-signature. CheckSignatureFrom(cert) would refuse the CA:FALSE
	// certificates every RA-TLS producer issues.
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return r, r.fail("self-signature", err)
	}
	r.pass("self-signature", cert.SignatureAlgorithm.String())

	var evidenceExt, legacyExt []byte
	var legacyOID string
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(OIDEvidence):
			if evidenceExt != nil {
				return r, r.fail("evidence extension", errors.New("more than one 2.23.133.5.4.9 extension"))
			}
			evidenceExt = e.Value
		case legacyExt == nil && (e.Id.Equal(OIDLegacyRATLS) || e.Id.Equal(OIDLegacyGramine) || e.Id.Equal(OIDLegacyIntelSDK)):
			legacyExt, legacyOID = e.Value, e.Id.String()
		}
	}
	switch {
	case evidenceExt != nil:
		return r, verifyInterop(ctx, r, cert, evidenceExt, opts)
	case legacyExt != nil && opts.Legacy:
		return r, verifyLegacy(ctx, r, cert, legacyOID, legacyExt, opts)
	case legacyExt != nil:
		return r, r.fail("evidence extension", fmt.Errorf("only the legacy extension %s is present; legacy formats are accepted only when asked for", legacyOID))
	}
	return r, r.fail("evidence extension", ErrNoEvidence)
}

func verifyInterop(ctx context.Context, r *Result, cert *x509.Certificate, ext []byte, opts Options) error {
	r.Format = "interoperable RA-TLS (2.23.133.5.4.9)"
	te, err := ParseEvidenceExtension(ext)
	if err != nil {
		return r.fail("evidence extension", err)
	}
	r.Tag = te.Tag
	r.pass("evidence extension", fmt.Sprintf("tag %d, %d-byte evidence, %d-byte claims", te.Tag, len(te.Evidence), len(te.Claims)))

	claims, err := ParseClaims(te.Claims)
	if err != nil {
		return r.fail("claims", err)
	}
	r.Claims = claims
	r.pass("claims", "")

	h := claims.PubkeyHash.Alg.New()
	h.Write(cert.RawSubjectPublicKeyInfo)
	if !bytes.Equal(h.Sum(nil), claims.PubkeyHash.Hash) {
		return r.fail("pubkey-hash", errors.New("does not match the certificate's public key"))
	}
	r.pass("pubkey-hash", claims.PubkeyHash.String()+" = hash of the certificate's SubjectPublicKeyInfo")

	ev := &keeps.Evidence{Tag: te.Tag, Data: te.Evidence}
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDEndorsements) && len(e.Value) > 0 {
			if len(e.Value) > MaxEndorsementsSize {
				return r.fail("endorsements", fmt.Errorf("%d bytes exceeds the %d-byte limit", len(e.Value), MaxEndorsementsSize))
			}
			ev.Endorsements = e.Value
		}
	}
	ec, err := verifyEvidence(ctx, r, ev, opts)
	if err != nil {
		return err
	}
	// report data = SHA-256(claims) ‖ 0^32 (CCC). The Intel SGX SDK's TDX
	// attester writes SHA-384(claims) ‖ 0^16 instead; accept it for TDX.
	want := ReportDataFor(te.Claims)
	ok := ec.ReportData == want
	detail := "report data = SHA-256(claims) ‖ 32 zero bytes"
	if !ok && ec.TEE == keeps.TEETDX {
		var alt keeps.ReportData
		s := sha512.Sum384(te.Claims)
		copy(alt[:], s[:])
		ok, detail = ec.ReportData == alt, "report data = SHA-384(claims) ‖ 16 zero bytes"
	}
	if !ok {
		return r.fail("report data binding", errors.New("the evidence's report data is not the hash of the claims"))
	}
	r.pass("report data binding", detail)
	return nil
}

func verifyEvidence(ctx context.Context, r *Result, ev *keeps.Evidence, opts Options) (*keeps.Claims, error) {
	v, err := opts.Registry.Lookup(ev.Tag)
	if err != nil {
		return nil, r.fail("evidence", err)
	}
	ec, err := v.Verify(ctx, ev, keeps.VerifyOptions{Now: opts.Now, Collateral: opts.Collateral, AllowNetwork: opts.AllowNetwork})
	if err != nil {
		return nil, r.fail("evidence", err)
	}
	r.Evidence = ec
	detail := string(ec.TEE)
	if ec.SignatureVerified {
		detail += ", signature chain verified"
	} else {
		detail += ", signature NOT verified"
	}
	r.pass("evidence", detail)
	return ec, nil
}

// verifyLegacy handles raw quotes in the legacy extensions, whose report
// data binds the public key directly.
func verifyLegacy(ctx context.Context, r *Result, cert *x509.Certificate, oid string, quote []byte, opts Options) error {
	r.Format = "legacy raw quote (" + oid + ")"
	r.Tag = keeps.TagIntelQuote
	if len(quote) > MaxExtensionSize {
		return r.fail("evidence extension", fmt.Errorf("%d bytes exceeds the %d-byte limit", len(quote), MaxExtensionSize))
	}
	r.pass("evidence extension", fmt.Sprintf("%d-byte raw quote", len(quote)))
	ec, err := verifyEvidence(ctx, r, &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: quote}, opts)
	if err != nil {
		return err
	}
	// The key hash each legacy producer used, in report data [0:32].
	cands := []struct {
		name string
		data []byte
	}{{"SHA-256(SubjectPublicKeyInfo)", cert.RawSubjectPublicKeyInfo}}
	if k, ok := cert.PublicKey.(*rsa.PublicKey); ok { // rats-tls: PKCS#1
		cands = append(cands, struct {
			name string
			data []byte
		}{"SHA-256(PKCS#1 RSAPublicKey)", x509.MarshalPKCS1PublicKey(k)})
	}
	// Intel SGX SDK before 2.22: the PEM public key text and its NUL.
	pemKey := append(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: cert.RawSubjectPublicKeyInfo}), 0)
	cands = append(cands, struct {
		name string
		data []byte
	}{"SHA-256(PEM public key ‖ NUL)", pemKey})
	for _, c := range cands {
		h := sha256.Sum256(c.data)
		if bytes.Equal(ec.ReportData[:32], h[:]) && allZero(ec.ReportData[32:]) {
			r.pass("report data binding", "report data = "+c.name+" ‖ 32 zero bytes")
			return nil
		}
	}
	return r.fail("report data binding", errors.New("the quote's report data is not a hash of the certificate's public key"))
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
