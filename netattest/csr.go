package netattest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/keepwasm/keep/keeps"
)

// Enarx's evidence extensions for certificate requests to its Steward
// (PEN 58270 is Profian's): KVM (no attestation, empty), SGX (a raw quote,
// report data [0:32] = SHA-256(SubjectPublicKeyInfo)), SEV-SNP (DER
// SEQUENCE { SEQUENCE { vcek Certificate, crl CrlList }, report OCTET
// STRING }, report data [0:48] = SHA-384(SubjectPublicKeyInfo)).
var (
	OIDEnarxKVM = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 1}
	OIDEnarxSGX = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 2}
	OIDEnarxSNP = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 3}
)

// NewCertificateRequest makes a fresh key and a PKCS#10 request for it
// whose extensionRequest carries the same evidence extension as Issue's
// certificates: claims binding the key's hash, the module digest and the
// config digest, under evidence from att. opts.DNSNames and
// opts.IPAddresses become the request's subjectAltName; Validity and Now
// are ignored (a CA chooses them).
func NewCertificateRequest(ctx context.Context, att keeps.Attester, opts IssueOptions) (der []byte, key crypto.Signer, claims *Claims, err error) {
	if len(opts.ModuleDigest) != sha512.Size384 {
		return nil, nil, nil, fmt.Errorf("module digest: %d bytes, want %d (SHA-384)", len(opts.ModuleDigest), sha512.Size384)
	}
	if opts.ConfigDigest != nil && len(opts.ConfigDigest) != sha512.Size384 {
		return nil, nil, nil, fmt.Errorf("config digest: %d bytes, want %d (SHA-384)", len(opts.ConfigDigest), sha512.Size384)
	}
	if opts.Curve == nil {
		opts.Curve = elliptic.P384()
	}
	if opts.Curve != elliptic.P384() && opts.Curve != elliptic.P256() {
		return nil, nil, nil, errors.New("curve: want P-384 or P-256")
	}
	if opts.PubkeyHash == 0 {
		opts.PubkeyHash = crypto.SHA256
	}
	if _, err := hashAlgID(opts.PubkeyHash); err != nil {
		return nil, nil, nil, err
	}
	if opts.CommonName == "" {
		opts.CommonName = "keep"
	}
	k, err := ecdsa.GenerateKey(opts.Curve, rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, nil, nil, err
	}
	h := opts.PubkeyHash.New()
	h.Write(spki)
	claims = &Claims{
		PubkeyHash: HashEntry{Alg: opts.PubkeyHash, Hash: h.Sum(nil)},
		ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: opts.ModuleDigest},
	}
	if opts.ConfigDigest != nil {
		claims.ConfigHash = &HashEntry{Alg: crypto.SHA384, Hash: opts.ConfigDigest}
	}
	claimsBuf, err := EncodeClaims(claims)
	if err != nil {
		return nil, nil, nil, err
	}
	ev, err := att.Attest(ctx, ReportDataFor(claimsBuf))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("attest: %w", err)
	}
	ext, err := EncodeEvidenceExtension(ev.Tag, ev.Data, claimsBuf)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: opts.CommonName},
		DNSNames:        opts.DNSNames,
		IPAddresses:     opts.IPAddresses,
		ExtraExtensions: []pkix.Extension{{Id: OIDEvidence, Value: ext}},
	}
	if ev.Endorsements != nil {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDEndorsements, Value: ev.Endorsements})
	}
	der, err = x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		return nil, nil, nil, err
	}
	return der, k, claims, nil
}

// VerifyCertificateRequest checks a certificate request's evidence as
// VerifyCertificate checks a certificate's: the request's self-signature,
// then, for Keep's evidence extension (2.23.133.5.4.9), the claims, the
// binding of the request's key to the claims and of the claims to the
// evidence, and the evidence itself. Enarx's SEV-SNP and SGX extensions
// are verified with the same backends, their report data bound to the
// request's key as Enarx binds it; Enarx's KVM extension yields
// simulated claims (no TEE at all), which only a policy allowing simulated
// evidence accepts. It does not apply a policy: see Policy.Evaluate.
//
// As with VerifyCertificate, Result.Attested is non-nil exactly when err
// is nil: only then can a policy accept the request.
func VerifyCertificateRequest(ctx context.Context, csr *x509.CertificateRequest, opts Options) (*Result, error) {
	if csr == nil {
		r := &Result{}
		return r, r.fail("request", errors.New("no certificate request"))
	}
	r := &Result{Fingerprint: sha256.Sum256(csr.Raw)}
	required, err := verifyRequest(ctx, r, csr, opts)
	if err != nil {
		return r, err
	}
	// Sealed as VerifyCertificate seals: every step returned without
	// error, every check listed passed, none of the required ones missing.
	if f := r.Failed(); f != nil {
		return r, fmt.Errorf("%s: %s", f.Name, f.Detail)
	}
	for _, name := range required {
		if !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Name == name }) {
			return r, r.fail("verification", fmt.Errorf("the %q check was not done", name))
		}
	}
	if r.Evidence == nil {
		return r, r.fail("verification", errors.New("no evidence claims"))
	}
	r.attested = &Attested{claims: r.Claims, evidence: r.Evidence, tag: r.Tag, fingerprint: r.Fingerprint}
	return r, nil
}

// verifyRequest does VerifyCertificateRequest's checks and returns the
// names of those a request of its format must have passed.
func verifyRequest(ctx context.Context, r *Result, csr *x509.CertificateRequest, opts Options) ([]string, error) {
	required := []string{"request signature", "evidence extension", "evidence", "report data binding"}
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry()
	}
	if err := csr.CheckSignature(); err != nil {
		return required, r.fail("request signature", err)
	}
	r.pass("request signature", csr.SignatureAlgorithm.String())
	var found []pkix.Extension
	for _, e := range csr.Extensions {
		for _, id := range []asn1.ObjectIdentifier{OIDEvidence, OIDEnarxKVM, OIDEnarxSGX, OIDEnarxSNP} {
			if e.Id.Equal(id) {
				found = append(found, e)
			}
		}
	}
	if len(found) == 0 {
		return required, r.fail("evidence extension", ErrNoEvidence)
	}
	if len(found) > 1 {
		return required, r.fail("evidence extension", errors.New("more than one evidence extension"))
	}
	e := found[0]
	switch {
	case e.Id.Equal(OIDEvidence):
		// Only the key and the extensions are read.
		shim := &x509.Certificate{RawSubjectPublicKeyInfo: csr.RawSubjectPublicKeyInfo, Extensions: csr.Extensions}
		return required, verifyInterop(ctx, r, shim, e.Value, opts)
	case e.Id.Equal(OIDEnarxKVM):
		r.Format = "Enarx KVM, no attestation (" + e.Id.String() + ")"
		if len(e.Value) != 0 {
			return required, r.fail("evidence extension", errors.New("Enarx's KVM extension must be empty"))
		}
		r.pass("evidence extension", "no evidence at all")
		r.Evidence = &keeps.Claims{TEE: keeps.TEESim, Simulated: true, Notes: []string{"Enarx KVM backend: no TEE and no evidence stand behind this request"}}
		r.pass("evidence", "none (treated as simulated)")
		return required[:3], nil
	case e.Id.Equal(OIDEnarxSGX):
		r.Format, r.Tag = "Enarx SGX quote ("+e.Id.String()+")", keeps.TagIntelQuote
		return required, verifyEnarx(ctx, r, csr, &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: e.Value}, e.Value, elliptic.P256(), opts)
	default:
		r.Format, r.Tag = "Enarx SEV-SNP report ("+e.Id.String()+")", keeps.TagSEVSNPReport
		var ev enarxSNPEvidence
		if len(e.Value) > MaxExtensionSize {
			return required, r.fail("evidence extension", fmt.Errorf("%d bytes exceeds the %d-byte limit", len(e.Value), MaxExtensionSize))
		}
		rest, err := asn1.Unmarshal(e.Value, &ev)
		if err != nil || len(rest) > 0 {
			if err == nil {
				err = errors.New("trailing bytes")
			}
			return required, r.fail("evidence extension", fmt.Errorf("not Enarx's SEV-SNP evidence: %v", err))
		}
		// The VCEK comes with the evidence; the verifier chains it to
		// AMD's roots (or the registry's test roots).
		opts.Collateral = maps.Clone(opts.Collateral)
		if opts.Collateral == nil {
			opts.Collateral = map[string][]byte{}
		}
		opts.Collateral["snp-vcek"] = ev.Crts.VCEK.FullBytes
		return required, verifyEnarx(ctx, r, csr, &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: ev.Report}, e.Value, elliptic.P384(), opts)
	}
}

// enarxSNPEvidence is Enarx's SEV-SNP extension value.
type enarxSNPEvidence struct {
	Crts struct {
		VCEK asn1.RawValue
		CRL  asn1.RawValue
	}
	Report []byte
}

// verifyEnarx verifies Enarx evidence whose report data starts with the
// hash of the request's SubjectPublicKeyInfo: SHA-256 for SGX (P-256
// keys), SHA-384 for SEV-SNP (P-384 keys). The key's curve must be the
// one Enarx uses for that TEE, as Steward requires.
func verifyEnarx(ctx context.Context, r *Result, csr *x509.CertificateRequest, ev *keeps.Evidence, raw []byte, curve elliptic.Curve, opts Options) error {
	if len(raw) > MaxExtensionSize {
		return r.fail("evidence extension", fmt.Errorf("%d bytes exceeds the %d-byte limit", len(raw), MaxExtensionSize))
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != curve {
		return r.fail("evidence extension", fmt.Errorf("the request's key is not ECDSA %s, as Enarx's %s evidence requires", curve.Params().Name, r.Format))
	}
	r.pass("evidence extension", fmt.Sprintf("%d-byte evidence", len(ev.Data)))
	ec, err := verifyEvidence(ctx, r, ev, opts)
	if err != nil {
		return err
	}
	var want []byte
	detail := ""
	if curve == elliptic.P256() {
		h := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
		want, detail = h[:], "report data [0:32] = SHA-256(SubjectPublicKeyInfo)"
	} else {
		h := sha512.Sum384(csr.RawSubjectPublicKeyInfo)
		want, detail = h[:], "report data [0:48] = SHA-384(SubjectPublicKeyInfo)"
	}
	if !bytes.Equal(ec.ReportData[:len(want)], want) {
		return r.fail("report data binding", errors.New("the evidence's report data is not the hash of the request's public key"))
	}
	r.pass("report data binding", detail)
	return nil
}
