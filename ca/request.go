package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Media types of the protocol.
const (
	// MediaTypePKCS10 is a DER PKCS#10 certificate request (RFC 5967).
	MediaTypePKCS10 = "application/pkcs10"
	// MediaTypePKIPath is a DER PkiPath, SEQUENCE OF Certificate, first
	// certificate closest to the trust anchor (RFC 6066, section 10.1).
	MediaTypePKIPath = "application/pkix-pkipath"
	// MediaTypePEMChain is PEM certificates (RFC 8555, section 9.1).
	MediaTypePEMChain = "application/pem-certificate-chain"
)

// Size limits for outside bytes.
const (
	// MaxRequestSize bounds a DER CSR. The largest evidence Keep accepts
	// is 64 KiB (an Intel quote with its PCK chain, plus endorsements).
	MaxRequestSize = 160 << 10
	// MaxChainSize bounds a chain answered by a CA.
	MaxChainSize = 256 << 10
	// MaxChainCerts bounds the certificates in a chain.
	MaxChainCerts = 8
	// MaxNames bounds the DNS names and IP addresses a request may ask for.
	MaxNames = 16
)

// Extension OIDs a request may carry. Any other extension is refused, as
// Enarx's Steward does.
var (
	// OIDEvidence is tcg-dice-conceptual-message-wrapper (TCG DICE
	// Attestation Architecture), the evidence extension of Keep's RA-TLS
	// certificates (CCC interoperable RA-TLS): tag(N)[evidence, claims].
	OIDEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	// OIDEndorsements is tcg-dice-endorsement-manifest (same sources).
	OIDEndorsements = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}
	// OIDEnarxKVM is Enarx's "no attestation" extension (empty value);
	// PEN 58270 is Profian's.
	OIDEnarxKVM = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 1}
	// OIDEnarxSGX is Enarx's SGX extension: a raw ECDSA quote whose report
	// data [0:32] is SHA-256(SubjectPublicKeyInfo).
	OIDEnarxSGX = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 2}
	// OIDEnarxSNP is Enarx's SEV-SNP extension: DER SEQUENCE { SEQUENCE {
	// vcek Certificate, crl CrlList }, report OCTET STRING } whose report
	// data [0:48] is SHA-384(SubjectPublicKeyInfo).
	OIDEnarxSNP = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 58270, 1, 3}
	// OIDSubjectAltName is id-ce-subjectAltName (RFC 5280, 4.2.1.6).
	OIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDExtensionRequest is the PKCS#9 extensionRequest attribute
	// (RFC 2985, 5.4.2), which holds a request's extensions.
	OIDExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
)

// Format names the evidence format of a request.
type Format string

// The request formats the CA knows.
const (
	FormatKeep     Format = "keep"      // 2.23.133.5.4.9, Keep's RA-TLS evidence
	FormatEnarxSNP Format = "enarx-snp" // 1.3.6.1.4.1.58270.1.3
	FormatEnarxSGX Format = "enarx-sgx" // 1.3.6.1.4.1.58270.1.2
	FormatEnarxKVM Format = "enarx-kvm" // 1.3.6.1.4.1.58270.1.1, no attestation
)

// Request is a parsed, signature-checked certificate request. Its
// evidence is not verified here.
type Request struct {
	// CSR is the parsed request.
	CSR *x509.CertificateRequest
	// Format is the request's evidence format.
	Format Format
	// Evidence is the evidence extension, as the issued leaf copies it,
	// and Endorsements the endorsements extension, if any.
	Evidence     pkix.Extension
	Endorsements *pkix.Extension
}

// ErrMalformed is wrapped by every ParseRequest error.
var ErrMalformed = errors.New("malformed certificate request")

// ParseRequest parses a DER PKCS#10 request and checks what needs no
// verifier: size, its self-signature (the requester holds the key), an
// ECDSA P-256 or P-384 key, exactly one evidence extension of a known
// format, no unknown extensions, at most MaxNames names and no URI or
// e-mail names (the CA chooses URIs).
func ParseRequest(der []byte) (*Request, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	if len(der) == 0 {
		return nil, bad("empty")
	}
	if len(der) > MaxRequestSize {
		return nil, bad("%d bytes exceeds the %d-byte limit", len(der), MaxRequestSize)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, bad("%v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, bad("signature: %v", err)
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || (k.Curve != elliptic.P256() && k.Curve != elliptic.P384()) {
		return nil, bad("the key is not ECDSA P-256 or P-384")
	}
	r := &Request{CSR: csr}
	formats := map[string]Format{
		OIDEvidence.String(): FormatKeep, OIDEnarxSNP.String(): FormatEnarxSNP,
		OIDEnarxSGX.String(): FormatEnarxSGX, OIDEnarxKVM.String(): FormatEnarxKVM,
	}
	seen := map[string]bool{}
	for _, e := range csr.Extensions {
		id := e.Id.String()
		if seen[id] {
			return nil, bad("extension %s appears twice", id)
		}
		seen[id] = true
		switch f, ok := formats[id]; {
		case ok:
			if r.Format != "" {
				return nil, bad("more than one evidence extension (%s and %s)", r.Format, f)
			}
			r.Format, r.Evidence = f, pkix.Extension{Id: e.Id, Value: e.Value}
		case e.Id.Equal(OIDEndorsements):
			r.Endorsements = &pkix.Extension{Id: e.Id, Value: e.Value}
		case e.Id.Equal(OIDSubjectAltName):
		default:
			return nil, bad("unknown extension %s", id)
		}
	}
	switch {
	case r.Format == "":
		return nil, bad("no evidence extension (2.23.133.5.4.9 or Enarx's 1.3.6.1.4.1.58270.1.x)")
	case r.Endorsements != nil && r.Format != FormatKeep:
		return nil, bad("an endorsements extension goes only with 2.23.133.5.4.9 evidence")
	case r.Format == FormatEnarxKVM && len(r.Evidence.Value) != 0:
		return nil, bad("Enarx's KVM extension must be empty")
	case r.Format != FormatEnarxKVM && len(r.Evidence.Value) == 0:
		return nil, bad("empty evidence extension")
	case len(csr.URIs) > 0 || len(csr.EmailAddresses) > 0:
		return nil, bad("URI and e-mail names are not accepted (the CA names the module itself)")
	case len(csr.DNSNames)+len(csr.IPAddresses) > MaxNames:
		return nil, bad("%d names, more than %d", len(csr.DNSNames)+len(csr.IPAddresses), MaxNames)
	}
	return r, nil
}
