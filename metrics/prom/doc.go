// Package prom implements metrics.Sink with Prometheus metrics
// (github.com/prometheus/client_golang) in a registry of its own, never
// the library's global one, and serves them in the Prometheus text format.
//
// It owns the metric names and their help texts (see Registry). Only the
// CLI imports it; the runtime and the WASI layer see metrics.Sink.
//
// Imports: the standard library, metrics and client_golang. It must not
// import runtime, wasi, netattest, keeps or the CLI.
package prom
