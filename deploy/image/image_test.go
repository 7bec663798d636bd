package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const testVersion = "v0.0.0-imagetest"

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// keepBinary builds keep once for the tests, the way keep-image does.
func keepBinary(t *testing.T, name string) string {
	t.Helper()
	binOnce.Do(func() { binDir, binErr = os.MkdirTemp("", "keep-image-test-") })
	if binErr != nil {
		t.Fatal(binErr)
	}
	out := filepath.Join(binDir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	err := BuildBinary(context.Background(), BinaryOptions{Src: "../..", Out: out, Arch: goruntime.GOARCH, Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func buildImage(t *testing.T, bin string, created time.Time) v1.Image {
	t.Helper()
	img, err := Build(Options{Binary: bin, Arch: goruntime.GOARCH, Version: testVersion, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var es []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{h, data})
	}
}

func TestImageContents(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	img := buildImage(t, keepBinary(t, "keep"), created)

	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest media type %q, %v", mt, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %q", m.Config.MediaType)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.HasPrefix(c.User, "0") || c.User == "root" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/keep" {
		t.Errorf("entrypoint %q", c.Entrypoint)
	}
	if cf.OS != "linux" || cf.Architecture != goruntime.GOARCH || !cf.Created.Time.Equal(created) {
		t.Errorf("os/arch/created %s/%s/%v", cf.OS, cf.Architecture, cf.Created)
	}
	if len(c.Volumes) != 0 || len(c.ExposedPorts) != 0 || c.Healthcheck != nil {
		t.Errorf("unexpected config %+v", c)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2 (base, keep)", len(layers))
	}
	want := [][]string{
		{"etc/", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "home/", "home/nonroot/", "tmp/"},
		{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/keep"},
	}
	var passwd, ca []byte
	for i, l := range layers {
		lmt, _ := l.MediaType()
		if lmt != types.OCILayer {
			t.Errorf("layer %d media type %q", i, lmt)
		}
		es := layerEntries(t, l)
		var names []string
		for _, e := range es {
			h := e.hdr
			names = append(names, h.Name)
			if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
				t.Errorf("%s: type %c: only files and directories (no links, no devices)", h.Name, h.Typeflag)
			}
			if h.Mode&0o6000 != 0 {
				t.Errorf("%s: setuid/setgid mode %o", h.Name, h.Mode)
			}
			if !h.ModTime.Equal(created) {
				t.Errorf("%s: time %v, want %v", h.Name, h.ModTime, created)
			}
			owner := 0
			if h.Name == "home/nonroot/" {
				owner = UID
			}
			if h.Uid != owner || h.Gid != owner {
				t.Errorf("%s: owner %d:%d, want %d", h.Name, h.Uid, h.Gid, owner)
			}
			switch filepath.Base(h.Name) {
			case "sh", "bash", "ash", "dash", "busybox":
				t.Errorf("%s: a shell in the image", h.Name)
			}
			switch h.Name {
			case "etc/passwd":
				passwd = e.data
			case "etc/ssl/certs/ca-certificates.crt":
				ca = e.data
			case "usr/local/bin/keep":
				if h.Mode != 0o755 {
					t.Errorf("keep mode %o", h.Mode)
				}
			}
		}
		if strings.Join(names, " ") != strings.Join(want[i], " ") {
			t.Errorf("layer %d holds\n%q\nwant\n%q", i, names, want[i])
		}
	}
	if !bytes.Contains(passwd, []byte(":65532:65532:")) || bytes.Contains(passwd, []byte("/bin/sh")) {
		t.Errorf("passwd %q", passwd)
	}
	_, n := CABundle()
	got := 0
	for rest := ca; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		got++
	}
	if got != n || got < 100 {
		t.Errorf("CA bundle holds %d roots, want %d (and at least 100)", got, n)
	}
}

// TestKeepInImageRuns extracts the binary from the image's flattened file
// system and runs `keep version` with it.
func TestKeepInImageRuns(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the image's binary is for linux")
	}
	img := buildImage(t, keepBinary(t, "keep"), time.Unix(0, 0))
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := filepath.Join(t.TempDir(), "keep")
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "usr/local/bin/keep" {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, data, 0o755); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no usr/local/bin/keep in the image")
	}
	cmd := exec.Command(out, "version")
	cmd.Env = []string{} // nothing from this machine
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keep version: %v: %s", err, b)
	}
	if !strings.HasPrefix(string(b), "keep "+testVersion+"\n") || !strings.Contains(string(b), "linux/"+goruntime.GOARCH) {
		t.Errorf("keep version printed %q", b)
	}
	// Static: no program interpreter (a dynamic binary would need a libc
	// that the image does not have).
	f, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(f[:4096], []byte("ld-linux")) {
		t.Error("keep in the image is dynamically linked")
	}
}

func TestReproducible(t *testing.T) {
	// Two binaries built separately, two images, two layouts.
	a := buildImage(t, keepBinary(t, "keep"), time.Unix(0, 0))
	b := buildImage(t, keepBinary(t, "keep-again"), time.Unix(0, 0))
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds: %s and %s", da, db)
	}
	dir := t.TempDir()
	for _, d := range []string{"one", "two"} {
		if err := WriteLayout(filepath.Join(dir, d), a, "keep:test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"index.json", "oci-layout", "blobs/sha256/" + da.Hex} {
		x, err1 := os.ReadFile(filepath.Join(dir, "one", f))
		y, err2 := os.ReadFile(filepath.Join(dir, "two", f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two layouts (%v, %v)", f, err1, err2)
		}
	}
	// The layout holds the image by that digest.
	p, err := layout.FromPath(filepath.Join(dir, "one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(da); err != nil {
		t.Errorf("layout lacks %s: %v", da, err)
	}
	// The time is part of the image: another time, another digest.
	c := buildImage(t, keepBinary(t, "keep"), time.Unix(1, 0))
	if dc, _ := c.Digest(); dc == da {
		t.Error("the image time does not change the digest")
	}
}

func TestCreatedTime(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"1700000000", 1700000000, true},
		{"-1", 0, false},
		{"yesterday", 0, false},
		{"1e9", 0, false},
	} {
		t.Setenv("SOURCE_DATE_EPOCH", tc.env)
		got, err := CreatedTime()
		if (err == nil) != tc.ok || (tc.ok && got.Unix() != tc.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %v, %v", tc.env, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("error %q does not name the variable", err)
		}
	}
}

func TestWriteLayoutReplacesOnlyLayouts(t *testing.T) {
	img := buildImage(t, keepBinary(t, "keep"), time.Unix(0, 0))
	dir := t.TempDir()
	other := filepath.Join(dir, "src")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "main.go"), []byte("package main"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(other, img, "keep:x"); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Fatalf("writing over a source directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "main.go")); err != nil {
		t.Fatalf("the directory was touched: %v", err)
	}
	if err := WriteLayout(filepath.Join(other, "main.go"), img, "keep:x"); err == nil {
		t.Fatal("writing over a file succeeded")
	}
	// A layout (or an empty directory) is replaced.
	out := filepath.Join(dir, "image")
	for i := 0; i < 2; i++ {
		if err := WriteLayout(out, img, "keep:x"); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("left temporary directories behind: %v", ents)
	}
}

func TestBuildRejects(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "keep")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho keep\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(Options{Binary: script, Arch: "amd64"}); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("a shell script as keep: %v", err)
	}
	if _, err := Build(Options{Binary: filepath.Join(dir, "missing"), Arch: "amd64"}); err == nil {
		t.Error("a missing binary: no error")
	}
	if err := BuildBinary(context.Background(), BinaryOptions{Src: "../..", Out: filepath.Join(dir, "k"), Arch: "amd64", Version: "v1 -X evil=1"}); err == nil {
		t.Error("a version with spaces reached the linker flags")
	}
}

// TestPush pushes to a registry (go-containerregistry's, in this process)
// and reads the image back by digest and by tag.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img := buildImage(t, keepBinary(t, "keep"), time.Unix(0, 0))
	want, _ := img.Digest()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/keepwasm/keep"
	ref, err := Push(context.Background(), img, repo, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ref != repo+"@"+want.String() {
		t.Errorf("pushed %s, want %s@%s", ref, repo, want)
	}
	for _, r := range []string{ref, repo + ":test"} {
		nr, err := name.ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(nr)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if d, _ := got.Digest(); d != want {
			t.Errorf("%s: digest %s, want %s", r, d, want)
		}
	}
	if _, err := Push(context.Background(), img, "not a repo!", ""); err == nil || !strings.Contains(err.Error(), "not a repo!") {
		t.Errorf("bad repository: %v", err)
	}
}
