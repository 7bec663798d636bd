// Package sim is Keep's software backend, for machines without a TEE.
//
// Its evidence makes no hardware claim. It is signed by an ECDSA key the
// keep process generates at start, so it proves nothing beyond "this
// process said so": its only use is development and tests. The evidence
// says "SIMULATED" in its format string, every verifier result marks it
// Simulated, and netattest's policies refuse it unless a policy allows
// simulated evidence explicitly.
//
// It must not import netattest, runtime or wasi, nor another backend.
package sim
