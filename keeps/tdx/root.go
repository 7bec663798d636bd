package tdx

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
)

// intelSGXRootCADER is Intel's "Intel SGX Root CA" certificate (DER;
// serial 22650cd65a9d3489f383b49552bf501b392706ac, valid
// 2018-05-21T10:45:10Z to 2049-12-31T23:59:59Z, ECDSA P-256), the root of
// every PCK certificate chain and of every collateral issuer chain. Intel
// publishes it on certificates.trustedservices.intel.com; this copy came
// from shared/vectors (tdx/dcap-qvl-intel-sgx-root-ca.der) and is the same
// certificate go-tdx-guest embeds (verify/trusted_root.pem).
//
// The verifier always hands go-tdx-guest an explicit root pool built from
// this certificate (or from test roots): with a nil pool go-tdx-guest falls
// back to its own copy but also logs a warning line to stdout on every
// call.
//
//go:embed intel_sgx_root_ca.der
var intelSGXRootCADER []byte

// IntelSGXRootCASHA256 is the hex SHA-256 of the pinned root's DER. The
// package refuses to start if the embedded file does not match it.
const IntelSGXRootCASHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// IntelSGXRootCA returns a fresh copy of the pinned Intel SGX Root CA.
func IntelSGXRootCA() *x509.Certificate {
	c, err := x509.ParseCertificate(intelSGXRootCADER)
	if err != nil {
		panic("tdx: embedded Intel SGX Root CA does not parse: " + err.Error())
	}
	return c
}

func init() {
	sum := sha256.Sum256(intelSGXRootCADER)
	if hex.EncodeToString(sum[:]) != IntelSGXRootCASHA256 {
		panic("tdx: embedded Intel SGX Root CA has the wrong hash")
	}
}
