package intel

// Verification of Intel DCAP ECDSA quotes, SGX and TDX alike.
//
// Sources (restated in our own words): "Intel SGX ECDSA Quote Library
// API" and "Intel TDX DCAP Quoting Library API" (what each signature
// covers), "Intel SGX PCK Certificate and Certificate Revocation List
// Profile Specification" (the PCK hierarchy), and the behaviour of Intel's
// Quote Verification Library (QVL), which dcap-qvl and go-tdx-guest
// follow.
//
// A quote is trusted when, in this order:
//
//  1. the header's QE vendor ID is Intel's;
//  2. its certification data is a PEM PCK chain (type 5): PCK leaf
//     ("Intel SGX PCK Certificate") <- PCK Processor or Platform CA <-
//     a trusted root, where the trusted root is the pinned Intel SGX Root
//     CA (IntelSGXRootCA), never a root the quote carries; a root in the
//     chain must be byte-identical to the trusted one. Every certificate
//     must be valid at the verification time, and the leaf must carry a
//     well-formed SGX extension;
//  3. the QE report signature (ECDSA P-256, SHA-256) verifies over the
//     raw QE report with the PCK leaf's key;
//  4. the QE report's REPORTDATA is SHA-256(attestation key || QE
//     authentication data) followed by 32 zero bytes;
//  5. the quote signature (ECDSA P-256, SHA-256) verifies over the header
//     and body (and the version 5 body descriptor) with the attestation
//     key.
//
// Then, with collateral (collateral.go, tcb.go), the TCB status is
// evaluated.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// CollateralName is the key of Intel DCAP collateral in
// keeps.VerifyOptions.Collateral. Its value is a collateral bundle in
// dcap-qvl's JSON format (see ParseCollateral).
const CollateralName = "intel"

// Notes VerifyQuote adds to the claims.
const (
	// NoteNoCollateral: no collateral was given and none was fetched.
	NoteNoCollateral = "TCB status not evaluated: no collateral given"
)

// Errors of quote verification, wrapped with details; test with
// errors.Is. An error may wrap more than one (for example ErrCollateral
// and ErrExpired).
var (
	// ErrBadSignature: the quote signature, the QE report signature or
	// the QE report's binding of the attestation key does not verify.
	ErrBadSignature = errors.New("intel: quote signature does not verify")
	// ErrUntrustedChain: the PCK chain (or a collateral issuer chain) does
	// not lead to a trusted root, or a certificate in it is malformed.
	ErrUntrustedChain = errors.New("intel: certificate chain not trusted")
	// ErrExpired: a certificate, CRL, tcbInfo or QE identity is not valid
	// at the verification time (expired, or not yet valid).
	ErrExpired = errors.New("intel: expired or not yet valid")
	// ErrCollateral: the collateral is malformed, its signatures do not
	// verify, or it is not for this platform (FMSPC, PCE-ID, TEE).
	ErrCollateral = errors.New("intel: bad collateral")
	// ErrRevoked: a PCK certificate or CA is on a CRL, or the platform's
	// or QE's TCB level is "Revoked".
	ErrRevoked = errors.New("intel: revoked")
	// ErrTCBNotSupported: no TCB level of the tcbInfo (or TDX module
	// identity) applies to the platform.
	ErrTCBNotSupported = errors.New("intel: no TCB level matches the platform")
	// ErrQEIdentity: the quoting enclave does not match its QE identity
	// (MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES), or a TDX module
	// does not match its identity.
	ErrQEIdentity = errors.New("intel: enclave identity mismatch")
	// ErrNetwork: collateral could not be fetched from Intel PCS.
	ErrNetwork = errors.New("intel: fetching collateral failed")
)

// VerifyQuoteOptions are the inputs of VerifyQuote besides the quote.
type VerifyQuoteOptions struct {
	// Now is the time at which certificates and collateral must be valid;
	// the zero value means time.Now().
	Now time.Time
	// Collateral is a dcap-qvl JSON collateral bundle (ParseCollateral),
	// or nil. Without it the TCB status is not evaluated.
	Collateral []byte
	// AllowNetwork lets VerifyQuote fetch the collateral from Intel PCS
	// when Collateral is nil. A failed fetch is an error (ErrNetwork), not
	// a silent fallback to "not evaluated".
	AllowNetwork bool
	// PCS is the client used when AllowNetwork is set; nil means
	// DefaultPCS.
	PCS *PCSClient
	// InsecureTestRoots, when not empty, replace the pinned Intel SGX Root
	// CA as trust anchors. Only tests may set it: with it, anyone can make
	// quotes that verify.
	InsecureTestRoots []*x509.Certificate
}

// OptionsFrom returns the VerifyQuoteOptions that keeps.VerifyOptions ask
// for: Now, Collateral[CollateralName] and AllowNetwork.
func OptionsFrom(o keeps.VerifyOptions) VerifyQuoteOptions {
	return VerifyQuoteOptions{Now: o.Now, Collateral: o.Collateral[CollateralName], AllowNetwork: o.AllowNetwork}
}

// QuoteVerification is what VerifyQuote established.
type QuoteVerification struct {
	// Claims are the quote's claims (ClaimsFromQuote) with
	// SignatureVerified true and, when collateral was evaluated,
	// TCBStatus and Advisories set.
	Claims *keeps.Claims
	// PCKChain is the verified chain: PCK leaf, PCK CA, trusted root.
	PCKChain []*x509.Certificate
	// PCK is the leaf's SGX extension (FMSPC, TCB components, PCESVN...).
	PCK *PCKExtension
	// PCKCA says which CA issued the leaf.
	PCKCA PCKCA
	// TCB is the TCB evaluation, or nil when no collateral was used.
	TCB *TCBResult
}

// VerifyQuote verifies a parsed quote: the signature chain from the quote
// up to the pinned Intel SGX Root CA (steps 1-5 at the top of this file)
// and, when collateral is given (or fetched), the collateral and the TCB
// status (see EvaluateTCB). It returns an error if any check fails; a TCB
// status that is not UpToDate is not an error (a policy decides), but a
// revoked platform or QE, or one no TCB level applies to, is.
//
// It does not judge the quote body beyond its signature (SGX attributes,
// TD attributes, measurements): that is for the SGX and TDX backends.
func VerifyQuote(ctx context.Context, q *Quote, opts VerifyQuoteOptions) (*QuoteVerification, error) {
	if q == nil {
		return nil, errors.New("intel: nil quote")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	roots := opts.InsecureTestRoots
	if len(roots) == 0 {
		roots = []*x509.Certificate{IntelSGXRootCA()}
	}
	if q.Header.QEVendorID != IntelQEVendorID {
		return nil, fmt.Errorf("%w: QE vendor ID %x is not Intel's", ErrUntrustedChain, q.Header.QEVendorID)
	}
	chain, pck, ca, err := verifyPCKChain(&q.Signature.Certification, roots, now)
	if err != nil {
		return nil, err
	}
	if err := verifySignatures(q, chain[0]); err != nil {
		return nil, err
	}
	v := &QuoteVerification{Claims: ClaimsFromQuote(q), PCKChain: chain, PCK: pck, PCKCA: ca}
	v.Claims.SignatureVerified = true

	coll := opts.Collateral
	if coll == nil && opts.AllowNetwork {
		pcs := opts.PCS
		if pcs == nil {
			pcs = DefaultPCS
		}
		coll, err = pcs.FetchCollateral(ctx, q.TEE(), pck.FMSPC, ca)
		if err != nil {
			return nil, err
		}
	}
	if coll == nil {
		v.Claims.Notes = append(v.Claims.Notes, NoteNoCollateral)
		return v, nil
	}
	c, err := ParseCollateral(coll)
	if err != nil {
		return nil, err
	}
	tcb, err := EvaluateTCB(q, v, c, now)
	if err != nil {
		return nil, err
	}
	v.TCB = tcb
	v.Claims.TCBStatus = string(tcb.Status)
	v.Claims.Advisories = append([]string(nil), tcb.Advisories...)
	v.Claims.Notes = append(v.Claims.Notes, tcb.note())
	return v, nil
}

// checkValidity fails unless cert is valid at now (NotBefore <= now <=
// NotAfter, as RFC 5280 has it).
func checkValidity(cert *x509.Certificate, what string, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: %s %q is not valid before %s (now %s)", ErrExpired, what, cert.Subject.CommonName, cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w: %s %q expired at %s (now %s)", ErrExpired, what, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// anchor finds the trusted root that issued cert, checking the names and
// the signature.
func anchor(cert *x509.Certificate, roots []*x509.Certificate) (*x509.Certificate, error) {
	var lastErr error
	for _, r := range roots {
		if !bytes.Equal(cert.RawIssuer, r.RawSubject) {
			continue
		}
		if err := cert.CheckSignatureFrom(r); err != nil {
			lastErr = err
			continue
		}
		return r, nil
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w: %q is not signed by a trusted root: %v", ErrUntrustedChain, cert.Subject.CommonName, lastErr)
	}
	return nil, fmt.Errorf("%w: %q is issued by %q, not by a trusted root", ErrUntrustedChain, cert.Subject.CommonName, cert.Issuer.CommonName)
}

// verifyIssuerChain checks a chain [cert, (CA...,) (root)] as carried in a
// quote or collateral: chain[0] is issued by chain[1] and so on, the last
// certificate is issued by a trusted root, a self-signed last certificate
// must be that root, and all are valid at now. It returns the chain with
// the trusted root in the last place. want are the expected common names
// of chain[0], chain[1], ... (the root excluded).
func verifyIssuerChain(certs []*x509.Certificate, want []string, roots []*x509.Certificate, now time.Time, what string) ([]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrUntrustedChain, what)
	}
	// Drop a root the chain carries, after checking it is a trusted one.
	if last := certs[len(certs)-1]; bytes.Equal(last.RawIssuer, last.RawSubject) {
		if !certIn(last, roots) {
			return nil, fmt.Errorf("%w: %s ends in %q, which is not the pinned Intel SGX Root CA", ErrUntrustedChain, what, last.Subject.CommonName)
		}
		certs = certs[:len(certs)-1]
	}
	if len(certs) != len(want) {
		return nil, fmt.Errorf("%w: %s has %d certificates below the root, want %d", ErrUntrustedChain, what, len(certs), len(want))
	}
	for i, c := range certs {
		if c.Subject.CommonName != want[i] {
			return nil, fmt.Errorf("%w: %s certificate %d is %q, want %q", ErrUntrustedChain, what, i, c.Subject.CommonName, want[i])
		}
		if i+1 < len(certs) {
			p := certs[i+1]
			if !bytes.Equal(c.RawIssuer, p.RawSubject) {
				return nil, fmt.Errorf("%w: %s: %q is not issued by %q", ErrUntrustedChain, what, c.Subject.CommonName, p.Subject.CommonName)
			}
			if err := c.CheckSignatureFrom(p); err != nil {
				return nil, fmt.Errorf("%w: %s: %q: %v", ErrUntrustedChain, what, c.Subject.CommonName, err)
			}
		}
	}
	root, err := anchor(certs[len(certs)-1], roots)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := append(append([]*x509.Certificate{}, certs...), root)
	for _, c := range out {
		if err := checkValidity(c, what+" certificate", now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// verifyPCKChain checks the PCK chain of a quote's certification data.
func verifyPCKChain(cd *CertificationData, roots []*x509.Certificate, now time.Time) ([]*x509.Certificate, *PCKExtension, PCKCA, error) {
	if cd.Type != CertDataPCKChain {
		return nil, nil, "", fmt.Errorf("%w: certification data type %d; only type %d (PEM PCK chain) can be verified offline", ErrUntrustedChain, cd.Type, CertDataPCKChain)
	}
	certs, err := cd.Certificates()
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", ErrUntrustedChain, err)
	}
	if len(certs) < 2 {
		return nil, nil, "", fmt.Errorf("%w: PCK chain of %d certificates, want leaf, PCK CA and root", ErrUntrustedChain, len(certs))
	}
	ca, ok := pckCAOf(certs[1])
	if !ok {
		return nil, nil, "", fmt.Errorf("%w: PCK chain certificate 1 is %q, want %q or %q", ErrUntrustedChain, certs[1].Subject.CommonName, cnProcessorCA, cnPlatformCA)
	}
	chain, err := verifyIssuerChain(certs, []string{cnPCKLeaf, certs[1].Subject.CommonName}, roots, now, "PCK chain")
	if err != nil {
		return nil, nil, "", err
	}
	if _, err := p256Key(chain[0]); err != nil {
		return nil, nil, "", err
	}
	pck, err := PCKExtensionOf(chain[0])
	if err != nil {
		return nil, nil, "", err
	}
	return chain, pck, ca, nil
}

func p256Key(cert *x509.Certificate) (*ecdsa.PublicKey, error) {
	k, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %q has no ECDSA P-256 key", ErrUntrustedChain, cert.Subject.CommonName)
	}
	return k, nil
}

// checkP256 checks a raw r||s ECDSA P-256 signature over SHA-256(msg).
func checkP256(k *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	h := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(k, h[:], r, s)
}

// verifySignatures checks steps 3-5: the QE report signature by the PCK
// leaf, the QE report's binding of the attestation key, and the quote
// signature by the attestation key.
func verifySignatures(q *Quote, leaf *x509.Certificate) error {
	sd := &q.Signature
	pckKey, err := p256Key(leaf)
	if err != nil {
		return err
	}
	if !checkP256(pckKey, sd.RawQEReport, sd.QEReportSignature) {
		return fmt.Errorf("%w: QE report signature does not verify with the PCK leaf key", ErrBadSignature)
	}
	h := sha256.New()
	h.Write(sd.AttestationKey[:])
	h.Write(sd.QEAuthData)
	want := append(h.Sum(nil), make([]byte, 32)...)
	if !bytes.Equal(sd.QEReport.ReportData[:], want) {
		return fmt.Errorf("%w: QE report data is not SHA-256(attestation key || QE auth data) || 32 zero bytes", ErrBadSignature)
	}
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, sd.AttestationKey[:]...))
	if err != nil {
		return fmt.Errorf("%w: attestation key: %v", ErrBadSignature, err)
	}
	if !checkP256(ak, q.RawSigned, sd.QuoteSignature) {
		return fmt.Errorf("%w: quote signature does not verify with the attestation key", ErrBadSignature)
	}
	return nil
}
