// Package bench holds Keep's benchmarks (`make bench`, see
// docs/BENCHMARKS.md). The scripts and the harness (bench/harness) measure
// start-up, compute, HTTP, bulk TLS, memory per idle TLS connection and idle
// CPU through the keep binary, against the wazero CLI, native Go and, for
// start-up and compute, wasmtime (bench/wasmtime, its own Go module so that
// cgo never reaches keep);
// verify_test.go measures RA-TLS certificate verification in-process with
// `go test -bench`. None of it runs in `make test`.
package bench
