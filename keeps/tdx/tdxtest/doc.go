// Package tdxtest makes TDX quotes and Intel collateral signed by a test
// PKI, for tests of code that verifies TDX evidence.
//
// A Signer holds a test hierarchy shaped like Intel's, with the names and
// extensions go-tdx-guest's verify package requires:
//
//	"Intel SGX Root CA" (self-signed, CRL distribution point)
//	├── "Intel SGX PCK Platform CA"
//	│   └── "Intel SGX PCK Certificate" (the PCK: exactly six extensions,
//	│       the SGX extension 1.2.840.113741.1.13.1 with PPID, TCB (16
//	│       components, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type)
//	└── "Intel SGX TCB Signing" (signs tcbInfo and QE identities)
//
// and an attestation key. Signer.Quote builds a TDX quote (version 4, or
// 5 with a TDX 1.5 body) for any report data, in the layout of the "Intel
// TDX DCAP Quoting Library API": the quote signed by the attestation key,
// a QE report whose REPORTDATA is SHA-256(attestation key ‖ QE
// authentication data) ‖ 32 zero bytes, signed by the PCK, and the PEM PCK
// chain as certification data type 5 inside type 6. Signer.Collateral
// builds a matching dcap-qvl JSON collateral bundle.
//
// Nothing here is secret or trusted: a verifier accepts these quotes only
// when it is given Signer.Root as an (insecure) test root. The CNs copy
// Intel's because go-tdx-guest checks them; the keys are fresh.
//
// It is for tests only: no production code may import it (tests/layering_test.go
// checks). It must not import netattest, runtime or wasi.
package tdxtest
