package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/keepwasm/keep/internal/registrytest"
	"github.com/keepwasm/keep/oci"
)

// greeting is what the hello guest prints for the name Keep.
const greeting = "Hello, Keep, from a keep!\n"

// TestOCIPushRun is the README's "Deploy from a registry" through the
// keep binary and a real registry: push, run by digest, run by tag (which
// says what it resolved to), pull, and a second run from the local store
// with the registry gone.
func TestOCIPushRun(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	hello := buildGuest(t, "hello")
	cache := t.TempDir()

	r := keep(t, "", nil, "push", hello, "oci://"+reg.Host+"/hello:v1")
	d := strings.TrimSpace(r.stdout)
	if r.code != 0 || digest.Digest(d).Validate() != nil {
		t.Fatalf("keep push: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	pinned := "oci://" + reg.Host + "/hello@" + d

	r = keep(t, "", nil, "run", "--registry-cache", cache, pinned, "Keep")
	if r.code != 0 || !strings.HasPrefix(r.stdout, greeting) || r.stderr != "" {
		t.Fatalf("keep run by digest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = keep(t, "", nil, "run", "--registry-cache", "none", "oci://"+reg.Host+"/hello:v1", "Keep")
	if r.code != 0 || !strings.HasPrefix(r.stdout, greeting) ||
		r.stderr != fmt.Sprintf("keep: oci://%s/hello:v1 resolved to %s (pin it: oci://%s/hello@%s)\n", reg.Host, d, reg.Host, d) {
		t.Fatalf("keep run by tag: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	dir := t.TempDir()
	pulled := filepath.Join(dir, "pulled.wasm")
	r = keep(t, "", nil, "pull", "--registry-cache", "none", pinned, pulled)
	if r.code != 0 || !bytes.Equal(mustRead(t, pulled), mustRead(t, hello)) {
		t.Fatalf("keep pull: exit %d\n%s", r.code, r.stderr)
	}
	if r := keep(t, "", nil, "pull", "--registry-cache", "none", pinned, pulled); r.code != 125 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("keep pull over a file: exit %d\n%s", r.code, r.stderr)
	}

	// The store holds every blob of the digest: no registry needed.
	reg.Server.Close()
	r = keep(t, "", nil, "run", "--registry-cache", cache, pinned, "Keep")
	if r.code != 0 || !strings.HasPrefix(r.stdout, greeting) {
		t.Fatalf("keep run from the store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestOCIBadInput: every bad registry input gives one line on stderr that
// starts "keep: ", a non-zero exit, and runs nothing (the module would
// print to stdout).
func TestOCIBadInput(t *testing.T) {
	t.Parallel()
	hello := mustRead(t, buildGuest(t, "hello"))
	reg := registrytest.Start(t, registrytest.Options{})
	blob := func(mt string, data []byte) ocispec.Descriptor { return reg.PushBlob(t, "bad", mt, data) }
	cfgFor := func(os string, layers ...ocispec.Descriptor) ocispec.Descriptor {
		var ds []digest.Digest
		for _, l := range layers {
			ds = append(ds, l.Digest)
		}
		b, _ := json.Marshal(oci.WasmConfig{Architecture: oci.ArchWasm, OS: os, LayerDigests: ds})
		return blob(oci.MediaTypeWasmConfig, b)
	}
	manifest := func(tag string, cfg ocispec.Descriptor, layers ...ocispec.Descriptor) {
		m := ocispec.Manifest{MediaType: oci.MediaTypeImageManifest, Config: cfg, Layers: layers}
		m.SchemaVersion = 2
		reg.PushManifest(t, "bad", tag, m)
	}
	good := blob(oci.MediaTypeWasm, hello)
	other := blob(oci.MediaTypeWasm, append(append([]byte(nil), hello...), 0, 1, 0))
	comp := blob(oci.MediaTypeWasm, []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0})
	manifest("two-layers", cfgFor(oci.OSWasip1, good, other), good, other)
	tar := blob("application/vnd.oci.image.layer.v1.tar+gzip", []byte("tar"))
	manifest("unknown-layer", cfgFor(oci.OSWasip1, tar), tar)
	manifest("component", cfgFor(oci.OSWasip1, comp), comp)
	compLayer := blob(oci.MediaTypeComponentLayer, []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0})
	manifest("component-layer", cfgFor(oci.OSWasip2, compLayer), compLayer)
	wrong := good
	wrong.Size--
	manifest("wrong-size", cfgFor(oci.OSWasip1, wrong), wrong)
	manifest("good", cfgFor(oci.OSWasip1, good), good)
	mdesc := reg.PushManifest(t, "bad", "good", func() ocispec.Manifest {
		m := ocispec.Manifest{MediaType: oci.MediaTypeImageManifest, Config: cfgFor(oci.OSWasip1, good), Layers: []ocispec.Descriptor{good}}
		m.SchemaVersion = 2
		return m
	}())
	idx := ocispec.Index{MediaType: oci.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{{MediaType: oci.MediaTypeImageManifest, Digest: mdesc, Size: 1, Platform: &ocispec.Platform{Architecture: "amd64", OS: "linux"}}}}
	idx.SchemaVersion = 2
	reg.PushManifest(t, "bad", "index", idx)

	// A registry that serves the hello module with one byte flipped.
	tampered := registrytest.Start(t, registrytest.Options{Wrap: registrytest.Tamper(good.Digest, func(b []byte) []byte {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 1
		return b
	})})
	var tamperedDigest string
	{
		r := keep(t, "", nil, "push", buildGuest(t, "hello"), "oci://"+tampered.Host+"/hello:v1")
		if r.code != 0 {
			t.Fatalf("push: %s", r.stderr)
		}
		tamperedDigest = strings.TrimSpace(r.stdout)
	}
	bigBody := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"annotations":{"x":"%s"}}`, oci.MediaTypeImageManifest, strings.Repeat("a", oci.MaxManifestSize))
	big := registrytest.Start(t, registrytest.Options{Wrap: registrytest.ServeManifest("big", oci.MediaTypeImageManifest, bigBody)})
	private := registrytest.Start(t, registrytest.Options{User: "ci", Password: "right"})
	if r := keep(t, "", nil, "push", "--registry-auth", "ci:right", buildGuest(t, "hello"), "oci://"+private.Host+"/hello:v1"); r.code != 0 {
		t.Fatalf("push with auth: %s", r.stderr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	at := func(host, rest string) string { return "oci://" + host + "/" + rest }
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"unreachable", []string{at(closed, "hello:v1")}, 125, []string{"registry unreachable", "connection refused"}},
		{"repository-not-found", []string{at(reg.Host, "nope:v1")}, 125, []string{"not found"}},
		{"tag-not-found", []string{at(reg.Host, "bad:nope")}, 125, []string{"not found"}},
		{"digest-mismatch", []string{at(tampered.Host, "hello@"+tamperedDigest)}, 125, []string{"digest mismatch"}},
		{"wrong-size", []string{at(reg.Host, "bad:wrong-size")}, 125, []string{"Content-Length"}},
		{"two-wasm-layers", []string{at(reg.Host, "bad:two-layers")}, 125, []string{"2 Wasm layers"}},
		{"unknown-layer-type", []string{at(reg.Host, "bad:unknown-layer")}, 125, []string{"unknown layer media type", "tar+gzip"}},
		{"component", []string{at(reg.Host, "bad:component")}, 125, []string{"Keep runs WASI preview1 core modules, this is a component"}},
		{"component-layer", []string{at(reg.Host, "bad:component-layer")}, 125, []string{"this is a component"}},
		{"index-without-wasip1", []string{at(reg.Host, "bad:index")}, 125, []string{"no wasm/wasip1 entry"}},
		{"over-size-limit", []string{"--max-module-size", "64KiB", at(reg.Host, "bad:good")}, 125, []string{"exceeds the 65536-byte limit"}},
		{"manifest-over-4MiB", []string{at(big.Host, "x:big")}, 125, []string{"4194304-byte limit"}},
		{"auth-refused", []string{"--registry-auth", "ci:wrong", at(private.Host, "hello:v1")}, 125, []string{"authentication refused"}},
		{"auth-missing", []string{at(private.Host, "hello:v1")}, 125, []string{"authentication refused"}},
		{"http-non-loopback", []string{"http://registry.invalid:5000/hello:v1"}, 125, []string{"not on loopback", "--insecure-registry registry.invalid:5000"}},
		{"malformed-reference", []string{"oci://" + reg.Host + "/Hello:v1"}, 125, []string{"oci://" + reg.Host + "/Hello:v1: "}},
		{"no-tag", []string{"oci://" + reg.Host + "/hello"}, 125, []string{"no tag or digest"}},
		{"require-digest", []string{"--require-digest", at(reg.Host, "bad:good")}, 125, []string{"digests are required"}},
		{"bad-registry-auth", []string{"--registry-auth", "nocolon", at(reg.Host, "bad:good")}, 2, []string{"--registry-auth: want USER:PASSWORD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--registry-cache", t.TempDir()}, tc.args...)
			r := keep(t, "", nil, args...)
			if r.code != tc.code || r.stdout != "" || !strings.HasPrefix(r.stderr, "keep: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("keep %q: exit %d (want %d)\nstdout %q\nstderr %q", args, r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
		})
	}
	// The same registries serve the good artifact: only the flaw differs.
	if r := keep(t, "", nil, "run", "--registry-cache", "none", at(reg.Host, "bad:good"), "Keep"); r.code != 0 || !strings.HasPrefix(r.stdout, greeting) {
		t.Fatalf("good artifact: exit %d\n%s", r.code, r.stderr)
	}
	if r := keep(t, "", nil, "run", "--registry-cache", "none", "--registry-auth", "ci:right", at(private.Host, "hello:v1"), "Keep"); r.code != 0 || !strings.HasPrefix(r.stdout, greeting) {
		t.Fatalf("right password: exit %d\n%s", r.code, r.stderr)
	}
	if r := keep(t, "", nil, "push", buildGuest(t, "hello"), "oci://"+reg.Host+"/hello@"+tamperedDigest); r.code != 125 || !strings.Contains(r.stderr, "push to a digest") {
		t.Fatalf("push to a digest: exit %d\n%s", r.code, r.stderr)
	}
}

// TestOCIAttestedTLS: a keep serving RA-TLS from a registry module has the
// same keep-module-hash as the file run locally, plus the OCI claims, and
// keep verify shows them.
func TestOCIAttestedTLS(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.Options{})
	guest := buildGuest(t, "http")
	r := keep(t, "", nil, "push", guest, "oci://"+reg.Host+"/web:v1")
	if r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	d := strings.TrimSpace(r.stdout)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", ""))

	fromFile := startKeep(t, 1, "--config", cfg, guest)
	fromReg := startKeep(t, 1, "--config", cfg, "--registry-cache", "none", "oci://"+reg.Host+"/web@"+d)
	report := func(k *runningKeep) map[string]any {
		r := keep(t, "", nil, "verify", "--allow-simulated", "--json", k.addrs["ingest"])
		var m map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil {
			t.Fatalf("keep verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return m
	}
	file, registry := report(fromFile), report(fromReg)
	want := digestOf(t, guest)
	if file["module_hash"] != want || registry["module_hash"] != want {
		t.Fatalf("module hashes: file %v, registry %v, want %s", file["module_hash"], registry["module_hash"], want)
	}
	if _, ok := file["oci_manifest_digest"]; ok {
		t.Fatalf("a keep run from a file has OCI claims: %v", file)
	}
	if registry["oci_manifest_digest"] != d || registry["oci_reference"] != reg.Host+"/web@"+d {
		t.Fatalf("OCI claims: %v %v; want %s", registry["oci_reference"], registry["oci_manifest_digest"], d)
	}
	r = keep(t, "", nil, "verify", "--allow-simulated", fromReg.addrs["ingest"])
	if r.code != 0 || !strings.Contains(r.stdout, "oci manifest:  "+d+"\n") || !strings.Contains(r.stdout, "module hash:   "+want+"\n") {
		t.Fatalf("keep verify text:\n%s", r.stdout)
	}
}

// orasVersion is the ORAS CLI the interop test builds from the Go module
// proxy (go install), cached in build/tools.
const orasVersion = "v1.3.6"

var orasOnce struct {
	sync.Once
	path string
	err  error
}

// orasCLI returns the ORAS CLI: $KEEP_ORAS, or build/tools/oras-VERSION,
// built once (about a minute, cold) and then reused.
func orasCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KEEP_ORAS"); p != "" {
		return p
	}
	orasOnce.Do(func() {
		dir := filepath.Join(repoRoot, "build", "tools")
		p := filepath.Join(dir, "oras-"+orasVersion)
		if _, err := os.Stat(p); err == nil {
			orasOnce.path = p
			return
		}
		tmp, err := os.MkdirTemp("", "keep-oras-")
		if err != nil {
			orasOnce.err = err
			return
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("go", "install", "oras.land/oras/cmd/oras@"+orasVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			orasOnce.err = fmt.Errorf("go install oras %s: %v\n%s", orasVersion, err, out)
			return
		}
		if err := os.MkdirAll(dir, 0o755); err == nil {
			err = os.Rename(filepath.Join(tmp, "oras"), p)
		}
		orasOnce.path, orasOnce.err = p, err
	})
	if orasOnce.err != nil {
		t.Fatal(orasOnce.err)
	}
	return orasOnce.path
}

// TestOCIORASInterop: artifacts pushed by the ORAS CLI run under keep run
// oci://: the CNCF layout (wasm config, application/wasm layer), and ORAS's
// default artifact (empty config, artifactType) with the older
// wasm-to-oci layer type.
func TestOCIORASInterop(t *testing.T) {
	t.Parallel()
	oras := orasCLI(t)
	reg := registrytest.Start(t, registrytest.Options{})
	dir := t.TempDir()
	hello := mustRead(t, buildGuest(t, "hello"))
	writeFile(t, dir, "hello.wasm", string(hello))
	cfg, _ := json.Marshal(oci.WasmConfig{Created: "2026-01-01T00:00:00Z", Architecture: oci.ArchWasm, OS: oci.OSWasip1, LayerDigests: []digest.Digest{digest.FromBytes(hello)}})
	writeFile(t, dir, "config.json", string(cfg))
	home := t.TempDir() // ORAS reads and writes its own config there

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cncf", []string{"--config", "config.json:" + oci.MediaTypeWasmConfig, "hello.wasm:" + oci.MediaTypeWasm}},
		{"artifact-type", []string{"--artifact-type", "application/vnd.example.keep+type", "hello.wasm:" + oci.MediaTypeWasmContentLayer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := reg.Host + "/" + tc.name + ":v1"
			cmd := exec.Command(oras, append([]string{"push", "--plain-http", "--format", "json", ref}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+home)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("oras push: %v\n%s", err, out)
			}
			var pushed struct{ Digest string }
			if err := json.Unmarshal(out, &pushed); err != nil || pushed.Digest == "" {
				t.Fatalf("oras push output %q: %v", out, err)
			}
			r := keep(t, "", nil, "run", "--registry-cache", "none", "oci://"+reg.Host+"/"+tc.name+"@"+pushed.Digest, "Keep")
			if r.code != 0 || !strings.HasPrefix(r.stdout, greeting) {
				t.Fatalf("keep run of the ORAS artifact: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
