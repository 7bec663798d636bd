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
	"slices"
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

// Result is what verification found out about a certificate, for
// reports. Its Claims and Evidence are what the certificate says, and are
// filled in as far as verification got: on their own they prove nothing
// (a genuine quote copied into a forged certificate has valid Evidence).
// Only Attested, which is non-nil exactly when every check passed, may be
// trusted, and only it is what Policy.Evaluate judges.
type Result struct {
	// Format names the evidence extension used.
	Format string `json:"format"`
	// Tag is the evidence format's CBOR tag.
	Tag uint64 `json:"tag"`
	// Claims are the certificate's claims (nil for legacy certificates,
	// which have none). Unverified unless Attested() is non-nil.
	Claims *Claims `json:"-"`
	// Evidence holds what the TEE's verifier established about the
	// evidence alone; nil when verification stopped before it. It does not
	// say that the evidence belongs to this certificate: that is the
	// report data binding, checked after it. Unverified unless Attested()
	// is non-nil.
	Evidence *keeps.Claims `json:"-"`
	// Checks lists every step taken, in order, the failed one last.
	Checks []Check `json:"checks"`
	// Fingerprint is the SHA-256 of the certificate's DER.
	Fingerprint [32]byte `json:"-"`

	// attested is set by VerifyCertificate, and only when every check
	// passed.
	attested *Attested
}

// Attested is a certificate that passed every check of VerifyCertificate:
// self-signature, evidence structure, claims, the public key's binding to
// the claims, the evidence's signature, and the claims' binding to the
// evidence. Only VerifyCertificate makes one (its fields are unexported),
// so holding an *Attested means verification succeeded; policies judge
// nothing else.
type Attested struct {
	claims      *Claims
	evidence    *keeps.Claims
	tag         uint64
	fingerprint [32]byte
}

// Claims returns the certificate's claims (nil for a legacy certificate).
func (a *Attested) Claims() *Claims { return a.claims }

// Evidence returns what the TEE's verifier established.
func (a *Attested) Evidence() *keeps.Claims { return a.evidence }

// Tag returns the evidence format's CBOR tag.
func (a *Attested) Tag() uint64 { return a.tag }

// Fingerprint returns the SHA-256 of the certificate's DER.
func (a *Attested) Fingerprint() [32]byte { return a.fingerprint }

// ModuleHash returns the module digest claim, or nil.
func (a *Attested) ModuleHash() *HashEntry {
	if a.claims == nil {
		return nil
	}
	return a.claims.ModuleHash
}

// ConfigHash returns the config digest claim, or nil.
func (a *Attested) ConfigHash() *HashEntry {
	if a.claims == nil {
		return nil
	}
	return a.claims.ConfigHash
}

// Attested returns the verified certificate, or nil unless every check
// passed. It is nil for a nil or hand-made Result.
func (r *Result) Attested() *Attested {
	if r == nil || r.attested == nil || r.Failed() != nil {
		return nil
	}
	return r.attested
}

// Verified reports whether every check passed (Attested is non-nil).
func (r *Result) Verified() bool { return r.Attested() != nil }

// Failed returns the first failed check; for a result with no checks at
// all (nil, or hand-made) a check saying so. It is nil only when every
// check listed passed.
func (r *Result) Failed() *Check {
	if r == nil || len(r.Checks) == 0 {
		return &Check{Name: "verification", Detail: "the certificate was not verified"}
	}
	for i := range r.Checks {
		if !r.Checks[i].OK {
			c := r.Checks[i]
			return &c
		}
	}
	return nil
}

// requiredChecks are the checks every successful verification passes; a
// result lacking one is not verified, whatever else it lists.
var requiredChecks = []string{"self-signature", "evidence extension", "evidence", "report data binding"}

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
// The returned Result is never nil and lists the checks done; err names
// the first that failed. Result.Attested is non-nil exactly when err is
// nil.
func VerifyCertificate(ctx context.Context, cert *x509.Certificate, opts Options) (*Result, error) {
	if cert == nil {
		r := &Result{}
		return r, r.fail("certificate", errors.New("no certificate"))
	}
	r := &Result{Fingerprint: sha256.Sum256(cert.Raw)}
	if err := verifyCertificate(ctx, r, cert, opts); err != nil {
		return r, err
	}
	// The one place an Attested is made: after every step returned
	// without error, every check listed passed, and none of the required
	// ones is missing.
	if f := r.Failed(); f != nil {
		return r, fmt.Errorf("%s: %s", f.Name, f.Detail)
	}
	for _, name := range requiredChecks {
		// A CA-issued certificate passes "issuer" in place of "self-signature".
		if !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Name == name || name == "self-signature" && c.Name == "issuer" }) {
			return r, r.fail("verification", fmt.Errorf("the %q check was not done", name))
		}
	}
	if r.Evidence == nil {
		return r, r.fail("verification", errors.New("no evidence claims"))
	}
	r.attested = &Attested{claims: r.Claims, evidence: r.Evidence, tag: r.Tag, fingerprint: r.Fingerprint}
	return r, nil
}

func verifyCertificate(ctx context.Context, r *Result, cert *x509.Certificate, opts Options) error {
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry()
	}
	// Self-signature. CheckSignatureFrom(cert) would refuse the CA:FALSE
	// certificates every RA-TLS producer issues. A certificate an
	// attestation CA issued (the evidence copied into a leaf, docs/CA.md)
	// names another issuer: its CA signature is the web PKI's business;
	// here the evidence binds the key, as in a self-signed one.
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		r.pass("issuer", "issued by "+cert.Issuer.String()+" (its signature is not checked here; the evidence binds the key)")
	} else if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return r.fail("self-signature", err)
	} else {
		r.pass("self-signature", cert.SignatureAlgorithm.String())
	}

	var evidenceExt, legacyExt []byte
	var legacyOID string
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(OIDEvidence):
			if evidenceExt != nil {
				return r.fail("evidence extension", errors.New("more than one 2.23.133.5.4.9 extension"))
			}
			evidenceExt = e.Value
		case legacyExt == nil && (e.Id.Equal(OIDLegacyRATLS) || e.Id.Equal(OIDLegacyGramine) || e.Id.Equal(OIDLegacyIntelSDK)):
			legacyExt, legacyOID = e.Value, e.Id.String()
		}
	}
	switch {
	case evidenceExt != nil:
		return verifyInterop(ctx, r, cert, evidenceExt, opts)
	case legacyExt != nil && opts.Legacy:
		return verifyLegacy(ctx, r, cert, legacyOID, legacyExt, opts)
	case legacyExt != nil:
		return r.fail("evidence extension", fmt.Errorf("only the legacy extension %s is present; legacy formats are accepted only when asked for", legacyOID))
	}
	return r.fail("evidence extension", ErrNoEvidence)
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
