// Package inteltest builds fake Intel DCAP material for tests: a PCK
// certificate hierarchy (root, PCK CA, PCK leaf with an SGX extension, TCB
// Signing certificate) with its own keys, quotes signed through it, and
// collateral bundles (dcap-qvl JSON) signed by it.
//
// Nothing it makes verifies against the pinned Intel SGX Root CA; tests
// pass PKI.Root as an insecure test root. It is for tests only: no
// production code may import it.
//
// It encodes the formats independently of keeps/intel (quote layout from
// "Intel SGX ECDSA Quote Library API" and "Intel TDX DCAP Quoting Library
// API"; SGX extension from "Intel SGX PCK Certificate and Certificate
// Revocation List Profile Specification"), so it does not import that
// package, and keeps/intel's own tests can use it.
package inteltest
