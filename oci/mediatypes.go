package oci

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// Media types of a Wasm artifact.
//
// The CNCF TAG Runtime "Wasm OCI Artifact layout"
// (tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact) defines the
// config type MediaTypeWasmConfig and the single layer type MediaTypeWasm;
// its config's "os" is "wasip1" for a core module and "wasip2" for a
// component. The two older layer types are what earlier tools wrote:
// wasm-to-oci (MediaTypeWasmContentLayer, with config
// MediaTypeWasmConfigV1) and runwasi's oci-tar-builder
// (MediaTypeComponentLayer, whose artifacts hold components).
const (
	// MediaTypeWasm is the layer type of the CNCF layout: the module's
	// exact bytes.
	MediaTypeWasm = "application/wasm"
	// MediaTypeWasmContentLayer is wasm-to-oci's layer type.
	MediaTypeWasmContentLayer = "application/vnd.wasm.content.layer.v1+wasm"
	// MediaTypeComponentLayer is runwasi's component layer type. Keep runs
	// WASI preview1 core modules, so it refuses such a layer.
	MediaTypeComponentLayer = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm"
	// MediaTypeWasmConfig is the CNCF layout's config type.
	MediaTypeWasmConfig = "application/vnd.wasm.config.v0+json"
	// MediaTypeWasmConfigV1 is wasm-to-oci's config type (not read).
	MediaTypeWasmConfigV1 = "application/vnd.wasm.config.v1+json"
)

// From the OCI image-spec v1.1 (specs-go/v1/mediatype.go, manifest.md,
// image-index.md).
const (
	// MediaTypeImageManifest is an OCI image manifest.
	MediaTypeImageManifest = ocispec.MediaTypeImageManifest
	// MediaTypeImageIndex is an OCI image index.
	MediaTypeImageIndex = ocispec.MediaTypeImageIndex
)

// Platform of a Wasm artifact in an index or config (CNCF layout: the
// "architecture" is always "wasm"; "os" names the WASI version, as GOOS
// does for wasip1).
const (
	ArchWasm    = "wasm"
	OSWasip1    = "wasip1"
	OSWasip2    = "wasip2"
	osWasiOlder = "wasi" // some older indexes; treated as not preview1-specific
)

// Limits on what a registry may send.
const (
	// MaxManifestSize bounds a manifest or index (4 MiB, the limit the OCI
	// distribution-spec lets registries apply and distribution applies).
	MaxManifestSize = 4 << 20
	// MaxConfigSize bounds a Wasm config blob.
	MaxConfigSize = 1 << 20
	// DefaultMaxModuleSize bounds the Wasm layer unless Options say
	// otherwise.
	DefaultMaxModuleSize = 256 << 20
	// MaxReferenceLength bounds a reference's text.
	MaxReferenceLength = 1024
)

// wasmLayerTypes are the layer media types that may hold a module.
var wasmLayerTypes = map[string]bool{
	MediaTypeWasm:             true,
	MediaTypeWasmContentLayer: true,
	MediaTypeComponentLayer:   true,
}
