package netattest

import "github.com/keepwasm/keep/keeps/tdx"

// defaultTDX verifies TDX quotes with keeps/tdx (go-tdx-guest: signatures,
// PCK chain to the Intel SGX Root CA, collateral, TCB status).
func defaultTDX() QuoteVerifier { return tdx.NewVerifier() }
