package oci

import (
	"bytes"
	_ "crypto/sha256" // go-digest needs the hashes linked in
	_ "crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrComponent is returned for a WebAssembly component: Keep runs WASI
// preview1 core modules only.
var ErrComponent = errors.New("Keep runs WASI preview1 core modules, this is a component")

// maxLayers bounds the layers a manifest may list (Keep wants one), and
// maxIndexEntries the manifests an index may list.
const (
	maxLayers       = 64
	maxIndexEntries = 1024
)

// docHead is what every manifest-like document may say about itself.
type docHead struct {
	SchemaVersion *int   `json:"schemaVersion"`
	MediaType     string `json:"mediaType"`
	Manifests     []json.RawMessage
	Layers        []json.RawMessage
}

// kindOf decides whether body is an image manifest or an index. The
// document's own mediaType field wins; a registry's Content-Type (ct, may
// be empty) must agree with it when both are present. Unknown types are
// refused (e.g. Docker schema 1, or a foreign artifact type).
func kindOf(ct string, body []byte) (string, error) {
	var h docHead
	if err := json.Unmarshal(body, &h); err != nil {
		return "", fmt.Errorf("manifest is not JSON: %v", err)
	}
	if h.SchemaVersion == nil || *h.SchemaVersion != 2 {
		return "", errors.New("manifest schemaVersion is not 2")
	}
	mt := h.MediaType
	if mt == "" {
		mt = ct
	} else if ct != "" && ct != mt {
		return "", fmt.Errorf("manifest says mediaType %q but the registry served it as %q", mt, ct)
	}
	if mt == "" { // neither says: the image-spec's own rule of thumb
		switch {
		case h.Manifests != nil && h.Layers == nil:
			mt = MediaTypeImageIndex
		case h.Layers != nil && h.Manifests == nil:
			mt = MediaTypeImageManifest
		}
	}
	switch mt {
	case MediaTypeImageManifest, MediaTypeImageIndex:
		return mt, nil
	case "":
		return "", errors.New("manifest has no mediaType")
	}
	return "", fmt.Errorf("manifest media type %q: want %s or %s", mt, MediaTypeImageManifest, MediaTypeImageIndex)
}

// checkDescriptor checks a descriptor's digest and size fields.
func checkDescriptor(what string, d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("%s digest %q: %v", what, d.Digest, err)
	}
	if a := d.Digest.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return fmt.Errorf("%s digest algorithm %q: want sha256 or sha512", what, a)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s size %d is negative", what, d.Size)
	}
	return nil
}

// ParseIndex picks the wasm/wasip1 image manifest from an OCI image index.
// An index without one is refused; one whose Wasm entries are all
// wasip2 is a component; two wasip1 entries are ambiguous.
func ParseIndex(body []byte) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(body, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index: %v", err)
	}
	if len(idx.Manifests) > maxIndexEntries {
		return ocispec.Descriptor{}, fmt.Errorf("index lists %d manifests (at most %d)", len(idx.Manifests), maxIndexEntries)
	}
	var found []ocispec.Descriptor
	component := false
	for i, m := range idx.Manifests {
		p := m.Platform
		if p == nil || p.Architecture != ArchWasm {
			continue
		}
		switch p.OS {
		case OSWasip1:
		case OSWasip2:
			component = true
			continue
		default:
			continue
		}
		if err := checkDescriptor(fmt.Sprintf("index manifests[%d]", i), m); err != nil {
			return ocispec.Descriptor{}, err
		}
		if m.MediaType != MediaTypeImageManifest {
			return ocispec.Descriptor{}, fmt.Errorf("index manifests[%d] (wasm/wasip1) has media type %q, want %s", i, m.MediaType, MediaTypeImageManifest)
		}
		found = append(found, m)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return ocispec.Descriptor{}, fmt.Errorf("index has %d wasm/wasip1 entries; want one", len(found))
	case component:
		return ocispec.Descriptor{}, ErrComponent
	}
	return ocispec.Descriptor{}, errors.New("index has no wasm/wasip1 entry")
}

// ParseManifest checks an OCI image manifest holding a Wasm module and
// returns it with its one Wasm layer. Refused: no layer, more than one Wasm
// layer, a layer of any other media type, a component layer.
func ParseManifest(body []byte) (*ocispec.Manifest, ocispec.Descriptor, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest: %v", err)
	}
	if err := checkDescriptor("config", m.Config); err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	if len(m.Layers) == 0 {
		return nil, ocispec.Descriptor{}, errors.New("manifest has no layers")
	}
	if len(m.Layers) > maxLayers {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest has %d layers (want one Wasm layer)", len(m.Layers))
	}
	var wasm []int
	for i, l := range m.Layers {
		if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
			return nil, ocispec.Descriptor{}, err
		}
		if !wasmLayerTypes[l.MediaType] {
			return nil, ocispec.Descriptor{}, fmt.Errorf("layers[%d]: unknown layer media type %q (want %s)", i, l.MediaType, MediaTypeWasm)
		}
		wasm = append(wasm, i)
	}
	if len(wasm) > 1 {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest has %d Wasm layers; want exactly one", len(wasm))
	}
	layer := m.Layers[wasm[0]]
	if layer.MediaType == MediaTypeComponentLayer {
		return nil, ocispec.Descriptor{}, fmt.Errorf("layer media type %s: %w", layer.MediaType, ErrComponent)
	}
	if layer.Size == 0 {
		return nil, ocispec.Descriptor{}, errors.New("Wasm layer is empty")
	}
	return &m, layer, nil
}

// WasmConfig is the config blob of the CNCF layout
// (MediaTypeWasmConfig). Fields Keep does not check are not listed.
type WasmConfig struct {
	Created      string          `json:"created,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	LayerDigests []digest.Digest `json:"layerDigests"`
}

// ParseWasmConfig checks a CNCF Wasm config against the manifest's one
// layer: architecture "wasm", os "wasip1" (wasip2 is a component), and
// layerDigests, if given, exactly that layer.
func ParseWasmConfig(body []byte, layer digest.Digest) error {
	var c WasmConfig
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("wasm config: %v", err)
	}
	if c.Architecture != ArchWasm {
		return fmt.Errorf("wasm config: architecture %q, want %q", c.Architecture, ArchWasm)
	}
	switch c.OS {
	case OSWasip1:
	case OSWasip2:
		return fmt.Errorf("wasm config os %q: %w", c.OS, ErrComponent)
	default:
		return fmt.Errorf("wasm config: os %q, want %q", c.OS, OSWasip1)
	}
	if c.LayerDigests != nil && (len(c.LayerDigests) != 1 || c.LayerDigests[0] != layer) {
		return fmt.Errorf("wasm config: layerDigests %v do not name the layer %s", c.LayerDigests, layer)
	}
	return nil
}

// wasmMagic starts every WebAssembly binary (core spec, "Binary Format").
var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// CheckCoreModule checks the 8-byte WebAssembly header: magic, then a
// 16-bit version and 16-bit layer. A core module is version 1 layer 0; the
// component model's binaries have layer 1 (version 0x0d today).
func CheckCoreModule(wasm []byte) error {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], wasmMagic) {
		return errors.New("not a WebAssembly module (no \\0asm header)")
	}
	version := binary.LittleEndian.Uint16(wasm[4:6])
	layer := binary.LittleEndian.Uint16(wasm[6:8])
	switch {
	case layer == 1:
		return ErrComponent
	case layer != 0 || version != 1:
		return fmt.Errorf("WebAssembly binary version %d layer %d: want a core module (version 1)", version, layer)
	}
	return nil
}
