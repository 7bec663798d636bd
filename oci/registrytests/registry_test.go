package registrytests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/keepwasm/keep/internal/registrytest"
	. "github.com/keepwasm/keep/oci"
)

// module returns a small valid core module whose bytes depend on name (a
// custom section holds it).
func module(name string) []byte {
	b := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0x00}
	payload := append([]byte{byte(len("keep"))}, "keep"+name...)
	b = append(b, byte(len(payload)))
	return append(b, payload...)
}

// component is the header of a component-model binary (layer 1).
var component = []byte{0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatalf("ParseReference(%q): %v", s, err)
	}
	return r
}

// opts are options for a test: no Docker config, a fresh store.
func opts(t *testing.T) Options {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Options{NoDockerConfig: true, Store: st}
}

// wasmManifest pushes a CNCF-layout config for layers to repository name
// of reg and returns the manifest over them.
func wasmManifest(t *testing.T, reg *registrytest.Registry, name, os string, layers ...ocispec.Descriptor) ocispec.Manifest {
	var ds []digest.Digest
	for _, l := range layers {
		ds = append(ds, l.Digest)
	}
	cfg, _ := json.Marshal(WasmConfig{Architecture: ArchWasm, OS: os, LayerDigests: ds})
	m := ocispec.Manifest{MediaType: MediaTypeImageManifest, Config: reg.PushBlob(t, name, MediaTypeWasmConfig, cfg), Layers: layers}
	m.SchemaVersion = 2
	return m
}

func TestPushFetchRoundTrip(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	o := opts(t)
	wasm := module("round-trip")
	d, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/hello:v1"), wasm, o)
	if err != nil {
		t.Fatal(err)
	}
	// The same module pushed again has the same manifest digest.
	if d2, err := Push(ctx(t), mustPushRef(t, "oci://"+reg.Host+"/other"), wasm, o); err != nil || d2 != d {
		t.Fatalf("second push: %v, %v; want %s", d2, err, d)
	}
	// The artifact is in the CNCF layout.
	_, manifest, layer, _ := Artifact(wasm)
	if digest.FromBytes(manifest) != d {
		t.Fatalf("Push returned %s, Artifact's manifest is %s", d, digest.FromBytes(manifest))
	}
	var m ocispec.Manifest
	json.Unmarshal(manifest, &m)
	if m.SchemaVersion != 2 || m.MediaType != MediaTypeImageManifest || m.ArtifactType != MediaTypeWasmConfig ||
		m.Config.MediaType != MediaTypeWasmConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeWasm ||
		m.Layers[0].Digest != digest.FromBytes(wasm) || layer.Size != int64(len(wasm)) {
		t.Fatalf("manifest %s", manifest)
	}

	byTag, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/hello:v1"), o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byTag.Wasm, wasm) || byTag.ManifestDigest != d || byTag.FromStore {
		t.Fatalf("by tag: digest %s fromStore %v", byTag.ManifestDigest, byTag.FromStore)
	}
	if got := byTag.Pinned().String(); got != reg.Host+"/hello@"+d.String() {
		t.Fatalf("Pinned = %s", got)
	}
	// By digest, with every blob in the store: no network at all, so it
	// works with the registry gone.
	reg.Server.Close()
	byDigest, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/hello@"+d.String()), o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byDigest.Wasm, wasm) || !byDigest.FromStore || byDigest.ManifestDigest != d {
		t.Fatalf("by digest: fromStore %v digest %s", byDigest.FromStore, byDigest.ManifestDigest)
	}
	// A tag always asks the registry (tags move).
	if _, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/hello:v1"), o); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("tag with the registry gone: %v", err)
	}
}

// TestStoreTamperedOnDisk: a store blob changed on disk is never served;
// it is removed and fetched again from the registry.
func TestStoreTamperedOnDisk(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	o := opts(t)
	wasm := module("store")
	d, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/s:v1"), wasm, o)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, "oci://"+reg.Host+"/s@"+d.String())
	if _, err := Fetch(ctx(t), ref, o); err != nil {
		t.Fatal(err)
	}
	p := o.Store.Path(digest.FromBytes(wasm))
	bad := append([]byte(nil), wasm...)
	bad[len(bad)-1] ^= 1
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Fetch(ctx(t), ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Wasm, wasm) || m.FromStore {
		t.Fatalf("after tampering: fromStore %v, bytes equal %v", m.FromStore, bytes.Equal(m.Wasm, wasm))
	}
	// Tampered again and the registry gone: an error, not the bad bytes.
	os.WriteFile(p, bad, 0o600)
	reg.Server.Close()
	if m, err := Fetch(ctx(t), ref, o); err == nil {
		t.Fatalf("tampered store, registry gone: got %d bytes", len(m.Wasm))
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tampered blob still in the store: %v", err)
	}
}

func TestFetchTamperedBlob(t *testing.T) {
	wasm := module("tampered")
	ld := digest.FromBytes(wasm)
	for _, tc := range []struct {
		name  string
		alter func([]byte) []byte
		want  string
	}{
		{"flipped-byte", func(b []byte) []byte { b = append([]byte(nil), b...); b[len(b)-1] ^= 0x80; return b }, "digest mismatch"},
		{"longer", func(b []byte) []byte { return append(append([]byte(nil), b...), 0) }, "Content-Length"},
		{"shorter", func(b []byte) []byte { return b[:len(b)-1] }, "Content-Length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := registrytest.Start(t, registrytest.Options{Wrap: registrytest.Tamper(ld, tc.alter)})
			o := opts(t)
			d, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/t:v1"), wasm, o)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/t@"+d.String()), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch = %v, %v; want an error with %q", m, err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if _, err := os.Stat(o.Store.Path(ld)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("tampered layer reached the store: %v", err)
			}
		})
	}
}

// TestFetchBadInput: each bad artifact or situation is refused with one
// line naming the problem.
func TestFetchBadInput(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	blob := func(mt string, data []byte) ocispec.Descriptor { return reg.PushBlob(t, "bad", mt, data) }
	manifest := func(tag string, v any) { reg.PushManifest(t, "bad", tag, v) }
	wm := func(os string, layers ...ocispec.Descriptor) ocispec.Manifest {
		return wasmManifest(t, reg, "bad", os, layers...)
	}
	good := blob(MediaTypeWasm, module("good"))
	other := blob(MediaTypeWasm, module("other"))
	comp := blob(MediaTypeWasm, component)

	manifest("two-layers", wm(OSWasip1, good, other))
	tarLayer := blob("application/vnd.oci.image.layer.v1.tar+gzip", []byte("not a tar"))
	manifest("unknown-layer", wm(OSWasip1, good, tarLayer))
	compLayer := blob(MediaTypeComponentLayer, component)
	manifest("component-layer", wm(OSWasip1, compLayer))
	manifest("component-bytes", wm(OSWasip1, comp))
	manifest("component-config", wm(OSWasip2, good))
	manifest("config-other-layer", func() ocispec.Manifest {
		m := wm(OSWasip1, other)
		m.Layers = []ocispec.Descriptor{good}
		return m
	}())
	manifest("good", wm(OSWasip1, good))
	wrongSize := good
	wrongSize.Size++
	manifest("wrong-size", wm(OSWasip1, wrongSize))
	goodManifest := wm(OSWasip1, good)
	mdata, _ := json.Marshal(goodManifest)
	linux := &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	manifest("index-no-wasm", ocispec.Index{Versioned: goodManifest.Versioned, MediaType: MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(mdata), Size: int64(len(mdata)), Platform: linux}}})
	manifest("index-wasip2", ocispec.Index{Versioned: goodManifest.Versioned, MediaType: MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(mdata), Size: int64(len(mdata)), Platform: &ocispec.Platform{Architecture: ArchWasm, OS: OSWasip2}}}})
	manifest("index-good", ocispec.Index{Versioned: goodManifest.Versioned, MediaType: MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(mdata), Size: int64(len(mdata)), Platform: linux},
		{MediaType: MediaTypeImageManifest, Digest: digest.FromBytes(mdata), Size: int64(len(mdata)), Platform: &ocispec.Platform{Architecture: ArchWasm, OS: OSWasip1}}}})

	// A registry that serves a manifest over 4 MiB (distribution itself
	// refuses to store one, so a middleware serves it).
	bigBody := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"annotations":{"x":"%s"}}`, MediaTypeImageManifest, strings.Repeat("a", MaxManifestSize))
	big := registrytest.Start(t, registrytest.Options{Wrap: registrytest.ServeManifest("big", MediaTypeImageManifest, bigBody)})

	closed := func() string { // a port with nothing listening
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}()

	for _, tc := range []struct {
		name string
		ref  string
		o    func(*Options)
		want string
	}{
		{name: "unreachable", ref: "oci://" + closed + "/x:v1", want: "registry unreachable"},
		{name: "repo-not-found", ref: "oci://" + reg.Host + "/nope:v1", want: "not found"},
		{name: "tag-not-found", ref: "oci://" + reg.Host + "/bad:nope", want: "not found"},
		{name: "digest-not-found", ref: "oci://" + reg.Host + "/bad@" + digest.FromString("x").String(), want: "not found"},
		{name: "two-wasm-layers", ref: "oci://" + reg.Host + "/bad:two-layers", want: "2 Wasm layers"},
		{name: "unknown-layer-type", ref: "oci://" + reg.Host + "/bad:unknown-layer", want: `unknown layer media type "application/vnd.oci.image.layer.v1.tar+gzip"`},
		{name: "component-layer-type", ref: "oci://" + reg.Host + "/bad:component-layer", want: ErrComponent.Error()},
		{name: "component-bytes", ref: "oci://" + reg.Host + "/bad:component-bytes", want: ErrComponent.Error()},
		{name: "component-config", ref: "oci://" + reg.Host + "/bad:component-config", want: ErrComponent.Error()},
		{name: "config-names-other-layer", ref: "oci://" + reg.Host + "/bad:config-other-layer", want: "layerDigests"},
		{name: "wrong-size", ref: "oci://" + reg.Host + "/bad:wrong-size", want: "Content-Length"},
		{name: "over-size-limit", ref: "oci://" + reg.Host + "/bad:good", o: func(o *Options) { o.MaxModuleSize = 8 }, want: "exceeds the 8-byte limit"},
		{name: "manifest-over-4MiB", ref: "oci://" + big.Host + "/x:big", want: "4194304"},
		{name: "index-without-wasip1", ref: "oci://" + reg.Host + "/bad:index-no-wasm", want: "index has no wasm/wasip1 entry"},
		{name: "index-wasip2-only", ref: "oci://" + reg.Host + "/bad:index-wasip2", want: ErrComponent.Error()},
		{name: "tag-with-require-digest", ref: "oci://" + reg.Host + "/bad:good", o: func(o *Options) { o.RequireDigest = true }, want: "digests are required"},
		{name: "http-non-loopback", ref: "http://registry.invalid:5000/x:v1", want: "--insecure-registry registry.invalid:5000"},
		{name: "password-over-plain-http", ref: "oci://registry.invalid/x:v1", o: func(o *Options) {
			o.InsecureRegistries = []string{"registry.invalid"}
			o.Credential = &auth.Credential{Username: "u", Password: "p"}
		}, want: "in clear"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t)
			if tc.o != nil {
				tc.o(&o)
			}
			m, err := Fetch(ctx(t), mustRef(t, tc.ref), o)
			if err == nil {
				t.Fatalf("Fetch succeeded (%d bytes); want %q", len(m.Wasm), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "oci://") {
				t.Fatalf("Fetch error %q; want one line with %q", err, tc.want)
			}
		})
	}

	// The good ones among them, to show the cases differ only in the flaw.
	for _, tag := range []string{"good", "index-good"} {
		m, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/bad:"+tag), opts(t))
		if err != nil || !bytes.Equal(m.Wasm, module("good")) {
			t.Fatalf("%s: %v", tag, err)
		}
	}
}

func TestFetchAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{User: "ci", Password: "s3cret"})
	good := &auth.Credential{Username: "ci", Password: "s3cret"}
	o := opts(t)
	o.Credential = good
	d, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/private:v1"), module("private"), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cred *auth.Credential
		ok   bool
	}{
		{"right", good, true},
		{"wrong-password", &auth.Credential{Username: "ci", Password: "nope"}, false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t)
			o.Credential = tc.cred
			_, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/private@"+d.String()), o)
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "authentication refused")) {
				t.Fatalf("Fetch: %v", err)
			}
		})
	}
	// Docker's config.json is read when no static credential is given.
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":"Y2k6czNjcmV0"}}}`, reg.Host) // base64("ci:s3cret")
	if err := os.WriteFile(dir+"/config.json", []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	o = opts(t)
	o.NoDockerConfig, o.DockerConfig = false, dir+"/config.json"
	if _, err := Fetch(ctx(t), mustRef(t, "oci://"+reg.Host+"/private:v1"), o); err != nil {
		t.Fatalf("with docker config: %v", err)
	}
}

func TestPushRefusesComponents(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	_, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/c:v1"), component, opts(t))
	if err == nil || !strings.Contains(err.Error(), ErrComponent.Error()) {
		t.Fatalf("Push(component) = %v", err)
	}
	if _, err := Push(ctx(t), mustRef(t, "oci://"+reg.Host+"/c@"+digest.FromString("x").String()), module("x"), opts(t)); err == nil {
		t.Fatal("Push to a digest succeeded")
	}
}

func mustPushRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParsePushReference(s)
	if err != nil {
		t.Fatalf("ParsePushReference(%q): %v", s, err)
	}
	return r
}
