package oci

import (
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzManifest feeds outside bytes to every parser of registry documents:
// whatever they are, the parsers return an error or a result that keeps
// the promises the fetch path relies on, and never panic.
func FuzzManifest(f *testing.F) {
	wasm := module("fuzz")
	config, manifest, layer, err := Artifact(wasm)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(manifest, "")
	f.Add(config, "")
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+digest.FromBytes(manifest).String()+`","size":1,"platform":{"architecture":"wasm","os":"wasip1"}}]}`), MediaTypeImageIndex)
	f.Add([]byte(`{"schemaVersion":2,"layers":[]}`), MediaTypeImageManifest)
	f.Add([]byte(`{"schemaVersion":1}`), "application/vnd.docker.distribution.manifest.v1+json")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		if mt, err := kindOf(ct, body); err == nil && mt != MediaTypeImageManifest && mt != MediaTypeImageIndex {
			t.Fatalf("kindOf = %q", mt)
		}
		if m, l, err := ParseManifest(body); err == nil {
			n := 0
			for _, x := range m.Layers {
				if wasmLayerTypes[x.MediaType] {
					n++
				}
			}
			if n != 1 || len(m.Layers) != 1 || l.MediaType == MediaTypeComponentLayer || l.Size <= 0 || l.Digest.Validate() != nil {
				t.Fatalf("ParseManifest accepted %s", body)
			}
		}
		if d, err := ParseIndex(body); err == nil {
			if d.Platform == nil || d.Platform.OS != OSWasip1 || d.Platform.Architecture != ArchWasm || d.MediaType != MediaTypeImageManifest || d.Digest.Validate() != nil {
				t.Fatalf("ParseIndex accepted %s", body)
			}
		}
		if err := ParseWasmConfig(body, layer.Digest); err == nil {
			var c WasmConfig
			if json.Unmarshal(body, &c) != nil || c.OS != OSWasip1 {
				t.Fatalf("ParseWasmConfig accepted %s", body)
			}
		}
		if CheckCoreModule(body) == nil && (len(body) < 8 || body[4] != 1) {
			t.Fatalf("CheckCoreModule accepted %x", body)
		}
		if r, err := ParseReference(string(body)); err == nil {
			if (r.Tag == "") == (r.Digest == "") || r.Registry == "" || r.Repository == "" {
				t.Fatalf("ParseReference(%q) = %+v", body, r)
			}
			if r2, err := ParseReference("oci://" + r.String()); err != nil || r2.String() != r.String() {
				t.Fatalf("ParseReference round trip %q: %v %v", body, r2, err)
			}
		}
	})
}
