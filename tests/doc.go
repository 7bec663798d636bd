// Package tests holds Keep's end-to-end tests: they build the keep binary
// and run it as a user would (WASI conformance, exit codes, bad input).
//
// Everything a keep does goes through the CLI; a test may use the
// netattest package as a client, as a user's program would.
package tests
