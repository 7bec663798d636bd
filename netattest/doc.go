// Package netattest issues and verifies RA-TLS certificates in the
// interoperable format of the CCC Attestation SIG, applies policies to
// them, and builds crypto/tls configurations around both.
//
// An RA-TLS certificate is self-signed. Its evidence extension (OID
// 2.23.133.5.4.9) holds CBOR tag(N)[evidence, claims]: a TEE quote or report
// whose report data is SHA-256(claims) followed by 32 zero bytes, and a
// claims map whose "pubkey-hash" is the hash of the certificate's public
// key. Keep adds "keep-module-hash" (the SHA-384 of the Wasm module) and
// "keep-config-hash" to the claims, so the TEE's signature covers the key,
// the module and the config at once.
//
// Steps are kept apart, each testable alone: format.go parses and encodes
// the extension and claims; issue.go makes certificates; verify.go checks a
// certificate's structure and evidence and, only when every check passed,
// hands out an Attested (which nothing else can make); policy.go decides
// whether an Attested is acceptable, and loads policy files with their
// collateral (LoadVerifier, the one loader for every user of policies);
// report.go is the JSON report (verified and accepted derived from the
// checks and the verdict); tls.go wires it all into tls.Config.
//
// It imports keeps (the backend interface) and the backends; it must not
// import runtime, wasi or cmd/keep.
package netattest
