package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/keepwasm/keep/deploy/image"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "keep")
	if err := image.BuildBinary(context.Background(), image.BinaryOptions{Src: "../../..", Out: bin, Arch: goruntime.GOARCH, Version: "v0.0.0-cli"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image")
	var digests []string
	for i := 0; i < 2; i++ {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-binary", bin, "-out", out, "-version", "v0.0.0-cli"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		d := strings.TrimSpace(stdout.String())
		if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
			t.Fatalf("stdout %q: want only the manifest digest", stdout.String())
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two runs printed %s and %s", digests[0], digests[1])
	}
	idx, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != digests[0] {
		t.Errorf("layout index %+v, want only %s", m.Manifests, digests[0])
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-tag", "v1", "-binary", bin}, 1, "keep-image: -tag \"v1\" needs -repo"},
		{[]string{"extra"}, 2, "keep-image: unexpected argument \"extra\""},
		{[]string{"-nosuch"}, 2, "flag provided but not defined: -nosuch"},
		{[]string{"-binary", filepath.Join(dir, "missing"), "-out", filepath.Join(dir, "x")}, 1, "keep-image: open "},
		{[]string{"-binary", bin, "-out", dir}, 1, "not an OCI image layout"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit %d and %q", tc.args, code, stderr.String(), stdout.String(), tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Errorf("the binary dir was replaced: %v", err)
	}
}
