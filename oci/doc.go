// Package oci fetches WebAssembly modules from OCI registries and publishes
// them there, in the CNCF TAG Runtime "Wasm OCI Artifact" layout, through
// oras-go (no hand-written registry HTTP).
//
// It owns: parsing oci:// references; the transport rules (HTTPS, except
// loopback registries and those named with --insecure-registry); registry
// credentials (Docker's config.json and credential helpers, or one static
// credential for CI); the checks on what a registry serves (manifest and
// index shape, media types, exactly one Wasm layer, a core module rather
// than a component, size limits, and the digest and size of every byte
// fetched); and a content-addressed local store of verified blobs, which it
// verifies again on every read.
//
// What a keep runs is identified by the SHA-384 of the module's bytes (the
// runtime's digest), never by anything this package reports; the manifest
// digest it returns is an extra, the registry's name for the same bytes.
//
// It must not import runtime, wasi, netattest, keeps or cmd/keep: it hands
// verified bytes and digests to its caller and knows nothing of keeps.
package oci
