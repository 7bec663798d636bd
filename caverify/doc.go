// Package caverify is the host side of Keep's attestation CA: it verifies
// a certificate request's evidence with netattest and applies the CA's
// policy, giving a ca.Verdict. The keep serves it to a CA guest through
// the host function keep.verify_csr; tests call it directly.
//
// It imports ca and netattest; it must not import runtime, wasi or cmd.
package caverify
