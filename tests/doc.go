// Package tests holds Keep's end-to-end tests: they build the keep binary
// and run it as a user would (WASI conformance, exit codes, bad input).
//
// It imports nothing from Keep: everything goes through the CLI.
package tests
