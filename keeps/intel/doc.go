// Package intel is Keep's backend for Intel SGX and TDX evidence: Intel
// DCAP ECDSA quotes, carried under CBOR tag keeps.TagIntelQuote (60000).
//
// It owns the Intel quote formats and their verification:
//
//   - quote.go parses the bytes of a quote (versions 3, 4 and 5, SGX and
//     TDX bodies, attestation key type 2 = ECDSA-256-with-P-256) strictly
//     and without panicking on any input, down to the certification data
//     inside the signature data (QE report, its signature, QE
//     authentication data, the PEM PCK certificate chain).
//   - claims.go turns a parsed quote into keeps.Claims.
//   - root.go embeds the pinned Intel SGX Root CA, the only trust anchor.
//   - pck.go decodes the SGX extension of PCK certificates (FMSPC, TCB
//     components, PCESVN, PCE-ID).
//   - verify.go verifies a quote, for SGX and TDX alike (VerifyQuote): QE
//     vendor, PCK chain up to the pinned root, QE report signature, the QE
//     report's binding of the attestation key, quote signature.
//   - collateral.go parses DCAP collateral (dcap-qvl's JSON bundle: CRLs,
//     tcbInfo, QE identity, issuer chains), and tcb.go verifies it and
//     evaluates the TCB status (EvaluateTCB).
//   - pcs.go fetches that collateral from Intel PCS (API v4) when the
//     caller allows network access.
//   - verifier.go is a structure-only keeps.Verifier for tag 60000 (it
//     does not call VerifyQuote; the SGX and TDX backends do, and a
//     dispatcher on the quote header picks between them).
//   - inteltest/ builds fake PCK hierarchies, quotes and collateral for
//     tests.
//
// The formats are those of Intel's "Intel SGX ECDSA Quote Library API"
// (quote version 3) and "Intel TDX DCAP Quoting Library API" (versions 4
// and 5) specifications; the comments name the tables they come from.
//
// VerifyQuote does not judge the quote body (SGX attributes, TD
// attributes, measurements): that is the SGX and TDX backends' job.
//
// Imports: the standard library and keeps only. This package must not
// import netattest, runtime, wasi or another backend (keeps/sim, the SNP
// backend, ...), and keeps must not import it. Only tests may import
// inteltest, which uses the standard library only.
package intel
