package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Paths and identity inside the image.
const (
	// BinaryPath is where the keep binary is, and the image's entrypoint.
	BinaryPath = "/usr/local/bin/keep"
	// CABundlePath is the CA roots file; Go's crypto/x509 reads it first
	// on Linux.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID are the user the image runs as: not root, and not an
	// id that a node is likely to give to anything else (the "nonroot"
	// id of distroless images).
	UID = 65532
	// GID is UID's group.
	GID = 65532
	// User is the image config's User field.
	User = "65532:65532"
)

// Options say what to put in the image.
type Options struct {
	// Binary is the path of a static linux keep binary for Arch.
	Binary string
	// Arch is the GOARCH the binary was built for (amd64, arm64).
	Arch string
	// Version is recorded as the org.opencontainers.image.version label.
	Version string
	// Created is the time of every file and of the image config.
	Created time.Time
}

// CreatedTime returns the image time: SOURCE_DATE_EPOCH (seconds since the
// epoch, the reproducible-builds convention) when set, else the epoch.
func CreatedTime() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// BinaryOptions say how to build the keep binary.
type BinaryOptions struct {
	// Src is the root of keep's source tree (holding go.mod).
	Src string
	// Out is the file to write.
	Out string
	// Arch is the GOARCH to build for.
	Arch string
	// Version is set as runtime.version (what `keep version` prints).
	Version string
	// Go is the go command; "" means "go".
	Go string
}

// BuildFlags returns the go build arguments that make the binary
// reproducible: no file system paths (-trimpath), no VCS stamp (the
// version comes from ldflags), no build ID, no symbol table.
func BuildFlags(version, out string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X github.com/keepwasm/keep/runtime.version=" + version,
		"-o", out, "./cmd/keep"}
}

// BuildBinary builds a static linux keep binary with BuildFlags.
func BuildBinary(ctx context.Context, o BinaryOptions) error {
	if o.Version == "" || strings.ContainsAny(o.Version, " \t\n'\"") {
		return fmt.Errorf("version %q: want a non-empty word", o.Version)
	}
	gocmd := o.Go
	if gocmd == "" {
		gocmd = "go"
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, gocmd, BuildFlags(o.Version, out)...)
	cmd.Dir = o.Src
	// Everything that changes the code generated is pinned: no cgo (a
	// static binary that needs no libc in the image), the target, and the
	// architecture level (the defaults, so that an environment variable on
	// the build machine cannot change the digest).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// file is one entry of a layer.
type file struct {
	name string // absolute path in the image, no trailing slash
	mode int64  // permission bits
	dir  bool
	data []byte
}

// passwd and group name root (owner of every file) and the user the image
// runs as; neither has a login shell because the image has none.
const (
	passwd   = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group    = "root:x:0:\nnonroot:x:65532:\n"
	nsswitch = "hosts: files dns\n"
)

// CABundle returns the PEM CA roots put in the image: every root of the
// x509roots/fallback bundle that has no extra constraint. Roots with a
// constraint (a distrust-after date) are left out because a PEM file cannot
// carry the constraint, and trusting them without it would trust more than
// Mozilla does.
func CABundle() ([]byte, int) {
	var b bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
		n++
	}
	return b.Bytes(), n
}

// baseFiles is the first layer: users, name resolution, CA roots, and the
// writable-looking directories a process expects (the root file system is
// mounted read-only in the manifests; /tmp and the home directory get
// emptyDir volumes there).
func baseFiles() []file {
	ca, _ := CABundle()
	return []file{
		{name: "/etc", mode: 0o755, dir: true},
		{name: "/etc/group", mode: 0o644, data: []byte(group)},
		{name: "/etc/nsswitch.conf", mode: 0o644, data: []byte(nsswitch)},
		{name: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "/etc/ssl", mode: 0o755, dir: true},
		{name: "/etc/ssl/certs", mode: 0o755, dir: true},
		{name: CABundlePath, mode: 0o644, data: ca},
		{name: "/home", mode: 0o755, dir: true},
		{name: "/home/nonroot", mode: 0o700, dir: true},
		{name: "/tmp", mode: 0o1777, dir: true},
	}
}

// layer makes a reproducible layer: sorted entries, fixed owner and time.
// /home/nonroot is the only entry owned by the image's user.
func layer(files []file, created time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(f.name, "/"),
			Mode:    f.mode,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		if f.name == "/home/nonroot" {
			h.Uid, h.Gid = UID, GID
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Build assembles the image.
func Build(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s: not an ELF binary", o.Binary)
	}
	if o.Arch == "" {
		return nil, errors.New("no architecture given")
	}
	base, err := layer(baseFiles(), o.Created)
	if err != nil {
		return nil, err
	}
	dirs := []file{{name: "/usr", mode: 0o755, dir: true}, {name: "/usr/local", mode: 0o755, dir: true},
		{name: "/usr/local/bin", mode: 0o755, dir: true}}
	keep, err := layer(append(dirs, file{name: BinaryPath, mode: 0o755, data: bin}), o.Created)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "keep-image: users, CA roots (x509roots/fallback)", Comment: "base"}},
		mutate.Addendum{Layer: keep, History: v1.History{Created: created, CreatedBy: "keep-image: " + BinaryPath, Comment: "keep " + o.Version}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = o.Arch
	cf.OS = "linux"
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"version"},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=" + CABundlePath},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "keep",
			"org.opencontainers.image.version": o.Version,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// WriteLayout writes img as the only image of an OCI image layout at dir,
// with ref as its org.opencontainers.image.ref.name. An existing dir is
// replaced only if it is an OCI image layout (has an oci-layout file): a
// mistyped path must not delete someone's files.
func WriteLayout(dir string, img v1.Image, ref string) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: exists and is not a directory", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			ents, _ := os.ReadDir(dir)
			if len(ents) > 0 {
				return fmt.Errorf("%s: exists and is not an OCI image layout; not replacing it", dir)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// Push writes img to repo (REGISTRY/REPOSITORY, no tag or digest), tagged
// tag when tag is not empty, with the credentials of the default keychain
// (docker config). It returns the reference by digest.
func Push(ctx context.Context, img v1.Image, repo, tag string, opts ...remote.Option) (string, error) {
	r, err := name.NewRepository(repo, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("repository %q: %v", repo, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	var ref name.Reference = r.Digest(d.String())
	if tag != "" {
		ref = r.Tag(tag)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return "", err
	}
	return r.Digest(d.String()).String(), nil
}
