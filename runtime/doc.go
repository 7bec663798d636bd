// Package runtime loads, digests, compiles and runs WebAssembly modules for
// Keep, and reads their Enarx.toml.
//
// It owns: the module digest (SHA-384 of the exact bytes, the identity later
// bound into attestation evidence); the wazero engine and its configuration
// (compiler, memory limit, context-driven stop); the safe defaults wazero
// lacks (crypto/rand randomness, real clocks, a real sleep that wakes on
// cancel); guests' linear memory (memory*.go: reservations outside the Go
// heap); the authenticated compilation cache; the Enarx.toml schema; and
// a run's lifecycle for operators (control.go: its phase, its listeners'
// open connections, draining them, and the events it reports to a
// metrics.Sink).
//
// It must not import cmd/keep. It is the top of the library: netattest,
// keeps and wasi are imported by it, never the other way round.
package runtime
