// Package tdx is Keep's Intel TDX backend.
//
// It owns:
//
//   - Attester (attester.go): TDX quotes for a keep running in a TD, through
//     Linux configfs-tsm (/sys/kernel/config/tsm/report, provider
//     "tdx_guest") or, failing that, /dev/tdx_guest via go-tdx-guest's client
//     package. Both are injectable (Attester.TSM, Attester.QuoteProvider).
//     The evidence is keeps.Evidence{Tag: keeps.TagIntelQuote, Data: quote}.
//   - Verifier (verifier.go): verification of TDX quotes, versions 4 and 5,
//     with go-tdx-guest (abi.QuoteToProto, verify.TdxQuoteContext) against
//     the pinned Intel SGX Root CA (root.go), or test roots given through
//     Verifier.InsecureTestRoots. Quotes are first parsed by keeps/intel's
//     strict parser, which never panics and which must agree with
//     go-tdx-guest's parse byte for byte; the claims come from it.
//   - Collateral (collateral.go): dcap-qvl JSON collateral bundles
//     (keeps.VerifyOptions.Collateral["intel"]), served to go-tdx-guest as
//     if from Intel PCS, or real fetches from Intel PCS when
//     keeps.VerifyOptions.AllowNetwork is set.
//   - The TCB status (tcb.go), evaluated from the collateral go-tdx-guest
//     verified, the way Intel's Quote Verification Library does it
//     (go-tdx-guest's own status check ignores the platform's level when a
//     TDX module identity applies, and fails rather than reporting a status
//     that is not UpToDate).
//   - tdxtest (subpackage): a test PKI shaped like Intel's, quotes signed
//     with it for any report data, matching collateral, and a fake
//     configfs-tsm that serves them. For tests only.
//
// Tag 60000 covers SGX and TDX quotes; a dispatcher that reads the quote
// header and calls Verifier.VerifyQuote for TDX quotes belongs to the
// caller (netattest), not here.
//
// Side effects of go-tdx-guest, imported here: its client package
// registers the flag -tdx_guest_device_path on flag.CommandLine, and its
// client and verify packages initialise github.com/google/logger to write
// to stdout. The verifier never lets go-tdx-guest fall back to its
// embedded root, the one path that logs at the default level.
//
// Imports: the standard library, keeps, keeps/intel (the quote parser and
// claims), go-tdx-guest and go-configfs-tsm. It must not import netattest,
// runtime, wasi or another backend (keeps/sim, keeps/sgx, the SNP
// backend); keeps and keeps/intel must not import it.
package tdx
