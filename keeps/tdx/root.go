package tdx

import (
	"crypto/x509"

	"github.com/keepwasm/keep/keeps/intel"
)

// IntelSGXRootCASHA256 is the hex SHA-256 of the pinned Intel SGX Root CA
// (the same certificate go-tdx-guest embeds); keeps/intel holds it.
const IntelSGXRootCASHA256 = intel.IntelSGXRootCASHA256

// IntelSGXRootCA returns a fresh copy of the pinned Intel SGX Root CA. The
// verifier always hands go-tdx-guest an explicit root pool built from it
// (or from test roots): with a nil pool go-tdx-guest falls back to its own
// copy but also logs a line to stdout on every call.
func IntelSGXRootCA() *x509.Certificate { return intel.IntelSGXRootCA() }
