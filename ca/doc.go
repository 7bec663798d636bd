// Package ca is Keep's attestation CA without the verifier: it parses
// certificate signing requests that carry TEE evidence, issues short-lived
// leaf certificates to keeps whose evidence was accepted, encodes the
// chains it answers with, and serves the CA's HTTP protocol (docs/CA.md).
//
// It decides nothing about evidence itself. Whether a request's evidence
// is genuine and acceptable is a Verdict given by a Checker: inside the CA
// keep, the keep's own verifier through the host function keep.verify_csr
// (package caverify on the host side); in tests, caverify directly.
//
// It builds for GOOS=wasip1 (guests/ca uses it) and so imports only the
// standard library: it must not import netattest, keeps, runtime, wasi,
// caverify or cmd.
package ca
