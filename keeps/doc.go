// Package keeps defines Keep's TEE backends: an Attester turns 64 bytes of
// report data into Evidence on the keep's side, and a Verifier, chosen by
// the evidence's CBOR tag from a Registry, checks Evidence on the client's
// side and returns typed Claims.
//
// The backends live in sub-packages (tdx, snp, sgx, sim; keeps/intel holds
// the Intel quote format and DCAP verification shared by SGX and TDX;
// keeps/backends detects and selects them),
// each registering its verifier. This package owns only the interface and
// the registry; it must not import netattest, runtime or wasi, and the
// backends must not import each other.
package keeps
