// Package snp is Keep's AMD SEV-SNP backend.
//
// It owns the SEV-SNP attester (a keep running in an SEV-SNP guest asks
// the AMD secure processor for an attestation report through Linux's
// configfs-tsm interface, or through /dev/sev-guest on older kernels) and
// the verifier of the evidence it produces (tag keeps.TagSEVSNPReport):
// the report's signature is checked with the VCEK (or VLEK) certificate,
// and that certificate's chain to AMD's root key (ARK), using
// github.com/google/go-sev-guest.
//
// Evidence format: Data is the raw 1184-byte ATTESTATION_REPORT structure
// (AMD SEV Secure Nested Paging Firmware ABI Specification, pub. 56860,
// "ATTESTATION_REPORT Structure"). Endorsements, when present, are the
// certificate table the host gives the guest with an extended report (AMD
// GHCB specification, pub. 56421, "SNP Extended Guest Request"): see
// ParseCertTable. The table usually carries the VCEK, ASK and ARK.
//
// Trust: the verifier trusts only AMD's ARKs embedded in go-sev-guest
// (Milan, Genoa, Turin), unless a test replaces them through
// Verifier.InsecureTestRoots. ASK and ARK certificates that travel with the
// evidence or come as collateral are never trusted.
//
// This package must not import netattest, runtime or wasi, nor another
// backend (sim, intel, tdx, sgx). Its tests may import netattest, from the
// external test package snp_test.
//
// Importing this package registers go-sev-guest's command-line flags
// (-sev_guest_device_path, -self_throttle_duration, -self_throttle_burst,
// -default_vmpl, -workaround_kds_productname) in flag.CommandLine; Keep's
// defaults leave them untouched.
package snp
