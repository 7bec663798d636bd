// Package image builds Keep's container image: the static keep binary, a
// passwd/group file naming the unprivileged user 65532, and the Mozilla CA
// roots for web-PKI connects, and nothing else (no shell, no package
// manager, no libc). It writes the image as an OCI image layout or pushes it
// to a registry, with go-containerregistry and without a container engine.
//
// The image is reproducible: the binary is built with CGO_ENABLED=0,
// -trimpath, -buildvcs=false and an empty build ID, every file in every
// layer has the same fixed owner, mode and time, and the image config's
// time is fixed too (SOURCE_DATE_EPOCH, else the Unix epoch). Two builds of
// the same commit with the same Go toolchain give the same manifest digest,
// which is what Kubernetes manifests pin.
//
// The CA roots come from the Go module golang.org/x/crypto/x509roots/fallback
// (Mozilla's NSS trust store as the Go team publishes it), pinned by go.sum,
// rather than from the build machine's ca-certificates package, so that the
// bundle, and hence the digest, does not depend on the machine.
//
// This package is a build tool. It must not import keep's own packages
// (cmd/keep, runtime, wasi, netattest, keeps), and nothing in keep may import
// it: it is never linked into the keep binary. Its command is keep-image.
package image
