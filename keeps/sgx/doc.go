// Package sgx is Keep's Intel SGX backend.
//
// It owns:
//
//   - Verifier (verifier.go): the keeps.Verifier for SGX DCAP quotes
//     (evidence tag keeps.TagIntelQuote). It parses with intel.ParseQuote,
//     verifies the signature chain up to the pinned Intel SGX Root CA and,
//     given collateral, the TCB status, with intel.VerifyQuote; then it
//     checks the enclave's attributes the way Gramine's RA-TLS verifier
//     does (INIT and MODE64BIT set, PROVISIONKEY and EINITTOKENKEY clear)
//     and reports DEBUG in the claims for the policy to judge.
//   - Attester (attester.go): evidence for a keep running inside
//     Gramine-SGX, through Gramine's /dev/attestation pseudo-files.
//
// Tag 60000 covers SGX and TDX quotes alike; a dispatcher that reads the
// quote header (intel.ParseQuote, Quote.TEE) and calls Verifier.VerifyQuote
// for SGX quotes belongs to the caller (netattest), not here.
//
// Imports: the standard library, keeps and keeps/intel only (and
// keeps/intel/inteltest in tests). It must not import netattest, runtime,
// wasi or another backend (keeps/sim, the TDX or SNP backends), and keeps
// and keeps/intel must not import it.
package sgx
