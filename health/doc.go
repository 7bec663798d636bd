// Package health serves a keep's operational endpoints over plain HTTP on
// the address given by `keep run --health-addr`:
//
//	/healthz   200 while the keep is alive (starting, running or draining)
//	/readyz    200 only while the guest runs and every listener accepts
//	/metrics   the Prometheus metrics, when a handler is given
//	/eventlog  the RTMR3 event log, when one is kept (TDX)
//
// None of them touches the keep's listeners, its TLS identity or its TEE:
// a probe never causes an attestation or a handshake. The server answers
// GET and HEAD only, with bounded header sizes and timeouts.
//
// It owns the endpoint paths and what they answer. It learns the keep's
// state through a Status function the CLI supplies.
//
// Imports: the standard library only. It must not import runtime, wasi,
// netattest, keeps or the CLI.
package health
