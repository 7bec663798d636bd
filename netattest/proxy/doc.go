// Package proxy is a local attested bridge to a keep, for clients that
// cannot verify RA-TLS themselves (browsers, curl): it accepts plaintext
// connections and forwards them to the keep over TLS, and only after the
// keep's RA-TLS certificate has passed verification and the policy.
//
// Every connection to the keep is verified during its handshake
// (tls.Config.VerifyConnection), before a byte of the client's is sent.
// Verification reports are cached by the certificate's SHA-256
// fingerprint, so a keep that restarts with a new certificate is verified
// afresh automatically, while reconnecting to the same keep costs no new
// verification.
//
// In HTTP mode (Proxy.ServeHTTP) the proxy is a reverse proxy that also
// answers GET /.well-known/keep-attestation itself with the verification
// of the keep's current certificate; a refused keep gets no request, and
// the client a 502 stating why. In TCP mode (Proxy.ServeTCP) it bridges raw
// bytes and closes a client's connection when the keep is refused.
//
// The plaintext side is outside the attestation: serve it on loopback.
//
// It imports netattest (and through it keeps); it must not import runtime,
// wasi or the CLI.
package proxy
