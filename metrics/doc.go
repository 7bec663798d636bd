// Package metrics is how Keep's parts report what they count: a small
// interface, Sink, that the runtime, the WASI layer and the CLI call at
// each event (a connection opened, a handshake done, a peer verified, the
// guest ending, a cache lookup, a module fetched), without depending on a
// metrics library.
//
// It owns the Sink interface, its no-op implementation (Discard) and the
// bounded label values (Outcome, Reason*). The Prometheus implementation
// lives in metrics/prom and is imported by the CLI only.
//
// Imports: the standard library only. It must not import any other Keep
// package, so that every package may import it.
package metrics
