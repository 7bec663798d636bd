// Package backends lists Keep's TEE backends, detects which this machine
// can use, and picks one for a keep: the part of backend selection a
// library user needs as much as the CLI does.
//
// It imports the backends; no backend imports it. It must not import
// netattest, runtime or wasi.
package backends
