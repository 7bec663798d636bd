// Package intel is Keep's backend for Intel SGX and TDX evidence: Intel
// DCAP ECDSA quotes, carried under CBOR tag keeps.TagIntelQuote (60000).
//
// It owns the Intel quote formats and, later, their verification:
//
//   - quote.go parses the bytes of a quote (versions 3, 4 and 5, SGX and
//     TDX bodies, attestation key type 2 = ECDSA-256-with-P-256) strictly
//     and without panicking on any input, down to the certification data
//     inside the signature data (QE report, its signature, QE
//     authentication data, the PEM PCK certificate chain).
//   - claims.go turns a parsed quote into keeps.Claims.
//   - verifier.go is the keeps.Verifier for tag 60000.
//
// The formats are those of Intel's "Intel SGX ECDSA Quote Library API"
// (quote version 3) and "Intel TDX DCAP Quoting Library API" (versions 4
// and 5) specifications; the comments name the tables they come from.
//
// Not done yet: the quote signature, the QE report signature, the PCK
// chain up to the Intel SGX Root CA, revocation and the TCB status are
// not checked. The verifier therefore returns claims with
// SignatureVerified=false and a note saying so, and a caller's policy must
// refuse them where it needs hardware-backed evidence. The parsed Quote
// exposes what that verification needs (RawSigned, the signature data,
// the raw QE report, the DER PCK chain), so it can be added in a file of
// its own without changing the parser.
//
// Imports: the standard library and keeps only. This package must not
// import netattest, runtime, wasi or another backend (keeps/sim, the SNP
// backend, ...), and keeps must not import it.
package intel
