// Package bench holds Keep's benchmarks (`make bench`, see
// docs/BENCHMARKS.md). The scripts and the harness (bench/harness) measure
// start-up, compute, HTTP, bulk TLS and idle CPU through the keep binary;
// verify_test.go measures RA-TLS certificate verification in-process with
// `go test -bench`. None of it runs in `make test`.
package bench
